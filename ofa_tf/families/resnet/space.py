"""The OFA-ResNet search space (the `{"d", "e", "w"}` arch dicts of `ofa_resnets.py`)."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ofa_tf.families.config import sort_choices
from ofa_tf.families.resnet.config import ResNetBatch
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.families.resnet.encoding import ResNetArchEncoder
from ofa_tf.families.resnet.recipes import RECIPES

# ResNet-50 stages: `ResNets.BASE_DEPTH_LIST` (`networks/resnets.py`); each stage has base + max(d) blocks.
BASE_DEPTHS = (2, 2, 4, 2)


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
    batch_type: ClassVar[type] = ResNetBatch
    kind: ClassVar[str] = "resnet"  # predictor.json's "family" (a file format)
    recipes: ClassVar[dict] = RECIPES  # training recipe name -> its rows for this space (the sandwich refused)

    def __post_init__(self):
        sort_choices(self, int, "depth_list")
        sort_choices(self, float, "expand_list")
        object.__setattr__(self, "base_depths", tuple(int(v) for v in self.base_depths))
        sort_choices(self, int, "resolutions")
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


    def for_phase(self, phase) -> ResNetSearchSpace:
        """This space restricted to a training phase's choices (`ofa_tf.recipe.Phase`)."""
        return self.restrict(depth_list=phase.depth_list, expand_list=phase.expand_list, width_list=phase.width_list)

    # === Hooks of the searches and predictors (`ofa_tf.nas`) ===
    def arch_encoder(self, resolutions=None, features: str = "block") -> ResNetArchEncoder:
        """The reference's `ResNetArchEncoder`; there is no per-stage layout for OFA-ResNets."""
        if features == "stage":
            raise ValueError("features='stage' encodes MobileNet-style spaces (kernel sizes per block); OFA-ResNets "
                             "take features='block'.")
        return ResNetArchEncoder(self, resolutions)

    def canonical_key(self, config: ResNetConfig) -> str:
        """`config.key()` with the skipped blocks' expand ratios zeroed and the stem skip normalized, so two arch
        dicts of the same subnet share a key."""
        running = ResNetBatch.coerce(config).active_mask(self)[0]
        stem = min(self.depth_list) if config.d[0] < self.max_depth else self.max_depth
        return ResNetConfig((stem,) + config.d[1:], tuple(e if on else 0.0 for e, on in zip(config.e, running)),
                            config.w, config.r).key()

    def random_batch(self, n: int, rng: np.random.Generator) -> ResNetBatch:
        """`n` random subnets as the reference samples them (the stem skip on or off, then d, e, w, r)."""
        lengths = self.lengths
        stem = rng.choice([self.max_depth, min(self.depth_list)], size=(n, 1))
        return ResNetBatch(
            np.concatenate([stem, rng.choice(self.depth_list, size=(n, self.n_stages))], axis=1),
            rng.choice(self.expand_list, size=(n, lengths["e"])),
            rng.choice(self.width_list, size=(n, lengths["w"])),
            rng.choice(self.resolutions, size=n),
        )

    def mutate_batch(self, base: ResNetBatch, rng: np.random.Generator, arch_mutate_prob: float,
                     resolution_mutate_prob: float) -> ResNetBatch:
        """Each expand ratio, width index and stage depth (the stem skip too) resampled with `arch_mutate_prob`,
        the resolution with `resolution_mutate_prob`."""
        fresh = self.random_batch(len(base), rng)
        pick = {k: rng.random(getattr(base, k).shape) < arch_mutate_prob for k in ("d", "e", "w")}
        pick["r"] = rng.random(len(base)) < resolution_mutate_prob
        return ResNetBatch(*(np.where(pick[k], getattr(fresh, k), getattr(base, k)) for k in ("d", "e", "w", "r")))

    def crossover_batch(self, a: ResNetBatch, b: ResNetBatch, rng: np.random.Generator) -> ResNetBatch:
        """Every entry from one of the two parents."""
        return ResNetBatch(*(np.where(rng.random(getattr(a, k).shape) < 0.5, getattr(a, k), getattr(b, k))
                             for k in ("d", "e", "w", "r")))

    def batch_codes(self, batch: ResNetBatch) -> np.ndarray:
        """Rows equal exactly when two candidates are the same subnet (skipped blocks' ratios ignored)."""
        return batch.canonical_codes(self)

    def unique_indices(self, batch: ResNetBatch) -> np.ndarray:
        return batch.unique_indices(self)


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
