"""Importance sorting of the bottleneck middle channels (`DynamicResNetBottleneckBlock.re_organize_middle_weights`)."""
from __future__ import annotations

import numpy as np

from ofa_tf.layers.elastic_bottleneck import ElasticBottleneck
from ofa_tf.training.sorting import middle_channel_order


def _permute(variable, order, axis):
    variable.assign(np.take(variable.numpy(), order, axis=axis))


def _permute_bn(bn, order):
    for v in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance):
        _permute(v, order, axis=0)


def reorganize_bottleneck(block: ElasticBottleneck, expand_ratio_stage: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorts a bottleneck's two middle channel sets by importance, in place; returns both permutations.

    First conv2's outputs: importance = L1 norm of the conv3 weights reading each channel; the order is
    applied to conv3's inputs, bn2 and conv2's outputs. Then conv1's outputs: importance = L1 norm of the
    conv2 weights reading each channel, applied to conv2's inputs, bn1 and conv1's outputs. The group
    widths of `expand_ratio_stage` are the middle widths at the largest output width, as the reference.
    The block computes the same function at full width.
    """
    out = max(block.out_channels)
    widths = [block.middle_channels(out, e) for e in sorted(block.expand_ratios, reverse=True)]
    conv3 = block.conv3.kernel.numpy()  # [1, 1, mid, out]
    order2 = middle_channel_order(np.abs(conv3).sum(axis=(0, 1, 3)), widths, expand_ratio_stage)
    _permute(block.conv3.kernel, order2, axis=2)
    _permute_bn(block.bn2, order2)
    _permute(block.conv2.kernel, order2, axis=3)
    conv2 = block.conv2.kernel.numpy()  # [k, k, mid_in, mid_out]
    order1 = middle_channel_order(np.abs(conv2).sum(axis=(0, 1, 3)), widths, expand_ratio_stage)
    _permute(block.conv2.kernel, order1, axis=2)
    _permute_bn(block.bn1, order1)
    _permute(block.conv1.kernel, order1, axis=3)
    return order2, order1


def sort_resnet_channels(net, expand_ratio_stage: int = 0) -> None:
    """`reorganize_bottleneck` on every block of an `OFAResNets` (the reference's `re_organize_middle_weights`)."""
    for block in net.blocks:
        reorganize_bottleneck(block, expand_ratio_stage)
