"""Latency lookup tables of OFA supernets: key formats, the table file, prediction and calibration.

Two key formats (granularities) exist:

- `block` (default): one entry per piece the TFLite interpreter runs back to back in a whole subnet: the `stem`
  (first conv + the fixed first block), every elastic `mbconv` block with its SE and residual, keyed by input
  size, channels, kernel, expand ratio, stride, activation, SE and skip, and the `head` (final expand, pool,
  feature mix, classifier). A subnet sums 2 + (active blocks) entries.
- `layer`: the reference's `MBv3LatencyTable` keys (`Conv-input:224x224x3-output:112x112x16`,
  `expanded_conv-input:...-hs:0`, `Conv_1-...`, `AvgPool2D-...`, `Conv_2-...`, `Logits-...`), 6 fixed entries
  plus the active blocks; reference tables (`once-for-all` `ofa/nas/efficiency_predictor/latency_lookup_table.py`)
  load and predict as they are.

An entry is `{mean, count, var}` in ms (the reference's fields), optionally with `median` and `min`. Each entry is
timed as a model of its own and so carries the per-invoke cost a whole model pays once: the table's `OVERHEAD_KEY`
entry (a near-empty model) is subtracted for every entry but one. A table may carry a `calibration` (header) fitted
on a few measured whole subnets (`Calibration.fit`), which the predictor applies by default.

Files are YAML (`.yaml`/`.yml`) or JSON: `{"header": {...}, "table": {key: entry}}`, or a bare reference table.
A table covers the resolutions it was measured at (`LatencyTable.resolutions`); given several tables, the predictor
uses for a subnet at r the table measured at r, as the reference tutorial's `LatencyTable` does with its
`<r>_lookup_table.yaml` files (`ofa/tutorial/latency_table.py`): one key may be measured in several files with
different means, and merging them would keep only one.
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
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.efficiency import Configs
from ofa_tf.efficiency import EfficiencyModel
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.shape import StageShape
from ofa_tf.families.mbconv.config import SubnetConfig

TABLE_FORMAT = "ofa_tf.latency_table/1"
GRANULARITIES = ("block", "layer")
OVERHEAD_KEY = "Overhead-input:1x1x1-output:1x1x1"
"""Entry of a near-empty model (one ReLU on one value): the per-invoke cost every timed entry includes."""
PARTIAL = "partial"
"""Header `status` of a table `android-bench lut` is still measuring (entries kept for a rerun; not yet checked and
calibrated): readers refuse it."""
STATISTICS = ("mean", "median", "min")
CALIBRATION_METHODS = ("scale", "linear")
_STEM_IN_CHANNELS = 3
_INPUT = re.compile(r"-input:(\d+)x(\d+)x(\d+)-")
_STEM = re.compile(r"^(?:Conv|stem)-input:(\d+)x\1x3-")  # the first conv's key: its input is the image


def network_shape(supernet) -> NetworkShape:
    """The `NetworkShape` of a supernet (any width, stem/stage strides and number of classes)."""
    return supernet.network_shape


# === Key formats ===


def _hwc(*dims: int) -> str:
    return "x".join(str(int(v)) for v in dims)


@dataclasses.dataclass(frozen=True)
class _Block:
    """One elastic block position with a kernel and expand ratio: everything its key is made of."""

    f_in: int
    f_out: int
    in_ch: int
    out_ch: int
    mid: int
    kernel: int
    expand: float
    stride: int
    use_se: bool
    use_hswish: bool

    @property
    def skip(self) -> bool:
        return self.stride == 1 and self.in_ch == self.out_ch

    def key(self, granularity: str) -> str:
        io = f"-input:{_hwc(self.f_in, self.f_in, self.in_ch)}-output:{_hwc(self.f_out, self.f_out, self.out_ch)}"
        if granularity == "layer":
            return (f"expanded_conv{io}-expand:{self.mid}-kernel:{self.kernel}-stride:{self.stride}"
                    f"-idskip:{int(self.skip)}-se:{int(self.use_se)}-hs:{int(self.use_hswish)}")
        return (f"mbconv{io}-kernel:{self.kernel}-expand:{self.expand:g}-stride:{self.stride}"
                f"-act:{'hswish' if self.use_hswish else 'relu'}-se:{int(self.use_se)}-skip:{int(self.skip)}")


def _check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {granularity!r}: expected one of {', '.join(GRANULARITIES)}.")
    return granularity


def _fixed_keys(shape: NetworkShape, r: int, granularity: str) -> tuple[list[str], list[str]]:
    """Keys every subnet at resolution `r` sums: (before the elastic blocks, after them)."""
    if shape.final_expand_width is None:
        raise ValueError("Latency table keys follow the reference's MBv3LatencyTable: OFA-MobileNetV3 shapes only "
                         "(this shape has no final expand layer, as ProxylessNAS).")
    f0 = int(shape.stem_size(r))
    f_last = f0
    for stage in shape.stages:
        f_last = -(-f_last // stage.stride)
    stem, first = shape.stem_width, shape.first_block_width
    last, fe, fm = shape.stages[-1].width, shape.final_expand_width, shape.feature_mix_width
    if granularity == "block":
        return (
            [f"stem-input:{_hwc(r, r, _STEM_IN_CHANNELS)}-output:{_hwc(f0, f0, first)}-conv:{stem}"
             f"-kernel:{shape.first_block_kernel}"],
            [f"head-input:{_hwc(f_last, f_last, last)}-output:{shape.n_classes}-expand:{fe}-mix:{fm}"],
        )
    first_block = _Block(f0, f0, stem, first, stem, shape.first_block_kernel, 1, 1, False, False)
    return (
        [f"Conv-input:{_hwc(r, r, _STEM_IN_CHANNELS)}-output:{_hwc(f0, f0, stem)}", first_block.key("layer")],
        [
            f"Conv_1-input:{_hwc(f_last, f_last, last)}-output:{_hwc(f_last, f_last, fe)}",
            f"AvgPool2D-input:{_hwc(f_last, f_last, fe)}-output:{_hwc(1, 1, fe)}",
            f"Conv_2-input:{_hwc(1, 1, fe)}-output:{_hwc(1, 1, fm)}",
            f"Logits-input:{_hwc(1, 1, fm)}-output:{shape.n_classes}",
        ],
    )


def _positions(shape: NetworkShape, stage_depths: Sequence[int], r: int):
    """Yields (column, f_in, f_out, in_ch, stage, first in its stage) for every elastic block position at `r`."""
    inputs = shape.stage_inputs()
    f = int(shape.stem_size(r))
    col = 0
    for s, (stage, depth) in enumerate(zip(shape.stages, stage_depths)):
        f_out = -(-f // stage.stride)
        for j in range(depth):
            yield col, (f if j == 0 else f_out), f_out, (inputs[s] if j == 0 else stage.width), stage, j == 0
            col += 1
        f = f_out


def _block_at(shape: NetworkShape, f_in, f_out, in_ch, stage: StageShape, kernel, expand, first: bool) -> _Block:
    return _Block(int(f_in), int(f_out), int(in_ch), stage.width, int(shape.mid_channels(in_ch, expand)),
                  int(kernel), float(expand), stage.stride if first else 1, stage.use_se, stage.use_hswish)


def _check_stages(shape: NetworkShape, batch: ConfigBatch) -> None:
    if batch.n_stages != shape.n_stages:
        raise ValueError(f"Configs have {batch.n_stages} stages but the network shape has {shape.n_stages}.")
    batch.require_resolution()


def latency_table_keys(shape: NetworkShape, config: SubnetConfig, granularity: str = "layer") -> list[str]:
    """The table keys whose entries sum to the latency of `config`, in network order."""
    _check_granularity(granularity)
    batch = ConfigBatch.coerce(config)
    _check_stages(shape, batch)
    active = batch.active_mask()[0]
    r = int(batch.r[0])
    keys = []
    for col, f_in, f_out, in_ch, stage, first in _positions(shape, batch.stage_depths, r):
        if active[col]:
            block = _block_at(shape, f_in, f_out, in_ch, stage, batch.ks[0, col], batch.e[0, col], first)
            keys.append(block.key(granularity))
    before, after = _fixed_keys(shape, r, granularity)
    return before + keys + after


def detect_granularity(keys: Iterable[str]) -> str:
    """`block` if any key is a block-format key (`stem-`, `mbconv-`, `head-`), else `layer`."""
    return "block" if any(k.split("-", 1)[0] in ("stem", "mbconv", "head") for k in keys) else "layer"


# === Entries to measure ===


@dataclasses.dataclass(frozen=True)
class TableLayer:
    """One distinct piece to time: its table key and how to build it (see `ofa_tf.families.mobilenet_v3.materialize.materialize_part`).

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

        from ofa_tf.families.mobilenet_v3.materialize import materialize_part

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


