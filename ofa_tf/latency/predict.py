"""Subnet latency predicted from latency tables: the plain sum (`LatencyTableModel`), the overhead-corrected and
calibrated sum (`LatencyPredictor`), and the `Calibration` fitted on measured whole subnets."""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.latency.keys import OVERHEAD_KEY
from ofa_tf.latency.keys import block_key_at
from ofa_tf.latency.keys import block_positions
from ofa_tf.latency.keys import check_granularity
from ofa_tf.latency.keys import check_stages
from ofa_tf.latency.keys import detect_granularity
from ofa_tf.latency.keys import fixed_keys
from ofa_tf.latency.keys import stem_resolutions
from ofa_tf.latency.table import LatencyTable
from ofa_tf.latency.table import as_entries
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.efficiency import Configs
from ofa_tf.efficiency import EfficiencyModel
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.config import SubnetConfig

CALIBRATION_METHODS = ("scale", "linear")


def network_shape(supernet) -> NetworkShape:
    """The `NetworkShape` of a supernet (any width, stem/stage strides and number of classes)."""
    return supernet.network_shape


@dataclasses.dataclass(frozen=True)
class _TableAt:
    """What predicts a subnet at one resolution: entry values, and the overhead and calibration applied to the sum."""

    values: Mapping[str, float]
    overhead_ms: float = 0.0
    scale: float = 1.0
    offset_ms: float = 0.0


class _Lookup:
    """Vectorized sums of table entries over a `ConfigBatch`, like the MACs model's arrays (`nas/efficiency.py`).

    Per resolution (a "slot"): the sum of the fixed entries and a dense array block position x kernel x expand ratio
    -> entry, filled from `table_at(r)` the first time a combination is asked for. A batch then costs one gather
    and one row sum, whatever its size; a missing key raises KeyError naming it when first needed.
    """

    def __init__(self, shape: NetworkShape, granularity: str, name: str, table_at):
        self.shape, self.granularity, self.name, self.table_at = shape, granularity, name, table_at
        self._slots: dict[int, int] = {}
        self._slot_of = np.zeros(0, dtype=np.int64)  # dense r -> slot (-1: none yet)
        self._tables: list[_TableAt] = []
        self._fixed = np.zeros(0)
        self._per_slot = np.zeros((0, 3))  # overhead, scale, offset
        self._depths: tuple[int, ...] | None = None
        self._blocks = np.zeros((0, 0, 1, 1))
        self._known = np.zeros((0, 0, 1, 1), dtype=bool)

    def _slot(self, r: int, depths: tuple[int, ...]) -> int:
        if depths != self._depths:  # the block layout of the configs (fixed for one shape)
            self._depths, self._slots, self._tables = depths, {}, []
            self._fixed, self._per_slot = np.zeros(0), np.zeros((0, 3))
            self._blocks = np.zeros((0, sum(depths), 8, 7))
            self._known = np.zeros(self._blocks.shape, dtype=bool)
        if r not in self._slots:
            table = self.table_at(r)
            fixed = sum(self._query(table, k) for k in itertools.chain(*fixed_keys(self.shape, r, self.granularity)))
            self._slots[r] = len(self._tables)
            self._tables.append(table)
            self._fixed = np.append(self._fixed, fixed)
            self._per_slot = np.vstack([self._per_slot, [table.overhead_ms, table.scale, table.offset_ms]])
            self._blocks = np.concatenate([self._blocks, np.zeros((1, *self._blocks.shape[1:]))])
            self._known = np.concatenate([self._known, np.zeros((1, *self._known.shape[1:]), dtype=bool)])
        return self._slots[r]

    def _query(self, table: _TableAt, key: str) -> float:
        if key not in table.values:
            raise KeyError(f"Latency table {self.name!r} has no entry for key {key!r}.")
        return table.values[key]

    def _grow(self, ks_max: int, e_max: int) -> None:
        k, e = max(self._blocks.shape[2], ks_max + 1), max(self._blocks.shape[3], e_max + 1)
        if (k, e) != self._blocks.shape[2:]:
            pad = ((0, 0), (0, 0), (0, k - self._blocks.shape[2]), (0, e - self._blocks.shape[3]))
            self._blocks, self._known = np.pad(self._blocks, pad), np.pad(self._known, pad)

    def slots(self, batch: ConfigBatch) -> np.ndarray:
        """(N,) slot of each config's resolution (created on first use)."""
        check_stages(self.shape, batch)
        depths = batch.stage_depths
        if depths == self._depths and len(batch) and 0 < batch.r.min() and batch.r.max() < len(self._slot_of):
            slots = self._slot_of[batch.r]
            if (slots >= 0).all():
                return slots
        values, inverse = np.unique(batch.r, return_inverse=True)
        slots = np.array([self._slot(int(r), depths) for r in values.tolist()], dtype=np.int64)
        self._slot_of = np.full(max(self._slots, default=0) + 1, -1, dtype=np.int64)
        self._slot_of[list(self._slots)] = list(self._slots.values())
        return slots[inverse.reshape(-1)]

    def per_slot(self, slots: np.ndarray) -> np.ndarray:
        """(N, 3): the overhead, scale and offset of each config's table."""
        return self._per_slot[slots]

    def sums(self, batch: ConfigBatch, slots: np.ndarray) -> np.ndarray:
        """(N,) sum of each config's entries."""
        if len(batch) and (batch.ks.min() < 0 or batch.e.min() < 0):
            raise ValueError(f"Invalid kernel sizes or expand ratios: ks {batch.ks.min()}, e {batch.e.min()}.")
        if len(batch):
            self._grow(int(batch.ks.max()), int(batch.e.max()))
        active = batch.active_mask()
        cols = np.arange(batch.ks.shape[1])[None, :]
        index = (slots[:, None], cols, batch.ks, batch.e)
        missing = active & ~self._known[index]
        if missing.any():
            self._fill(batch, slots, missing)
        return self._fixed[slots] + np.where(active, self._blocks[index], 0.0).sum(axis=1)

    def _fill(self, batch: ConfigBatch, slots: np.ndarray, missing: np.ndarray) -> None:
        rows, cols = np.nonzero(missing)
        combos = np.unique(np.stack([slots[rows], cols, batch.ks[rows, cols], batch.e[rows, cols]], axis=1), axis=0)
        resolution = {slot: r for r, slot in self._slots.items()}
        positions = {}
        for slot, col, ks, e in combos.tolist():
            r = resolution[slot]
            if r not in positions:
                positions[r] = list(block_positions(self.shape, self._depths, r))
            _, f_in, f_out, in_ch, stage, first = positions[r][col]
            key = block_key_at(self.shape, f_in, f_out, in_ch, stage, ks, e, first).key(self.granularity)
            self._blocks[slot, col, ks, e] = self._query(self._tables[slot], key)
            self._known[slot, col, ks, e] = True


