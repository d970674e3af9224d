"""Channel importance sorting before the expand phases (`re_organize_middle_weights` of the reference's
`DynamicMBConvLayer` and `DynamicResNetBottleneckBlock`, `ofa/imagenet_classification/elastic_nn/modules/
dynamic_layers.py`)."""
from __future__ import annotations

import numpy as np

from ofa_tf.layers.elastic_bottleneck import ElasticBottleneck
from ofa_tf.layers.elastic_mbconv import ElasticMBConv

# Group offset of the reference (`base = -len(target_width_list) * 1e5`): larger than any L1 importance.
GROUP_OFFSET = 1e5


def middle_channel_order(importance, group_widths=(), expand_ratio_stage: int = 0) -> np.ndarray:
    """Permutation sorting channels by descending `importance`, keeping earlier expand-ratio groups.

    Args:
        importance: one value per middle channel.
        group_widths: middle widths of the expand ratios in descending ratio order (largest first).
        expand_ratio_stage: 0 sorts globally; s > 0 keeps the first `group_widths[s]` channels in front
            (channels past each of `group_widths[1..s]` get a decreasing offset), so sorting happens
            only within the groups established by the earlier expand phases.
    """
    importance = np.asarray(importance, np.float64).copy()
    if expand_ratio_stage > 0:
        if expand_ratio_stage >= len(group_widths):
            raise ValueError(
                f"expand_ratio_stage={expand_ratio_stage} needs more than {expand_ratio_stage} group widths; "
                f"received group_widths={list(group_widths)}."
            )
        right = len(importance)
        base = -len(group_widths) * GROUP_OFFSET
        for i in range(expand_ratio_stage + 1):
            left = group_widths[i]
            importance[left:right] += base
            base += GROUP_OFFSET
            right = left
    return np.argsort(-importance, kind="stable")


def _permute(variable, order, axis):
    value = variable.numpy()
    variable.assign(np.take(value, order, axis=axis))


def _permute_bn(bn, order):
    for v in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance):
        _permute(v, order, axis=0)


def reorganize_channels(block: ElasticMBConv, expand_ratio_stage: int = 0) -> np.ndarray | None:
    """Sorts a block's middle channels (and SE hidden units) by importance, in place.

    Importance of middle channel c is the L1 norm of the project conv weights reading it. The order is
    applied to the expand conv outputs and BN, the depthwise kernel and BN, the SE reduce inputs and
    expand outputs, and the project conv inputs; the kernel-transform matrices are shared by all
    channels and stay. SE hidden units are then sorted by the L1 norm of their expand weights. The
    function computed at every expand ratio's largest prefix is unchanged at the full width.

    Returns the middle-channel permutation, or None for a block without expansion (never sorted).
    """
    if not block.has_expansion:
        return None
    project = block.project_conv.kernel.numpy()  # [1, 1, mid, out]
    importance = np.abs(project).sum(axis=(0, 1, 3))
    widths = [block.middle_channels(e) for e in sorted(block.expand_ratios, reverse=True)]
    order = middle_channel_order(importance, widths, expand_ratio_stage)

    _permute(block.project_conv.kernel, order, axis=2)
    for bn in (block.depthwise_bn, block.expand_bn):
        _permute_bn(bn, order)
    _permute(block.depthwise_conv.kernel, order, axis=2)
    _permute(block.expand_conv.kernel, order, axis=3)
    if block.use_se:
        se = block.se
        _permute(se.expand_kernel, order, axis=1)
        _permute(se.expand_bias, order, axis=0)
        _permute(se.reduce_kernel, order, axis=0)
        hidden_order = np.argsort(-np.abs(se.expand_kernel.numpy()).sum(axis=1), kind="stable")
        _permute(se.expand_kernel, hidden_order, axis=0)
        _permute(se.reduce_kernel, hidden_order, axis=1)
        _permute(se.reduce_bias, hidden_order, axis=0)
    return order


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


def _sort_width_group(permuted, readers, widths, width_stage):
    """Permutes one set of channels shared by `permuted` ((variable, axis) pairs) by descending importance: the L1
    norm of the `readers` weights ((variable, input axis) pairs) reading each channel."""
    importance = 0
    for variable, axis in readers:
        weights = np.abs(variable.numpy())
        importance = importance + weights.sum(axis=tuple(a for a in range(weights.ndim) if a != axis))
    order = middle_channel_order(importance, sorted(widths, reverse=True), width_stage)
    for variable, axis in permuted:
        _permute(variable, order, axis)
    return order


def sort_widths(net, width_stage: int = 0) -> list[np.ndarray]:
    """Sorts the width-elastic channels of an `OFAResNets` by importance before its width phases, in place.

    Our extension of `re_organize_middle_weights` (the reference shrinks ResNet widths but sorts only middle
    channels): each stem conv's outputs and each stage's output channels (shared by every block of the stage
    through the residual sums) are ordered by the L1 norm of the weights that read them, so `w` keeps the most
    important first channels. `width_stage` 1 keeps the group of the second-largest width in front, as
    `expand_ratio_stage` does. The full-width network computes the same function. Returns the permutations.
    """
    def bn(layer):
        return [(v, 0) for v in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)]

    orders = []
    readers = [(net.stem_conv1.kernel, 2), (net.stem_conv2.kernel, 2)]
    permuted = [(net.stem_conv0.kernel, 3), *bn(net.stem_bn0), (net.stem_conv1.kernel, 2), (net.stem_conv1.kernel, 3),
                *bn(net.stem_bn1), (net.stem_conv2.kernel, 2)]
    orders.append(_sort_width_group(permuted, readers, net.stem_mid_widths, width_stage))
    groups = [(net.stem_conv2, net.stem_bn2, net.stem_widths, [])]
    groups += [(None, None, net.stage_widths[s], [net.blocks[b] for b in blocks])
               for s, blocks in enumerate(net.block_group_info)]
    for i, (conv, norm, widths, blocks) in enumerate(groups):
        permuted = [] if conv is None else [(conv.kernel, 3), *bn(norm)]
        for block in blocks:
            permuted += [(block.conv3.kernel, 3), *bn(block.bn3)]
            if block.has_downsample:
                permuted += [(block.downsample_conv.kernel, 3), *bn(block.downsample_bn)]
        readers = [(block.conv1.kernel, 2) for block in blocks[1:]]
        if i + 1 < len(groups):
            first = groups[i + 1][3][0]
            readers += [(first.conv1.kernel, 2)]
            if first.has_downsample:
                readers += [(first.downsample_conv.kernel, 2)]
        else:
            readers += [(net.classifier.kernel, 0)]
        orders.append(_sort_width_group(permuted + readers, readers, widths, width_stage))
    return orders
