"""Named MBConv supernets: the constructor arguments a preset fixes and where its official weights are."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from ofa_tf.families.mbconv.space import SearchSpace

IMAGENET_RESOLUTIONS = tuple(range(128, 225, 4))


@dataclasses.dataclass(frozen=True)
class MBConvPreset:
    """Constructor arguments of a named MBConv supernet; `url` of its official weights when they exist (relative to
    the released files' root, `ofa_tf.download.files_url()`, or absolute)."""

    supernet_type: ClassVar[type]

    width_mult: float
    first_stride: int = 2
    stage_strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    resolutions: tuple[int, ...] = IMAGENET_RESOLUTIONS
    url: str | None = None

    def build(self, **kwargs):
        return self.supernet_type(width_mult=self.width_mult, first_stride=self.first_stride,
                                  stage_strides=self.stage_strides, resolutions=self.resolutions, **kwargs)

    @property
    def final_phase(self) -> str:
        """The last phase of the reference recipe (`run_folder.final_phase`: the finished supernet's weights)."""
        space = self.search_space()
        return space.recipes["reference"](space)[-1].name

    def search_space(self) -> SearchSpace:
        """The search space of the supernet this preset builds (without building it: the default choices)."""
        return SearchSpace(resolutions=self.resolutions)