class LatencyTableModel(EfficiencyModel):
    """Latency as the plain sum of table entries (the reference's `MBv3LatencyTable.predict_network_latency`).

    Args:
        table: `key -> {"mean": ms, ...}` (or `key -> ms`), of either granularity; one table (keys include the
            input shape, so one table may hold several resolutions). Several per-resolution files:
            `LatencyPredictor.from_files`.
        shape: block structure of the network the table was measured for.
        name: reported name, e.g. "note10_latency".
        statistic: which entry field to sum.
        granularity: key format; None detects it from the keys.
    """

    unit = "ms"

    def __init__(self, table: Mapping[str, Mapping | float], shape: NetworkShape, name: str = "latency",
                 statistic: str = "mean", granularity: str | None = None):
        self.shape = shape
        self.name = name
        self.table = LatencyTable({}, as_entries(table)).values(statistic)
        self.granularity = check_granularity(granularity or detect_granularity(self.table))
        self.resolutions = stem_resolutions(self.table)
        """The image sizes the table holds a stem entry for (what a search may draw)."""
        at = _TableAt(self.table)
        self._lookup = _Lookup(shape, self.granularity, name, lambda r: at)

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], shape: NetworkShape, name: str = "latency",
                   **kwargs) -> LatencyTableModel:
        """Merges YAML (`.yaml`/`.yml`) or JSON tables whose keys do not conflict (`LatencyTable.merge`)."""
        return cls(LatencyTable.merge(list(paths)).entries, shape, name, **kwargs)

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        return self._lookup.sums(batch, self._lookup.slots(batch))


