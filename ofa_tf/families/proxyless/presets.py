"""The named OFA-ProxylessNAS supernets (the reference's `ofa_proxyless_d234_e346_k357_w1.3`, plus a tiny one)."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from ofa_tf.families.mbconv.presets import MBConvPreset
from ofa_tf.families.mbconv.shape import PROXYLESS_STRIDES
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.proxyless.supernet import OFAProxylessNASNets


@dataclasses.dataclass(frozen=True)
class ProxylessPreset(MBConvPreset):
    """A named `OFAProxylessNASNets` (6 stage strides)."""

    supernet_type: ClassVar[type] = OFAProxylessNASNets

    stage_strides: tuple[int, ...] = PROXYLESS_STRIDES

    def search_space(self) -> SearchSpace:
        """The search space of the supernet this preset builds: 5 stages of 4 blocks and a one-block final stage."""
        n_stages = len(self.stage_strides)
        return SearchSpace(n_stages=n_stages, resolutions=self.resolutions, stage_depths=(4,) * (n_stages - 1) + (1,))


PRESETS = {
    "ofa_proxyless_d234_e346_k357_w1.3": ProxylessPreset(1.3, url="ofa_nets/ofa_proxyless_d234_e346_k357_w1.3"),
    # ProxylessNAS at 8-16 px (stride-1 stem and first stage), for tests and the digits data.
    "ofa_proxyless_tiny_d234_e346_k357_w0.5": ProxylessPreset(0.5, first_stride=1, stage_strides=(1, 2, 2, 1, 2, 1),
                                                              resolutions=(8, 12, 16)),
}
