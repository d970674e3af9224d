"""Efficiency predictors: MACs, params, measured latency and latency fitted to MACs, vectorised over configs.

Latency lookup tables live in `ofa_tf.latency`.
"""
from __future__ import annotations

import abc
import math
from collections.abc import Callable
from collections.abc import Sequence

import numpy as np

from ofa_tf.nas.config_batch import ConfigBatch
from ofa_tf.nas.config_batch import config_key
from ofa_tf.network_shape import NetworkShape
from ofa_tf.subnet_config import SubnetConfig
from ofa_tf.utils import float32_sum

Configs = ConfigBatch | Sequence[SubnetConfig] | SubnetConfig

_STEM_IN_CHANNELS = 3
_STEM_KERNEL = 3


class EfficiencyModel(abc.ABC):
    """A cost of a subnet (lower is better), predicted for many configs at once.

    Subclasses set `name` and `unit` and implement `predict_batch`.

    Example:
    >>> class BlockCount(EfficiencyModel):
    ...     name, unit = "blocks", "blocks"
    ...     def predict_batch(self, batch):
    ...         return batch.d.sum(axis=1).astype(np.float64)
    """

    name: str
    unit: str

    def predict(self, configs: Configs) -> np.ndarray:
        """Float64 array (N,), one value per config."""
        return self.predict_batch(ConfigBatch.coerce(configs))

    @abc.abstractmethod
    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        """Float64 array (N,) for a `ConfigBatch`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, unit={self.unit!r})"


def _check_stages(shape: NetworkShape, batch: ConfigBatch) -> None:
    if batch.n_stages != shape.n_stages:
        raise ValueError(f"Configs have {batch.n_stages} stages but the network shape has {shape.n_stages}.")


def _block_columns(shape: NetworkShape, stage_depths: Sequence[int]) -> dict[str, np.ndarray]:
    """Per elastic block position: stage, position in stage, in/out channels, stride, SE flag."""
    inputs = shape.stage_inputs()
    rows = [
        (s, j, inputs[s] if j == 0 else st.width, st.width, st.stride if j == 0 else 1, st.use_se)
        for s, (st, depth) in enumerate(zip(shape.stages, stage_depths))
        for j in range(depth)
    ]
    names = ("stage", "position", "in_ch", "out_ch", "stride", "use_se")
    return {name: np.array(column, dtype=np.int64) for name, column in zip(names, zip(*rows))}


def _block_costs(shape: NetworkShape, batch: ConfigBatch, with_macs: bool) -> dict[str, np.ndarray]:
    """(N, n_blocks) matrices: mid and SE channels, feature sizes in/out (if `with_macs`), active mask."""
    cols = _block_columns(shape, batch.stage_depths)
    mid = shape.mid_channels(cols["in_ch"][None, :], batch.e)
    se = np.where(cols["use_se"][None, :] == 1, shape.se_channels(mid), 0)
    out = {"cols": cols, "mid": mid, "se": se, "active": batch.active_mask()}
    if with_macs:
        f = shape.stem_size(batch.r)
        before, after = [], []
        for stage in shape.stages:
            before.append(f)
            f = -(-f // stage.stride)
            after.append(f)
        before, after = np.stack(before, axis=1), np.stack(after, axis=1)
        out["f_out"] = after[:, cols["stage"]]
        out["f_in"] = np.where(cols["position"][None, :] == 0, before[:, cols["stage"]], out["f_out"])
        out["f_last"] = f
    return out


def count_macs(shape: NetworkShape, configs: Configs, float32_accumulation: bool = False) -> np.ndarray:
    """Multiply-accumulates per config of convs, SE 1x1 convs on the pooled map and the classifier.

    The default is the exact integer count (int64). With `float32_accumulation=True` the per-layer counts are summed
    in float32 in module order, as the reference's `ofa.utils.flops_counter.profile` does; this reproduces its
    published numbers bit for bit (e.g. 566,170,688 for the largest w1.0 subnet at 224, exact count 566,170,656).
    """
    batch = ConfigBatch.coerce(configs)
    _check_stages(shape, batch)
    batch.require_resolution()
    c = _block_costs(shape, batch, with_macs=True)
    cols, mid, active = c["cols"], c["mid"], c["active"]
    f0, f_last = shape.stem_size(batch.r), c["f_last"]
    stem, first = shape.stem_width, shape.first_block_width
    head = [
        _STEM_IN_CHANNELS * stem * _STEM_KERNEL**2 * f0**2,
        stem * shape.first_block_kernel**2 * f0**2,
        stem * first * f0**2,
    ]
    se_macs = mid * c["se"]
    blocks = [  # per block, in module order: expand, depthwise, SE reduce, SE expand, project
        cols["in_ch"] * mid * c["f_in"] ** 2,
        mid * batch.ks**2 * c["f_out"] ** 2,
        se_macs,
        se_macs,
        mid * cols["out_ch"] * c["f_out"] ** 2,
    ]
    blocks = [np.where(active, term, 0) for term in blocks]
    last, fe, fm = shape.stages[-1].width, shape.final_expand_width, shape.feature_mix_width
    if fe is None:  # ProxylessNAS: the feature mix runs before pooling
        tail = [last * fm * f_last**2, np.full(len(batch), fm * shape.n_classes)]
    else:
        tail = [last * fe * f_last**2, np.full(len(batch), fe * fm), np.full(len(batch), fm * shape.n_classes)]
    if not float32_accumulation:
        return (sum(head) + sum(term.sum(axis=1) for term in blocks) + sum(tail)).astype(np.int64)
    per_block = np.stack(blocks, axis=2).reshape(len(batch), -1)
    return float32_sum([np.broadcast_to(term, len(batch)) for term in head + list(per_block.T) + tail])


def count_params(shape: NetworkShape, configs: Configs) -> np.ndarray:
    """Exact parameters (int64, per config): conv kernels, SE biases, BN gamma/beta, classifier weight and bias."""
    batch = ConfigBatch.coerce(configs)
    _check_stages(shape, batch)
    c = _block_costs(shape, batch, with_macs=False)
    cols, mid, se = c["cols"], c["mid"], c["se"]
    stem, first = shape.stem_width, shape.first_block_width
    last, fe, fm = shape.stages[-1].width, shape.final_expand_width, shape.feature_mix_width
    fixed = _STEM_IN_CHANNELS * stem * _STEM_KERNEL**2 + 2 * stem
    fixed += stem * shape.first_block_kernel**2 + 2 * stem + stem * first + 2 * first
    fixed += last * fm + 2 * fm if fe is None else last * fe + 2 * fe + fe * fm  # feature mix with BN, or not
    fixed += fm * shape.n_classes + shape.n_classes
    block = (
        cols["in_ch"] * mid + 2 * mid  # expand conv + BN
        + mid * batch.ks**2 + 2 * mid  # depthwise conv + BN
        + 2 * mid * se + se + np.where(se > 0, mid, 0)  # SE reduce/expand kernels and biases
        + mid * cols["out_ch"] + 2 * cols["out_ch"]  # project conv + BN
    )
    return (fixed + np.where(c["active"], block, 0).sum(axis=1)).astype(np.int64)


class MacsModel(EfficiencyModel):
    """Analytic MACs of a subnet of `shape` (in millions unless `millions=False`)."""

    name = "macs"

    def __init__(self, shape: NetworkShape, millions: bool = True):
        self.shape = shape
        self.scale = 1e6 if millions else 1.0
        self.unit = "M" if millions else "MACs"

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        return count_macs(self.shape, batch) / self.scale


class ParamsModel(EfficiencyModel):
    """Exact parameter count of a subnet of `shape` (in millions unless `millions=False`)."""

    name = "params"

    def __init__(self, shape: NetworkShape, millions: bool = True):
        self.shape = shape
        self.scale = 1e6 if millions else 1.0
        self.unit = "M" if millions else "params"

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        return count_params(self.shape, batch) / self.scale


class MeasuredLatencyModel(EfficiencyModel):
    """Wraps a measurement `config -> ms` and caches it per distinct subnet (inactive blocks ignored).

    Args:
        measure_fn: returns the latency of one config (e.g. a timed forward pass on this host).
        name: reported name.
        unit: unit of `measure_fn`'s values.
    """

    def __init__(self, measure_fn: Callable[[SubnetConfig], float], name: str = "host_latency", unit: str = "ms"):
        self.measure_fn = measure_fn
        self.name = name
        self.unit = unit
        self.cache: dict[str, float] = {}

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        out = np.empty(len(batch), dtype=np.float64)
        for i, config in enumerate(batch.to_configs()):
            key = config_key(config)
            if key not in self.cache:
                value = float(self.measure_fn(config))
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"`measure_fn` returned {value} for {key}; expected a finite value >= 0.")
                self.cache[key] = value
            out[i] = self.cache[key]
        return out


class MacsLatencyModel(EfficiencyModel):
    """Latency as a line in MACs, `intercept_ms + ms_per_mmac * MACs(M)`, fitted to measurements.

    A fallback where no lookup table exists: it ranks subnets exactly as MACs do and maps them to milliseconds
    with a least-squares fit to a few measured subnets (see `fit`). The intercept is >= 0 and the slope > 0, so a
    prediction is never negative and grows with MACs.

    Args:
        shape: block structure of the network, or the exact MACs model (in millions) of another supernet family
            (e.g. `ResNetMacsModel`).
        intercept_ms: latency of a network with no MACs (fixed overhead), >= 0.
        ms_per_mmac: milliseconds per million MACs, > 0.
        name: reported name.
    """

    unit = "ms"

    def __init__(self, shape: NetworkShape | EfficiencyModel, intercept_ms: float, ms_per_mmac: float,
                 name: str = "latency"):
        if not (math.isfinite(intercept_ms) and math.isfinite(ms_per_mmac)) or ms_per_mmac <= 0 or intercept_ms < 0:
            raise ValueError(
                f"Invalid linear latency model: expected finite values, intercept_ms >= 0 and ms_per_mmac > 0; "
                f"received intercept_ms={intercept_ms}, ms_per_mmac={ms_per_mmac}."
            )
        self.shape = shape
        self.macs = shape if isinstance(shape, EfficiencyModel) else MacsModel(shape)
        if self.macs.unit != "M":
            raise ValueError(f"MacsLatencyModel needs MACs in millions; received a model in {self.macs.unit}.")
        self.intercept_ms = float(intercept_ms)
        self.ms_per_mmac = float(ms_per_mmac)
        self.name = name

    @classmethod
    def fit(
        cls, shape: NetworkShape | EfficiencyModel, configs, latencies_ms: Sequence[float], name: str = "latency"
    ) -> MacsLatencyModel:
        """Least-squares fit of `latencies_ms` against the configs' MACs with intercept >= 0 and slope > 0 (a
        negative intercept or slope from noise falls back to the line through the origin; needs two distinct MACs
        values)."""
        macs = (shape if isinstance(shape, EfficiencyModel) else MacsModel(shape)).predict(configs)
        latencies = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
        if latencies.shape != macs.shape:
            raise ValueError(f"Received {len(macs)} configs but {len(latencies)} latencies.")
        if np.any(~np.isfinite(latencies)) or np.any(latencies <= 0):
            raise ValueError(f"Latencies must be finite and positive; received {latencies.tolist()}.")
        if len(np.unique(macs)) < 2:
            raise ValueError("Fitting latency against MACs needs configs with at least two distinct MACs values.")
        slope, intercept = np.polyfit(macs, latencies, 1)
        if slope <= 0 or intercept < 0:  # constrained optimum on the boundary intercept = 0
            slope, intercept = float(macs @ latencies / (macs @ macs)), 0.0
        return cls(shape, float(intercept), float(slope), name)

    def predict(self, configs) -> np.ndarray:
        return self.intercept_ms + self.ms_per_mmac * self.macs.predict(configs)

    def predict_batch(self, batch) -> np.ndarray:
        return self.intercept_ms + self.ms_per_mmac * self.macs.predict_batch(batch)
