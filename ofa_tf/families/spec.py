"""The registry's entry for one network family (`ofa_tf/registry.py`; the timm / keras-hub pattern: an
architecture plus its named presets and their pretrained files)."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Family:
    """One network family.

    Args:
        name: folder name under `ofa_tf/families/` ("mobilenet_v3", "proxyless", "resnet").
        title: the family's name in messages ("OFA-MobileNetV3", ...).
        supernet_type: the registered `keras.Model` subclass (the architecture builder).
        presets: net id -> preset (constructor arguments and the official weights' `url`, if any).
        reference: the reference module the family mirrors (github.com/mit-han-lab/once-for-all).
    """

    name: str
    title: str
    supernet_type: type
    presets: Mapping[str, object]
    reference: str

    @property
    def space_type(self) -> type:
        """The search space class (its `kind`, recipes, sampler and encoder hooks)."""
        return self.supernet_type.space_type

    @property
    def config_type(self) -> type:
        return self.space_type.config_type