def table_layers(supernet, resolutions: Iterable[int] | None = None, overhead: bool = True,
                 granularity: str = "layer") -> list[TableLayer]:
    """Every distinct table entry of `supernet`'s search space at `resolutions`, in network order per resolution.

    Keys shared by several resolutions (e.g. the head, late blocks when feature sizes coincide) appear once.
    With `overhead`, `OVERHEAD_KEY` comes first.
    """
    _check_granularity(granularity)
    resolutions = check_resolutions(supernet, resolutions)
    shape = network_shape(supernet)
    space = supernet.search_space
    layers: dict[str, TableLayer] = {}
    if overhead:
        layers[OVERHEAD_KEY] = TableLayer(OVERHEAD_KEY, "overhead", (1, 1, 1))
    for r in resolutions:
        for k, e in itertools.product(space.ks_list, space.expand_list):
            config = SubnetConfig((k,) * space.n_blocks, (e,) * space.n_blocks, (space.max_depth,) * space.n_stages, r)
            first, *blocks = supernet.active_blocks(config)
            if granularity == "layer":
                before, after = [("first_conv", None), ("block", first)], ["final_expand", "pool", "feature_mix",
                                                                             "classifier"]
            else:
                before, after = [("stem", None)], ["head"]
            parts = before + [("block", b) for b in blocks] + [(p, None) for p in after]
            for key, (part, block) in zip(latency_table_keys(shape, config, granularity), parts, strict=True):
                if key not in layers:
                    layers[key] = TableLayer(key, part, _input_shape(key), *(block or ()))
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


