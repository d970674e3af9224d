"""Latency lookup tables of OFA supernets: the distinct layers to time, the table file, and the predictor.

A table maps OFA keys (`Conv-input:224x224x3-output:112x112x16`, `expanded_conv-input:...-hs:0`, `Conv_1-...`,
`AvgPool2D-...`, `Conv_2-...`, `Logits-...`) to `{mean, count, var}` in ms (the reference's format), optionally with
`median` and `min` (the least disturbed run: the robust choice on a loaded host). A subnet's latency is the sum over its first conv, blocks.0, active blocks, Conv_1, AvgPool2D, Conv_2 and
Logits. Every entry is timed as a model of its own, so each carries the tool's per-invoke overhead, which a whole
model pays once: the table's `OVERHEAD_KEY` entry (an almost empty model) is subtracted for all entries but one.

Files are YAML (`.yaml`/`.yml`) or JSON: `{"header": {...}, "table": {key: entry}}`, or a bare reference table.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.files import read_yaml_or_json
from ofa_tf.files import write_yaml_or_json
from ofa_tf.nas.config_batch import ConfigBatch
from ofa_tf.nas.efficiency import Configs
from ofa_tf.nas.efficiency import EfficiencyModel
from ofa_tf.nas.efficiency import LatencyTableModel
from ofa_tf.nas.efficiency import latency_table_keys
from ofa_tf.network_shape import NetworkShape
from ofa_tf.subnet_config import SubnetConfig

TABLE_FORMAT = "ofa_tf.latency_table/1"
OVERHEAD_KEY = "Overhead-input:1x1x1-output:1x1x1"
"""Entry of a near-empty model (one ReLU on one value): the per-invoke cost every timed entry includes."""
STATISTICS = ("mean", "median", "min")
FIXED_ENTRIES = 6
"""Entries every subnet has besides its elastic blocks: Conv, blocks.0, Conv_1, AvgPool2D, Conv_2, Logits."""
_INPUT = re.compile(r"-input:(\d+)x(\d+)x(\d+)-")


def network_shape(supernet) -> NetworkShape:
    """The `NetworkShape` of an `OFAMobileNetV3` (any width, stem/stage strides and number of classes)."""
    return supernet.network_shape


@dataclasses.dataclass(frozen=True)
class TableLayer:
    """One distinct piece to time: its table key and how to build it (see `ofa_tf.materialize.materialize_part`).

    `part` is `overhead` for `OVERHEAD_KEY`; `block`, `kernel_size`, `expand_ratio` only for `part="block"`.
    """

    key: str
    part: str
    input_shape: tuple[int, int, int]
    block: int | None = None
    kernel_size: int | None = None
    expand_ratio: int | None = None

    def build(self, supernet):
        """A batch-1 Keras model of exactly the stock layers `materialize` uses for this piece."""
        import keras

        from ofa_tf.materialize import materialize_part

        if self.part == "overhead":
            inputs = keras.Input(shape=self.input_shape, batch_size=1, name="input")
            return keras.Model(inputs, keras.layers.ReLU(name="relu")(inputs), name="overhead")
        return materialize_part(supernet, self.part, self.input_shape, block=self.block,
                                kernel_size=self.kernel_size, expand_ratio=self.expand_ratio,
                                name=self.key.split("-", 1)[0].lower())


def _input_shape(key: str) -> tuple[int, int, int]:
    match = _INPUT.search(key)
    return tuple(int(v) for v in match.groups())


def check_resolutions(supernet, resolutions: Iterable[int] | None) -> tuple[int, ...]:
    """`resolutions` (default: all of the search space), sorted; raises naming any outside the search space."""
    space = supernet.search_space.resolutions
    if resolutions is None:
        return tuple(sorted(space))
    values = tuple(resolutions)
    bad = [r for r in values if not isinstance(r, (int, np.integer)) or int(r) not in space]
    if bad or not values:
        raise ValueError(
            f"Invalid resolutions {bad or values}: expected a non-empty subset of the supernet's search space "
            f"{list(space)}."
        )
    return tuple(sorted({int(r) for r in values}))


def table_layers(supernet, resolutions: Iterable[int] | None = None, overhead: bool = True) -> list[TableLayer]:
    """Every distinct table entry of `supernet`'s search space at `resolutions`, in network order per resolution.

    Keys shared by several resolutions (e.g. `Conv_2`, `Logits`, late blocks when feature sizes coincide) appear
    once. With `overhead`, `OVERHEAD_KEY` comes first.
    """
    resolutions = check_resolutions(supernet, resolutions)
    shape = network_shape(supernet)
    space = supernet.search_space
    layers: dict[str, TableLayer] = {}
    if overhead:
        layers[OVERHEAD_KEY] = TableLayer(OVERHEAD_KEY, "overhead", (1, 1, 1))
    for r in resolutions:
        for k, e in itertools.product(space.ks_list, space.expand_list):
            config = SubnetConfig((k,) * space.n_blocks, (e,) * space.n_blocks, (space.max_depth,) * space.n_stages, r)
            keys = latency_table_keys(shape, config)
            blocks = supernet.active_blocks(config)
            parts = [("first_conv", None)] + [("block", b) for b in blocks] + [
                (p, None) for p in ("final_expand", "pool", "feature_mix", "classifier")
            ]
            for key, (part, block) in zip(keys, parts, strict=True):
                if key in layers:
                    continue
                if part == "block":
                    index, ks, ratio = block
                    layers[key] = TableLayer(key, part, _input_shape(key), index, ks, ratio)
                else:
                    layers[key] = TableLayer(key, part, _input_shape(key))
    return list(layers.values())


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
    """A lookup table: `header` (device, tool, flags, net, resolutions, dates) and `entries` key -> entry."""

    header: dict = dataclasses.field(default_factory=dict)
    entries: dict[str, dict] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        """Reads a table written by `save`, or a bare reference table (`key -> {mean, ...}`; empty header)."""
        path = Path(path)
        data = read_yaml_or_json(path, "latency table")
        if not isinstance(data, Mapping):
            raise ValueError(f"Latency table {path} must hold a mapping; found {type(data).__name__}.")
        if "table" in data and "header" in data:
            header, entries = dict(data["header"] or {}), dict(data["table"] or {})
        else:
            header, entries = {}, dict(data)
        for key, entry in entries.items():
            mean = entry.get("mean") if isinstance(entry, Mapping) else entry
            if not isinstance(mean, (int, float)) or not math.isfinite(mean):
                raise ValueError(f"Latency table {path}: entry {key!r} has no numeric 'mean' (found {entry!r}).")
        return cls(header, {str(k): (dict(v) if isinstance(v, Mapping) else {"mean": float(v)})
                            for k, v in entries.items()})

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


class LatencyPredictor(EfficiencyModel):
    """Subnet latency (ms) = sum of table entries over its layers − (entries − 1) × per-invoke overhead.

    Args:
        table: a `LatencyTable`, or a mapping `key -> {mean, ...}` / `key -> ms`.
        shape: the supernet's `NetworkShape` (see `network_shape`).
        statistic: which entry field to sum: 'mean' (the reference's), 'median' or 'min'.
        overhead_ms: per-invoke overhead to subtract; None takes the table's `OVERHEAD_KEY` entry (0 if absent).
        name: reported name.
    """

    unit = "ms"

    def __init__(self, table: LatencyTable | Mapping, shape: NetworkShape, statistic: str = "mean",
                 overhead_ms: float | None = None, name: str = "latency"):
        if not isinstance(table, LatencyTable):
            table = LatencyTable({}, {str(k): (dict(v) if isinstance(v, Mapping) else {"mean": float(v)})
                                      for k, v in table.items()})
        self.table = table
        self.shape = shape
        self.statistic = statistic
        self.name = name
        values = table.values(statistic)
        if overhead_ms is None:
            overhead_ms = values.get(OVERHEAD_KEY, 0.0)
        if not math.isfinite(overhead_ms) or overhead_ms < 0:
            raise ValueError(f"Invalid overhead_ms={overhead_ms}: expected a finite value >= 0.")
        self.overhead_ms = float(overhead_ms)
        self._sum = LatencyTableModel(values, shape, name)

    @classmethod
    def from_files(cls, paths: str | Path | Sequence[str | Path], shape: NetworkShape, **kwargs) -> LatencyPredictor:
        """Merges the entries of one or more table files (e.g. one per resolution)."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        merged = LatencyTable()
        for path in paths:
            table = LatencyTable.load(path)
            merged.header = merged.header or table.header
            merged.entries.update(table.entries)
        return cls(merged, shape, **kwargs)

    def entry_count(self, batch: ConfigBatch) -> np.ndarray:
        """Number of table entries each config sums (fixed layers plus active blocks)."""
        return FIXED_ENTRIES + batch.d.sum(axis=1)

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        total = self._sum.predict_batch(batch)
        return total - (self.entry_count(batch) - 1) * self.overhead_ms

    def predict_sum(self, configs: Configs) -> np.ndarray:
        """The plain sum of entries (no overhead correction), as the reference computes it."""
        return self._sum.predict(configs)
