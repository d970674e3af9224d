"""The latency table file: a header and `key -> {mean, count, var[, median][, min]}` entries (ms).

Files are YAML (`.yaml`/`.yml`) or JSON: `{"header": {...}, "table": {key: entry}}`, or a bare reference table
(`key -> {mean, ...}`, as the reference's `<r>_lookup_table.yaml`).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from ofa_tf.files import read_yaml_or_json
from ofa_tf.files import write_yaml_or_json
from ofa_tf.latency.keys import stem_resolutions

TABLE_FORMAT = "ofa_tf.latency_table/1"
PARTIAL = "partial"
"""Header `status` of a table `android-bench lut` is still measuring (entries kept for a rerun; not yet checked and
calibrated): readers refuse it."""
STATISTICS = ("mean", "median", "min")


def entry_from_timings(mean_ms: float, count: int, std_ms: float | None = None,
                       median_ms: float | None = None, min_ms: float | None = None) -> dict:
    """A table entry `{mean, count, var[, median][, min]}` (ms, ms²), checked to be finite and non-negative."""
    values = {"mean": mean_ms, "std": std_ms if std_ms is not None else 0.0, "median": median_ms, "min": min_ms}
    values = {name: value for name, value in values.items() if value is not None}
    for name, value in values.items():
        if not math.isfinite(float(value)) or float(value) < 0:
            raise ValueError(f"Invalid latency {name}={value}: expected a finite value >= 0 ms.")
    if int(count) < 1:
        raise ValueError(f"Invalid count={count}: expected at least one measurement.")
    entry = {"mean": float(mean_ms), "count": int(count), "var": float(values["std"]) ** 2}
    for name in ("median", "min"):
        if name in values:
            entry[name] = float(values[name])
    return entry



@dataclasses.dataclass
class LatencyTable:
    """A lookup table: `header` (device, tool, flags, net, resolutions, statistic, calibration, dates) and
    `entries` key -> entry."""

    header: dict = dataclasses.field(default_factory=dict)
    entries: dict[str, dict] = dataclasses.field(default_factory=dict)
    source: str | None = dataclasses.field(default=None, compare=False)
    """Where the table was read from (how errors name it)."""

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The image sizes the table was measured at: its header's `resolutions`, else the input sizes of its stem
        entries (`Conv-input:RxRx3-...` or `stem-input:RxRx3-...`; a reference `<r>_lookup_table.yaml` holds one)."""
        if self.header.get("resolutions"):
            return tuple(sorted({int(r) for r in self.header["resolutions"]}))
        return stem_resolutions(self.entries)

    @classmethod
    def load(cls, path: str | Path, partial: bool = False) -> LatencyTable:
        """Reads a table written by `save`, or a bare reference table (`key -> {mean, ...}`; empty header).

        A build in progress (header `status: partial`) is refused unless `partial` (its builder resuming)."""
        path = Path(path)
        data = read_yaml_or_json(path, "latency table")
        if not isinstance(data, Mapping):
            raise ValueError(f"Latency table {path} must hold a mapping; found {type(data).__name__}.")
        if "table" in data and "header" in data:
            header, entries = dict(data["header"] or {}), dict(data["table"] or {})
        else:
            header, entries = {}, dict(data)
        if header.get("status") == PARTIAL and not partial:
            raise ValueError(f"{path} is an unfinished `android-bench lut` build (its entries are kept for a rerun; "
                             "not yet checked and calibrated): rerun the same command to finish the table.")
        for key, entry in entries.items():
            fields = dict(entry) if isinstance(entry, Mapping) else {"mean": entry}
            if not isinstance(fields.get("mean"), (int, float)) or isinstance(fields["mean"], bool):
                raise ValueError(f"Latency table {path}: entry {key!r} has no numeric 'mean' (found {entry!r}).")
            for name in (*STATISTICS, "var", "std"):
                value = fields.get(name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                          or not math.isfinite(value) or value < 0):
                    raise ValueError(f"Latency table {path}: entry {key!r} has {name}={value!r}; latencies must be "
                                     "finite numbers >= 0 ms: measure the table again (android-bench lut).")
        return cls(header, as_entries(entries), str(path))

    @classmethod
    def merge(cls, paths: str | Path | Sequence[str | Path]) -> LatencyTable:
        """The entries of one or more table files; the first file's header. A key that two files hold with
        different means is refused, naming both: per-resolution tables (the reference's) measure shared blocks
        separately, so load those with `LatencyPredictor.from_files`, which keeps each table for its resolution."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        merged, origin = cls(), {}
        for path in paths:
            table = cls.load(path)
            merged.header = merged.header or table.header
            for key, entry in table.entries.items():
                if key in merged.entries and merged.entries[key].get("mean") != entry.get("mean"):
                    raise ValueError(
                        f"Latency tables {origin[key]} and {path} both hold {key!r}, with means "
                        f"{merged.entries[key].get('mean')} and {entry.get('mean')} ms: tables measured at different "
                        "resolutions stay separate (`LatencyPredictor.from_files` uses each at its own resolution)."
                    )
                merged.entries[key] = entry
                origin.setdefault(key, path)
        merged.source = ", ".join(str(p) for p in paths)
        return merged

    def save(self, path: str | Path) -> None:
        """Writes YAML or JSON (by suffix) atomically: an interrupted write leaves the previous file."""
        write_yaml_or_json(path, {"header": self.header, "table": self.entries}, "latency table")

    def values(self, statistic: str = "mean") -> dict[str, float]:
        """key -> ms for `statistic` (one of `STATISTICS`); raises naming an entry without it."""
        if statistic not in STATISTICS:
            raise ValueError(f"Unknown statistic {statistic!r}: expected one of {', '.join(STATISTICS)}.")
        out = {}
        for key, entry in self.entries.items():
            if statistic not in entry:
                raise KeyError(f"Latency table entry {key!r} has no {statistic!r}; use statistic='mean'.")
            out[key] = float(entry[statistic])
        return out


def as_entries(table: Mapping) -> dict[str, dict]:
    return {str(k): (dict(v) if isinstance(v, Mapping) else {"mean": float(v)}) for k, v in table.items()}


