"""The named OFA-MobileNetV3 supernets (the reference's `ofa/model_zoo.py` ids, plus small-image ones)."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from ofa_tf.families.mbconv.presets import MBConvPreset
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3


@dataclasses.dataclass(frozen=True)
class Preset(MBConvPreset):
    """A named `OFAMobileNetV3`."""

    supernet_type: ClassVar[type] = OFAMobileNetV3


_SMALL = dict(first_stride=1, stage_strides=(1, 2, 2, 1, 2), resolutions=(24, 28, 32))
PRESETS = {
    "ofa_mbv3_d234_e346_k357_w1.0": Preset(1.0, url="ofa_nets/ofa_mbv3_d234_e346_k357_w1.0"),
    "ofa_mbv3_d234_e346_k357_w1.2": Preset(1.2, resolutions=tuple(range(160, 225, 4)),
                                           url="ofa_nets/ofa_mbv3_d234_e346_k357_w1.2"),
    # Small images (CIFAR-size): stride-1 stem and first stage, so 32x32 inputs end at 4x4.
    "ofa_mbv3_small_d234_e346_k357_w1.0": Preset(1.0, **_SMALL),
    "ofa_mbv3_small_d234_e346_k357_w0.5": Preset(0.5, **_SMALL),
    # Tiny images (8x8 digits): the small topology at 8-16 px, so a 16x16 input ends at 2x2.
    "ofa_mbv3_tiny_d234_e346_k357_w0.5": Preset(0.5, first_stride=1, stage_strides=(1, 2, 2, 1, 2),
                                                resolutions=(8, 12, 16)),
}