# === Table files ===


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
        return tuple(sorted({int(m.group(1)) for key in self.entries if (m := _STEM.match(key))}))

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
        return cls(header, _entries(entries), str(path))

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


def _entries(table: Mapping) -> dict[str, dict]:
    return {str(k): (dict(v) if isinstance(v, Mapping) else {"mean": float(v)}) for k, v in table.items()}


# === Prediction ===


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
            fixed = sum(self._query(table, k) for k in itertools.chain(*_fixed_keys(self.shape, r, self.granularity)))
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
        _check_stages(self.shape, batch)
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
                positions[r] = list(_positions(self.shape, self._depths, r))
            _, f_in, f_out, in_ch, stage, first = positions[r][col]
            key = _block_at(self.shape, f_in, f_out, in_ch, stage, ks, e, first).key(self.granularity)
            self._blocks[slot, col, ks, e] = self._query(self._tables[slot], key)
            self._known[slot, col, ks, e] = True


def _stem_resolutions(keys: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({int(m.group(1)) for key in keys if (m := _STEM.match(key))}))


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
        self.table = LatencyTable({}, _entries(table)).values(statistic)
        self.granularity = _check_granularity(granularity or detect_granularity(self.table))
        self.resolutions = _stem_resolutions(self.table)
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
            tables = (table if isinstance(table, LatencyTable) else LatencyTable({}, _entries(table)),)
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
            by_resolution, owner = {}, {}
            for i, (t, (part, _)) in enumerate(zip(tables, parts)):
                if not t.resolutions:
                    raise ValueError(f"Latency table {_name(t, i)} does not say which resolution it was measured at "
                                     "(no header 'resolutions', no stem entry): with several tables each is used at "
                                     "its own resolutions.")
                for r in t.resolutions:
                    if r in by_resolution:
                        raise ValueError(f"Latency tables {owner[r]} and {_name(t, i)} both cover r={r}: a subnet at r "
                                         "uses the one table measured at r; pass one table per resolution.")
                    by_resolution[r], owner[r] = part, _name(t, i)
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
        granularity = _check_granularity(table.header.get("granularity") or detect_granularity(values))
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
