"""The OFA-ResNet search space and one subnet of it (`{"d", "e", "w"}` arch dicts of `ofa_resnets.py`)."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

_CONFIG_KEYS = {"d", "e", "w", "r", "image_size"}
# ResNet-50 stages: `ResNets.BASE_DEPTH_LIST` (`networks/resnets.py`); each stage has base + max(d) blocks.
BASE_DEPTHS = (2, 2, 4, 2)


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
    """One OFA-ResNet subnet, exactly as the reference's arch dict.

    `d`: the input-stem skip (the stem's residual conv runs only when d[0] is the largest depth), then
    one depth per stage (a stage runs its first base + d blocks). `e`: one expand ratio per block
    (also for skipped blocks). `w`: width indices, two for the stem convs, then one per stage.
    """

    d: tuple[int, ...]
    e: tuple[float, ...]
    w: tuple[int, ...]
    r: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "d", tuple(int(v) for v in self.d))
        object.__setattr__(self, "e", tuple(float(v) for v in self.e))
        object.__setattr__(self, "w", tuple(int(v) for v in self.w))
        if self.r is not None:
            object.__setattr__(self, "r", int(self.r))

    def to_dict(self) -> dict:
        out = {"d": list(self.d), "e": list(self.e), "w": list(self.w)}
        if self.r is not None:
            out["r"] = self.r
        return out

    @classmethod
    def from_dict(cls, config: dict) -> ResNetConfig:
        """Reads `get_active_subnet_config()` output; also accepts `image_size` / `r: [int]`."""
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise ValueError(f"Unknown ResNet subnet config keys {sorted(unknown)}; allowed keys are "
                             f"{sorted(_CONFIG_KEYS)}.")
        missing = {"d", "e", "w"} - set(config)
        if missing:
            raise ValueError(f"ResNet subnet config is missing {sorted(missing)}; it needs 'd', 'e' and 'w'.")
        r = config.get("r", config.get("image_size"))
        if isinstance(r, (list, tuple)):
            if len(r) != 1:
                raise ValueError(f"Resolution must be one int, received r={r}.")
            r = r[0]
        return cls(d=config["d"], e=config["e"], w=config["w"], r=r)

    def with_resolution(self, r: int | None) -> ResNetConfig:
        return dataclasses.replace(self, r=r)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ResNetConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclasses.dataclass(frozen=True)
class ResNetSearchSpace:
    """Elastic depth (stem skip + per stage), expand ratio per block, width index per stem conv / stage.

    `n_widths` is the supernet's number of width multipliers, `width_list` the width indices this space
    allows (default: all; a training phase may allow only the largest ones).
    """

    depth_list: tuple[int, ...] = (0, 1, 2)
    expand_list: tuple[float, ...] = (0.2, 0.25, 0.35)
    n_widths: int = 3
    base_depths: tuple[int, ...] = BASE_DEPTHS
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    width_list: tuple[int, ...] | None = None

    config_type: ClassVar[type] = ResNetConfig

    def __post_init__(self):
        object.__setattr__(self, "depth_list", tuple(sorted(int(v) for v in self.depth_list)))
        object.__setattr__(self, "expand_list", tuple(sorted(float(v) for v in self.expand_list)))
        object.__setattr__(self, "base_depths", tuple(int(v) for v in self.base_depths))
        object.__setattr__(self, "resolutions", tuple(sorted(int(v) for v in self.resolutions)))
        for name in ("depth_list", "expand_list", "resolutions"):
            if not getattr(self, name):
                raise ValueError(f"`{name}` must not be empty.")
        if min(self.depth_list) < 0:
            raise ValueError(f"Depths must be >= 0; received depth_list={list(self.depth_list)}.")
        if min(b + min(self.depth_list) for b in self.base_depths) < 1:
            raise ValueError(f"Every stage needs a block at the smallest depth; received base_depths="
                             f"{list(self.base_depths)}, depth_list={list(self.depth_list)}.")
        if self.n_widths < 1:
            raise ValueError(f"`n_widths` must be >= 1; received n_widths={self.n_widths}.")
        widths = tuple(range(self.n_widths)) if self.width_list is None else tuple(sorted(map(int, self.width_list)))
        if not widths or not set(widths) <= set(range(self.n_widths)):
            raise ValueError(f"`width_list` must hold width indices in [0, {self.n_widths}); received "
                             f"{self.width_list}.")
        object.__setattr__(self, "width_list", widths)

    @property
    def max_depth(self) -> int:
        return max(self.depth_list)

    @property
    def n_stages(self) -> int:
        return len(self.base_depths)

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        """Blocks per stage in the supernet."""
        return tuple(b + self.max_depth for b in self.base_depths)

    @property
    def n_blocks(self) -> int:
        return sum(self.stage_blocks)

    @property
    def lengths(self) -> dict[str, int]:
        return {"d": self.n_stages + 1, "e": self.n_blocks, "w": self.n_stages + 2}

    def size(self) -> int:
        """Exact number of distinct subnets (resolution not counted): stem skip (2 choices when the depth
        list has more than one value) x stem widths x per stage (width x sum over depths of e choices per
        running block); the expand ratios of skipped blocks do not count."""
        n_w = len(self.width_list)
        stem = (2 if len(self.depth_list) > 1 else 1) * n_w**2
        n_e = len(self.expand_list)
        stages = math.prod(n_w * sum(n_e ** (b + d) for d in self.depth_list) for b in self.base_depths)
        return stem * stages

    def max_config(self, r: int | None = None) -> ResNetConfig:
        n = self.lengths
        return ResNetConfig((self.max_depth,) * n["d"], (max(self.expand_list),) * n["e"],
                            (max(self.width_list),) * n["w"], r)

    def min_config(self, r: int | None = None) -> ResNetConfig:
        n = self.lengths
        return ResNetConfig((min(self.depth_list),) * n["d"], (min(self.expand_list),) * n["e"],
                            (min(self.width_list),) * n["w"], r)

    def sample(self, rng: np.random.Generator | int | None = None, with_resolution: bool = False) -> ResNetConfig:
        """A random subnet as the reference's `sample_active_subnet` draws it (the stem skip: largest or
        smallest depth; every other value uniform)."""
        rng = np.random.default_rng(rng)
        n = self.lengths
        d = [int(rng.choice([self.max_depth, min(self.depth_list)]))]
        d += [int(v) for v in rng.choice(self.depth_list, size=self.n_stages)]
        e = [float(v) for v in rng.choice(self.expand_list, size=n["e"])]
        w = [int(v) for v in rng.choice(self.width_list, size=n["w"])]
        r = int(rng.choice(self.resolutions)) if with_resolution else None
        return ResNetConfig(d, e, w, r)

    def expand(self, d=None, e=None, w=None, r=None, base: ResNetConfig | None = None) -> ResNetConfig:
        """Broadcasts single values to full lists, keeps `base` values where an argument (or entry) is None."""
        base = base or self.max_config()
        n = self.lengths
        config = ResNetConfig(
            _per_item("d", d, base.d, n["d"], int),
            _per_item("e", e, base.e, n["e"], float),
            _per_item("w", w, base.w, n["w"], int),
            base.r if r is None else r,
        )
        self.validate(config)
        return config

    def restrict(self, depth_list=None, expand_list=None, width_list=None) -> ResNetSearchSpace:
        """This space with fewer choices (a training phase's)."""
        return dataclasses.replace(self, depth_list=depth_list or self.depth_list,
                                   expand_list=expand_list or self.expand_list, width_list=width_list or self.width_list)

    def validate(self, config: ResNetConfig) -> None:
        """Raises ValueError naming the first value outside this space."""
        n = self.lengths
        checks = (("d", config.d, self.depth_list), ("e", config.e, self.expand_list),
                  ("w", config.w, self.width_list))
        for name, values, allowed in checks:
            if len(values) != n[name]:
                raise ValueError(f"`{name}` must have {n[name]} entries; received {len(values)}: {list(values)}.")
            for i, v in enumerate(values):
                if v not in allowed:
                    raise ValueError(f"Invalid value for `{name}`[{i}]: expected one of {list(allowed)}. "
                                     f"Received {name}={v}.")
        if config.r is not None and config.r < 1:
            raise ValueError(f"Invalid resolution r={config.r}: expected a positive image size.")


def _per_item(name, value, previous, length, kind):
    if value is None:
        return previous
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (kind(value),) * length
    if not isinstance(value, (Sequence, np.ndarray)) or isinstance(value, str):
        raise ValueError(f"`{name}` must be a number or a list of {length}; received {name}={value!r}.")
    value = list(value)
    if len(value) != length:
        raise ValueError(f"`{name}` must be a number or a list of length {length}; received a list of length "
                         f"{len(value)}.")
    return tuple(p if v is None else kind(v) for v, p in zip(value, previous))
