"""Exact MACs and params of OFA-ResNet subnets, vectorised over configs (the reference's counting rules)."""
from __future__ import annotations

import numpy as np

from ofa_tf.families.config import NO_RESOLUTION
from ofa_tf.efficiency import EfficiencyModel
from ofa_tf.families.resnet.config import ResNetBatch


def _ceil_div(a, b):
    return -(-a // b)


def count_resnet(net, configs) -> dict[str, np.ndarray]:
    """Exact `{"macs", "params"}` (int64, one per config) of OFA-ResNet subnets under the reference's counting
    rules (convs and the classifier; BN gamma/beta are parameters), from the supernet's geometry: equal to
    `ofa_tf.profile`'s `macs_exact` and `params` of the materialized subnet."""
    batch = ResNetBatch.coerce(configs)
    if np.any(batch.r == NO_RESOLUTION):
        raise ValueError("MACs need a resolution: every config needs `r`.")
    n = len(batch)
    macs = np.zeros(n, np.int64)
    params = np.zeros(n, np.int64)

    def conv(k, c_in, c_out, size, on=True):
        macs[:] += np.where(on, k * k * c_in * c_out * size * size, 0)
        params[:] += np.where(on, k * k * c_in * c_out + 2 * c_out, 0)

    mid = np.asarray(net.stem_mid_widths)[batch.w[:, 0]]
    stem = np.asarray(net.stem_widths)[batch.w[:, 1]]
    size = _ceil_div(batch.r, 2)
    conv(3, 3, mid, size)
    conv(3, mid, mid, size, batch.d[:, 0] >= net.search_space.max_depth)
    conv(3, mid, stem, size)
    size = _ceil_div(size, 2)  # max pool
    channels = stem
    expand = np.asarray(net.search_space.expand_list)
    for s, stage_blocks in enumerate(net.block_group_info):
        base = net.search_space.base_depths[s]
        for j, b in enumerate(stage_blocks):
            block = net.blocks[b]
            on = j < base + batch.d[:, s + 1]
            out = np.asarray(block.out_channels)[batch.w[:, s + 2]]
            e_index = np.argmax(batch.e[:, b, None] == expand[None, :], axis=1)
            middle = np.asarray(block.mid_table)[batch.w[:, s + 2], e_index]
            out_size = _ceil_div(size, block.strides)
            conv(1, channels, middle, size, on)
            conv(block.kernel_size, middle, middle, out_size, on)
            conv(1, middle, out, out_size, on)
            if block.has_downsample:
                conv(1, channels, out, out_size, on)
            channels = np.where(on, out, channels)
            size = np.where(on, out_size, size)
    macs += channels * net.n_classes
    params += channels * net.n_classes + net.n_classes
    return {"macs": macs, "params": params}


class _ResNetModel(EfficiencyModel):
    key: str

    def __init__(self, net, millions: bool = True):
        self.net = net
        self.scale = 1e6 if millions else 1.0
        self.unit = "M" if millions else self.unit

    def predict(self, configs) -> np.ndarray:
        return self.predict_batch(ResNetBatch.coerce(configs))

    def predict_batch(self, batch: ResNetBatch) -> np.ndarray:
        return count_resnet(self.net, batch)[self.key] / self.scale


class ResNetMacsModel(_ResNetModel):
    """Exact multiply-accumulates of an OFA-ResNet subnet (millions by default)."""

    name, unit, key = "macs", "MACs", "macs"


class ResNetParamsModel(_ResNetModel):
    """Exact parameters of an OFA-ResNet subnet (millions by default)."""

    name, unit, key = "params", "params", "params"
