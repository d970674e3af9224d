"""Exact MACs and parameter counts of MBConv subnets from their `NetworkShape`, vectorised over configs."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ofa_tf.efficiency import EfficiencyModel
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.utils import float32_sum

Configs = ConfigBatch | Sequence[SubnetConfig] | SubnetConfig


_STEM_IN_CHANNELS = 3


_STEM_KERNEL = 3


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
