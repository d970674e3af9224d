"""The named OFA-ResNet supernets (the reference's `ofa_resnet50`, plus a tiny one for tests and small images)."""
from __future__ import annotations

import dataclasses

from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.families.resnet.supernet import OFAResNets


@dataclasses.dataclass(frozen=True)
class ResNetPreset:
    """Constructor arguments of a named OFA-ResNet supernet; `url` when official weights exist."""

    width_mult_list: tuple[float, ...]
    depth_list: tuple[int, ...] = (0, 1, 2)
    expand_list: tuple[float, ...] = (0.2, 0.25, 0.35)
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    url: str | None = None

    @property
    def final_phase(self) -> str:
        """The last phase of the reference recipe (`run_folder.final_phase`: the finished supernet's weights)."""
        space = self.search_space()
        return space.recipes["reference"](space)[-1].name

    def search_space(self) -> ResNetSearchSpace:
        """The search space of the supernet this preset builds (without building it)."""
        return ResNetSearchSpace(self.depth_list, self.expand_list, len(self.width_mult_list),
                                 resolutions=self.resolutions)

    def build(self, **kwargs) -> OFAResNets:
        return OFAResNets(depth_list=self.depth_list, expand_list=self.expand_list,
                          width_mult_list=self.width_mult_list, resolutions=self.resolutions, **kwargs)


PRESETS = {
    "ofa_resnet50": ResNetPreset((0.65, 0.8, 1.0),
                                 url="https://huggingface.co/han-cai/ofa/resolve/main/ofa_supernet_resnet50"),
    # Tests and small images: the ResNet-50 topology at a quarter of the width or less, 24-32 px (1x1 at the end).
    "ofa_resnet50_tiny": ResNetPreset((0.15, 0.2, 0.25), resolutions=(24, 28, 32)),
}
