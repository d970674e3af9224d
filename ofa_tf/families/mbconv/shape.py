"""The static block structure of a supernet (`OFAMobileNetV3.network_shape`): the widths the supernet is built with,
and what MACs, params and latency-table keys are computed from."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ofa_tf.families.mbconv.efficiency import MacsModel
from ofa_tf.families.mbconv.efficiency import ParamsModel
from ofa_tf.utils import make_divisible

MBV3_BASE_WIDTHS = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
"""MobileNetV3-Large widths of the reference (`ofa/imagenet_classification/elastic_nn/networks/ofa_mbv3.py`):
stem, blocks.0, five stages, final expand, feature mix."""
MBV3_STRIDES = (2, 2, 2, 1, 2)
MBV3_USE_SE = (False, True, False, True, True)
MBV3_USE_HSWISH = (False, False, True, True, True)
PROXYLESS_BASE_WIDTHS = (32, 16, 24, 40, 80, 96, 192, 320, 1280)
"""ProxylessNAS widths of the reference (`ofa/imagenet_classification/elastic_nn/networks/ofa_proxyless.py`):
stem, blocks.0, six stages (the last of one block), feature mix."""
PROXYLESS_STRIDES = (2, 2, 2, 1, 2, 1)


@dataclasses.dataclass(frozen=True)
class StageShape:
    """One elastic stage: output width, stride of its first block, squeeze-excite, h-swish (else ReLU, or ReLU6
    with `relu6`)."""

    width: int
    stride: int
    use_se: bool
    use_hswish: bool
    relu6: bool = False

    @property
    def activation(self) -> str:
        """The Keras name of the stage's activation."""
        return "hard_silu" if self.use_hswish else "relu6" if self.relu6 else "relu"


@dataclasses.dataclass(frozen=True)
class NetworkShape:
    """Block structure of an OFA-MobileNetV3-style supernet.

    Layout: first conv (3x3, `stem_stride`) → fixed first block (depthwise `first_block_kernel`, expand 1, stride 1,
    ReLU, no SE) → elastic stages (MBConv; the first block of a stage carries the stride) → final expand 1x1
    conv → global pool → feature mix 1x1 conv (no BN, no bias) → classifier (with bias). With
    `final_expand_width=None` (ProxylessNAS) the feature mix 1x1 conv (with BN) runs before the pool instead.
    Middle channels are `make_divisible(round(in * e), divisor)`, SE channels `make_divisible(mid // se_reduction)`.
    """

    stem_width: int
    first_block_width: int
    stages: tuple[StageShape, ...]
    final_expand_width: int | None
    feature_mix_width: int
    n_classes: int = 1000
    stem_stride: int = 2
    first_block_kernel: int = 3
    se_reduction: int = 4
    channel_divisor: int = 8

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ValueError("A NetworkShape needs at least one stage.")
        bad = [s for s in self.stages if s.stride not in (1, 2)]
        if bad or self.stem_stride not in (1, 2):
            raise ValueError(
                f"Strides must be 1 or 2; received stem {self.stem_stride}, "
                f"stages {[s.stride for s in self.stages]}."
            )

    @classmethod
    def mobilenet_v3(
        cls,
        width_mult: float = 1.0,
        n_classes: int = 1000,
        *,
        stem_stride: int = 2,
        base_widths: Sequence[int] = MBV3_BASE_WIDTHS,
        strides: Sequence[int] = MBV3_STRIDES,
        use_se: Sequence[bool] = MBV3_USE_SE,
        use_hswish: Sequence[bool] = MBV3_USE_HSWISH,
    ) -> NetworkShape:
        """The OFA-MobileNetV3 family: `make_divisible(width * width_mult, 8)` applied to all base widths; the
        stem and the stages' first blocks have strides `stem_stride` and `strides` (1 for small images)."""
        n_stages = len(strides)
        if len(base_widths) != n_stages + 4 or len(use_se) != n_stages or len(use_hswish) != n_stages:
            raise ValueError(
                f"Expected {n_stages + 4} base widths (stem, first block, {n_stages} stages, final expand, "
                "feature mix) "
                f"and {n_stages} SE / h-swish flags; received {len(base_widths)}, {len(use_se)}, {len(use_hswish)}."
            )
        widths = [make_divisible(w * width_mult, 8) for w in base_widths]
        stages = tuple(
            StageShape(w, int(s), bool(se), bool(hs))
            for w, s, se, hs in zip(widths[2:-2], strides, use_se, use_hswish)
        )
        return cls(widths[0], widths[1], stages, widths[-2], widths[-1], n_classes, stem_stride=int(stem_stride))

    @classmethod
    def proxyless(cls, width_mult: float = 1.0, n_classes: int = 1000, *, stem_stride: int = 2,
                  strides: Sequence[int] = PROXYLESS_STRIDES) -> NetworkShape:
        """The OFA-ProxylessNAS family: ReLU6, no SE, no final expand (the feature mix runs before the pool)."""
        if len(strides) != len(PROXYLESS_STRIDES):
            raise ValueError(f"Expected {len(PROXYLESS_STRIDES)} stage strides; received {list(strides)}.")
        widths = [make_divisible(w * width_mult, 8) for w in PROXYLESS_BASE_WIDTHS]
        stages = tuple(StageShape(w, int(s), False, False, relu6=True) for w, s in zip(widths[2:-1], strides))
        return cls(widths[0], widths[1], stages, None, widths[-1], n_classes, stem_stride=int(stem_stride))

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def stem_size(self, r):
        """Feature size after the first conv: ceil(r / stride), i.e. (r + 1) // 2 for stride 2."""
        return -(-np.asarray(r) // self.stem_stride)

    def mid_channels(self, in_channels: int, e):
        return make_divisible(np.round(in_channels * np.asarray(e)), self.channel_divisor)

    def se_channels(self, mid):
        return make_divisible(np.asarray(mid) // self.se_reduction, self.channel_divisor)

    def stage_inputs(self) -> list[int]:
        """Input channels of each stage's first block."""
        return [self.first_block_width] + [s.width for s in self.stages[:-1]]

    def efficiency_models(self, millions: bool = True) -> tuple[MacsModel, ParamsModel]:
        """The exact MACs and params models of subnets of this shape (millions unless `millions=False`)."""
        return MacsModel(self, millions), ParamsModel(self, millions)

    def latency_shape(self) -> NetworkShape:
        """What latency lookup tables key blocks by: this shape."""
        return self
