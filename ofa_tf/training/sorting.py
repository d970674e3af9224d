"""Channel sorting at the start of a training phase (the reference's `re_organize_middle_weights`): each supernet
sorts its own blocks (`supernet.sort_channels`; OFA-ResNets also `sort_widths`), with the orders of
`ofa_tf.layers.channel_order`."""
from __future__ import annotations

import numpy as np

from ofa_tf.layers.channel_order import middle_channel_order as middle_channel_order
from ofa_tf.layers.channel_order import reorganize_bottleneck as reorganize_bottleneck
from ofa_tf.layers.channel_order import reorganize_channels as reorganize_channels


def sort_channels(supernet, expand_ratio_stage: int = 0) -> None:
    """Sorts the middle channels of every elastic block of `supernet` (MBConv blocks without expansion, like
    OFA-MobileNetV3's fixed blocks[0], are never sorted; OFA-ResNet bottlenecks all are)."""
    supernet.sort_channels(expand_ratio_stage)


def sort_widths(net, width_stage: int = 0) -> list[np.ndarray]:
    """Sorts an OFA-ResNet's stem and stage output channels (`OFAResNets.sort_widths`)."""
    return net.sort_widths(width_stage)
