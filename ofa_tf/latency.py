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
from ofa_tf.network_shape import NetworkShape
from ofa_tf.network_shape import StageShape
from ofa_tf.subnet_config import SubnetConfig

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
        return cls(header, _entries(entries))

    @classmethod
    def merge(cls, paths: str | Path | Sequence[str | Path]) -> LatencyTable:
        """The entries of one or more table files (e.g. one per resolution); the first file's header."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        merged = cls()
        for path in paths:
            table = cls.load(path)
            merged.header = merged.header or table.header
            merged.entries.update(table.entries)
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


class LatencyTableModel(EfficiencyModel):
    """Latency as the plain sum of table entries (the reference's `MBv3LatencyTable.predict_network_latency`).

    Args:
        table: `key -> {"mean": ms, ...}` (or `key -> ms`), of either granularity; tables for several
            resolutions can be merged into one dict (keys include the input shape).
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
        self._fixed: dict[int, float] = {}
        self._blocks: dict[tuple, float] = {}

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], shape: NetworkShape, name: str = "latency",
                   **kwargs) -> LatencyTableModel:
        """Merges YAML (`.yaml`/`.yml`) or JSON tables, e.g. the reference's per-resolution `<r>_lookup_table.yaml`."""
        return cls(LatencyTable.merge(list(paths)).entries, shape, name, **kwargs)

    def _query(self, key: str) -> float:
        if key not in self.table:
            raise KeyError(f"Latency table {self.name!r} has no entry for key {key!r}.")
        return self.table[key]

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        _check_stages(self.shape, batch)
        total = np.zeros(len(batch), dtype=np.float64)
        active = batch.active_mask()
        for r in np.unique(batch.r).tolist():
            at_r = batch.r == r
            if r not in self._fixed:
                self._fixed[r] = sum(self._query(k) for k in itertools.chain(*_fixed_keys(self.shape, r,
                                                                                           self.granularity)))
            total[at_r] += self._fixed[r]
            for col, f_in, f_out, in_ch, stage, first in _positions(self.shape, batch.stage_depths, r):
                rows = np.flatnonzero(at_r & active[:, col])
                if not rows.size:
                    continue
                codes = np.stack([batch.ks[rows, col], batch.e[rows, col]], axis=1)
                unique, inverse = np.unique(codes, axis=0, return_inverse=True)
                values = np.empty(len(unique))
                for u, (ks, e) in enumerate(unique.tolist()):
                    cache = (r, col, ks, e)
                    if cache not in self._blocks:
                        block = _block_at(self.shape, f_in, f_out, in_ch, stage, ks, e, first)
                        self._blocks[cache] = self._query(block.key(self.granularity))
                    values[u] = self._blocks[cache]
                total[rows] += values[inverse.reshape(-1)]
        return total


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
    """Subnet latency (ms) from a table: the entries' sum with the per-invoke overhead counted once, calibrated.

    `overhead + Σ max(entry − overhead, 0)` over the subnet's entries (each entry carries one invoke overhead, a
    whole model pays it once), then the table's `calibration` if any: never negative.

    Args:
        table: a `LatencyTable`, or a mapping `key -> {mean, ...}` / `key -> ms`.
        shape: the supernet's `NetworkShape` (see `network_shape`).
        statistic: which entry field to sum: 'mean' (the reference's), 'median' or 'min'; None takes the table
            header's `statistic` (else 'mean').
        overhead_ms: per-invoke overhead to subtract; None takes the table's `OVERHEAD_KEY` entry (0 if absent).
        calibration: a `Calibration`; None takes the table header's (if any); False applies none.
        name: reported name.
    """

    unit = "ms"

    def __init__(self, table: LatencyTable | Mapping, shape: NetworkShape, statistic: str | None = None,
                 overhead_ms: float | None = None, calibration: Calibration | bool | None = None,
                 name: str = "latency"):
        if not isinstance(table, LatencyTable):
            table = LatencyTable({}, _entries(table))
        self.table = table
        self.shape = shape
        self.statistic = statistic or table.header.get("statistic", "mean")
        self.name = name
        values = table.values(self.statistic)
        if overhead_ms is None:
            overhead_ms = values.get(OVERHEAD_KEY, 0.0)
        if not math.isfinite(overhead_ms) or overhead_ms < 0:
            raise ValueError(f"Invalid overhead_ms={overhead_ms}: expected a finite value >= 0.")
        self.overhead_ms = float(overhead_ms)
        if calibration is None and table.header.get("calibration"):
            calibration = Calibration.from_dict(table.header["calibration"])
        self.calibration = calibration or None
        granularity = table.header.get("granularity") or detect_granularity(values)
        self._sum = LatencyTableModel(values, shape, name, granularity=granularity)
        above = {k: max(v - self.overhead_ms, 0.0) for k, v in values.items()}
        self._above = LatencyTableModel(above, shape, name, granularity=granularity)

    @property
    def granularity(self) -> str:
        return self._sum.granularity

    @classmethod
    def from_files(cls, paths: str | Path | Sequence[str | Path], shape: NetworkShape, **kwargs) -> LatencyPredictor:
        """Merges the entries of one or more table files (e.g. one per resolution)."""
        return cls(LatencyTable.merge(paths), shape, **kwargs)

    def predict_uncalibrated(self, configs: Configs) -> np.ndarray:
        """The overhead-corrected sum, before calibration."""
        return self.overhead_ms + self._above.predict(configs)

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        total = self.overhead_ms + self._above.predict_batch(batch)
        return total if self.calibration is None else self.calibration.apply(total)

    def predict_sum(self, configs: Configs) -> np.ndarray:
        """The plain sum of entries (no overhead correction, no calibration), as the reference computes it."""
        return self._sum.predict(configs)

    def calibrated(self, configs: Sequence[SubnetConfig], measured_ms: Sequence[float],
                   method: str = "scale") -> LatencyPredictor:
        """A copy calibrated on measured whole subnets (see `Calibration.fit`)."""
        calibration = Calibration.fit(self.predict_uncalibrated(list(configs)), measured_ms, method)
        return LatencyPredictor(self.table, self.shape, self.statistic, self.overhead_ms, calibration, self.name)