@dataclasses.dataclass(frozen=True)
class Calibration:
    """`measured ≈ scale · table_ms + offset_ms`, fitted on a few measured whole subnets; never negative.

    `scale` (method "scale") is the median of measured / table ratios: each subnet adds one ratio, and the median
    of 5 ignores up to 2 disturbed measurements. `linear` also fits an offset (least squares, the offset kept
    >= 0 so that predictions stay non-negative); it needs 2 or more subnets of different latency and is more
    sensitive to one bad measurement.
    """

    method: str
    scale: float
    offset_ms: float = 0.0
    n_subnets: int = 0

    def __post_init__(self):
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(f"Unknown calibration method {self.method!r}: expected one of "
                             f"{', '.join(CALIBRATION_METHODS)}.")
        if not (math.isfinite(self.scale) and self.scale > 0 and math.isfinite(self.offset_ms)
                and self.offset_ms >= 0):
            raise ValueError(f"Invalid calibration scale={self.scale}, offset_ms={self.offset_ms}: expected "
                             "scale > 0 and offset_ms >= 0 (a calibrated latency is never negative).")

    @classmethod
    def fit(cls, table_ms: Sequence[float], measured_ms: Sequence[float], method: str = "scale") -> Calibration:
        """Fits `measured_ms` against the uncalibrated predictions `table_ms` of the same subnets."""
        x = np.asarray(table_ms, dtype=np.float64).reshape(-1)
        y = np.asarray(measured_ms, dtype=np.float64).reshape(-1)
        if x.shape != y.shape or not len(x):
            raise ValueError(f"Calibration needs as many measurements as predictions (>= 1); received {len(x)} "
                             f"predictions and {len(y)} measurements.")
        if not (np.all(np.isfinite(x)) and np.all(x > 0) and np.all(np.isfinite(y)) and np.all(y > 0)):
            raise ValueError(f"Calibration needs finite positive latencies; received predictions {x.tolist()} "
                             f"and measurements {y.tolist()}.")
        if method == "linear":
            if len(np.unique(x)) < 2:
                raise ValueError("A linear calibration needs subnets of at least two different predicted latencies.")
            scale, offset = np.polyfit(x, y, 1)
            if offset < 0 or scale <= 0:  # through the origin instead: the offset may not be negative
                scale, offset = float(x @ y / (x @ x)), 0.0
            return cls("linear", float(scale), float(offset), len(x))
        if method != "scale":
            raise ValueError(f"Unknown calibration method {method!r}: expected one of "
                             f"{', '.join(CALIBRATION_METHODS)}.")
        return cls("scale", float(np.median(y / x)), 0.0, len(x))

    def apply(self, table_ms: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(table_ms) + self.offset_ms

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibration:
        return cls(str(data["method"]), float(data["scale"]), float(data.get("offset_ms", 0.0)),
                   int(data.get("n_subnets", 0)))


class LatencyPredictor(EfficiencyModel):
    """Subnet latency (ms) from one table, or from one table per resolution: the entries' sum with the per-invoke
    overhead counted once, calibrated.

    `overhead + Σ max(entry − overhead, 0)` over the subnet's entries (each entry carries one invoke overhead, a
    whole model pays it once), then the table's `calibration` if any: never negative.

    Several tables (e.g. the reference's `<r>_lookup_table.yaml`, or `android-bench lut` tables of different
    resolutions) each cover their own `LatencyTable.resolutions`, and a subnet at r is predicted by the table
    measured at r, with that table's overhead and calibration (the reference tutorial's `LatencyTable`,
    `ofa/tutorial/latency_table.py`); two tables covering one resolution are refused.

    Args:
        table: a `LatencyTable`, a mapping `key -> {mean, ...}` / `key -> ms`, or a sequence of `LatencyTable`s.
        shape: the supernet's `NetworkShape` (see `network_shape`).
        statistic: which entry field to sum: 'mean' (the reference's), 'median' or 'min'; None takes the (first)
            table header's `statistic` (else 'mean').
        overhead_ms: per-invoke overhead to subtract; None takes each table's `OVERHEAD_KEY` entry (0 if absent).
        calibration: a `Calibration` for every table; None takes each table header's (if any); False applies none.
        name: reported name.
    """

    unit = "ms"

    def __init__(self, table: LatencyTable | Mapping | Sequence[LatencyTable], shape: NetworkShape,
                 statistic: str | None = None, overhead_ms: float | None = None,
                 calibration: Calibration | bool | None = None, name: str = "latency"):
        if isinstance(table, LatencyTable) or isinstance(table, Mapping):
            tables = (table if isinstance(table, LatencyTable) else LatencyTable({}, as_entries(table)),)
        else:
            tables = tuple(table)
            if not tables or not all(isinstance(t, LatencyTable) for t in tables):
                raise ValueError("`table` must be a LatencyTable, a mapping key -> entry, or a non-empty sequence of "
                                 f"LatencyTables; received {table!r:.80}.")
        if overhead_ms is not None and (not math.isfinite(overhead_ms) or overhead_ms < 0):
            raise ValueError(f"Invalid overhead_ms={overhead_ms}: expected a finite value >= 0.")
        self.tables = tables
        self.shape = shape
        self.name = name
        self.statistic = statistic or tables[0].header.get("statistic", "mean")
        parts = [self._part(t, overhead_ms, calibration) for t in tables]
        granularities = {g for _, g in parts}
        if len(granularities) > 1:
            raise ValueError(f"Latency tables {', '.join(_name(t, i) for i, t in enumerate(tables))} mix key formats "
                             f"{sorted(granularities)}: pass tables of one granularity.")
        self.granularity = granularities.pop()
        if len(tables) == 1:
            self.table = tables[0]
            self.resolutions = tables[0].resolutions
            (self._part_one, _), = parts
            self.overhead_ms = self._part_one.overhead_ms
            self.calibration = self._calibration(tables[0], calibration)

            def table_at(r):
                return self._part_one
        else:
            self.table = None
            self.overhead_ms = overhead_ms
            self.calibration = calibration or None
            by_resolution = _by_resolution(tables, [part for part, _ in parts])
            self.resolutions = tuple(sorted(by_resolution))

            def table_at(r):
                if r not in by_resolution:
                    raise ValueError(f"Latency model {name!r} has no table measured at r={r}: its tables cover "
                                     f"{', '.join(map(str, self.resolutions))}; search those resolutions only.")
                return by_resolution[r]
        self._lookup = _Lookup(shape, self.granularity, name, table_at)
        self._sum_lookup = None
        self._table_at = table_at

    def _part(self, table: LatencyTable, overhead_ms, calibration) -> tuple[_TableAt, str]:
        values = table.values(self.statistic)
        overhead = values.get(OVERHEAD_KEY, 0.0) if overhead_ms is None else float(overhead_ms)
        if not math.isfinite(overhead) or overhead < 0:
            raise ValueError(f"Invalid overhead_ms={overhead}: expected a finite value >= 0.")
        chosen = self._calibration(table, calibration)
        above = {k: max(v - overhead, 0.0) for k, v in values.items()}
        scale, offset = (chosen.scale, chosen.offset_ms) if chosen is not None else (1.0, 0.0)
        granularity = check_granularity(table.header.get("granularity") or detect_granularity(values))
        return _TableAt(above, overhead, scale, offset), granularity

    @staticmethod
    def _calibration(table: LatencyTable, calibration) -> Calibration | None:
        if calibration is None and table.header.get("calibration"):
            return Calibration.from_dict(table.header["calibration"])
        return calibration or None

    @classmethod
    def from_files(cls, paths: str | Path | Sequence[str | Path], shape: NetworkShape, **kwargs) -> LatencyPredictor:
        """One table file, or several (e.g. the reference's `<r>_lookup_table.yaml`), each used at its own
        resolutions."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        return cls([LatencyTable.load(path) for path in paths], shape, **kwargs)

    def predict_uncalibrated(self, configs: Configs) -> np.ndarray:
        """The overhead-corrected sum, before calibration."""
        batch = ConfigBatch.coerce(configs)
        slots = self._lookup.slots(batch)
        return self._lookup.per_slot(slots)[:, 0] + self._lookup.sums(batch, slots)

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        slots = self._lookup.slots(batch)
        overhead, scale, offset = self._lookup.per_slot(slots).T
        return scale * (overhead + self._lookup.sums(batch, slots)) + offset

    def predict_sum(self, configs: Configs) -> np.ndarray:
        """The plain sum of entries (no overhead correction, no calibration), as the reference computes it."""
        if self._sum_lookup is None:
            plain = {}

            def table_at(r):
                part = self._table_at(r)  # raises for a resolution no table covers
                if id(part) not in plain:
                    table = self.tables[0] if len(self.tables) == 1 else self._owner(r)
                    plain[id(part)] = _TableAt(table.values(self.statistic))
                return plain[id(part)]

            self._sum_lookup = _Lookup(self.shape, self.granularity, self.name, table_at)
        batch = ConfigBatch.coerce(configs)
        return self._sum_lookup.sums(batch, self._sum_lookup.slots(batch))

    def _owner(self, r: int) -> LatencyTable:
        return next(t for t in self.tables if r in t.resolutions)

    def calibrated(self, configs: Sequence[SubnetConfig], measured_ms: Sequence[float],
                   method: str = "scale") -> LatencyPredictor:
        """A copy calibrated on measured whole subnets (see `Calibration.fit`)."""
        calibration = Calibration.fit(self.predict_uncalibrated(list(configs)), measured_ms, method)
        return LatencyPredictor(self.tables, self.shape, self.statistic, self.overhead_ms, calibration, self.name)


def _name(table: LatencyTable, index: int) -> str:
    return table.source or f"#{index}"


def _by_resolution(tables: Sequence[LatencyTable], parts: Sequence[_TableAt]) -> dict[int, _TableAt]:
    """r -> the part of the one table measured at r; raises naming a table that does not say its resolutions, or
    two tables that cover one."""
    by_resolution, owner = {}, {}
    for i, (t, part) in enumerate(zip(tables, parts)):
        if not t.resolutions:
            raise ValueError(f"Latency table {_name(t, i)} does not say which resolution it was measured at "
                             "(no header 'resolutions', no stem entry): with several tables each is used at "
                             "its own resolutions.")
        for r in t.resolutions:
            if r in by_resolution:
                raise ValueError(f"Latency tables {owner[r]} and {_name(t, i)} both cover r={r}: a subnet at r "
                                 "uses the one table measured at r; pass one table per resolution.")
            by_resolution[r], owner[r] = part, _name(t, i)
    return by_resolution
