"""Architecture as data: the elastic search space and one subnet configuration in it."""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ofa_tf.families.config import as_int
from ofa_tf.families.config import sort_choices
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mbconv.encoding import ArchEncoder
from ofa_tf.families.mbconv.encoding import StageEncoder
from ofa_tf.families.mbconv.recipes import RECIPES


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The elastic dimensions of a supernet: choices per block/stage and the resolutions.

    `stage_depths` holds each stage's number of blocks (default `max(depth_list)` for all `n_stages`); a
    shorter stage clamps its depth as the reference's `min(len(block_idx), d)`, e.g. ProxylessNAS's final
    one-block stage.
    """

    config_type: ClassVar[type] = SubnetConfig
    batch_type: ClassVar[type] = ConfigBatch
    kind: ClassVar[str] = "mobilenet"  # predictor.json's "family" of MBConv spaces (a file format)
    recipes: ClassVar[dict] = RECIPES  # training recipe name -> its rows for this space

    ks_list: tuple[int, ...] = (3, 5, 7)
    expand_list: tuple[int, ...] = (3, 4, 6)
    depth_list: tuple[int, ...] = (2, 3, 4)
    n_stages: int = 5
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    stage_depths: tuple[int, ...] | None = None

    def __post_init__(self):
        sort_choices(self, int, "ks_list", "expand_list", "depth_list", "resolutions")
        bad_ks = [k for k in self.ks_list if k < 1 or k % 2 == 0]
        if bad_ks:
            raise ValueError(f"Kernel sizes must be odd and positive; received ks_list={list(self.ks_list)}.")
        if min(self.depth_list) < 1:
            raise ValueError(f"Depths must be >= 1; received depth_list={list(self.depth_list)}.")
        depths = (self.max_depth,) * self.n_stages if self.stage_depths is None else self.stage_depths
        depths = tuple(int(v) for v in depths)
        if len(depths) != self.n_stages or not all(1 <= v <= self.max_depth for v in depths):
            raise ValueError(
                f"`stage_depths` needs {self.n_stages} entries in 1..{self.max_depth}; received {list(depths)}."
            )
        object.__setattr__(self, "stage_depths", depths)

    @property
    def max_depth(self) -> int:
        return max(self.depth_list)

    @property
    def n_blocks(self) -> int:
        return sum(self.stage_depths)

    @property
    def stage_starts(self) -> tuple[int, ...]:
        """Index into `ks` / `e` of each stage's first block."""
        return tuple(int(v) for v in np.cumsum((0,) + self.stage_depths[:-1]))

    def depth_choices(self, stage: int) -> tuple[int, ...]:
        """Depths stage `stage` can run: `depth_list` clamped to its number of blocks."""
        return tuple(sorted({min(d, self.stage_depths[stage]) for d in self.depth_list}))

    def size(self) -> int:
        """Exact number of distinct subnets (ignoring resolution): skipped blocks' choices do not count."""
        per_block = len(self.ks_list) * len(self.expand_list)
        return math.prod(sum(per_block**d for d in self.depth_choices(s)) for s in range(self.n_stages))

    def max_config(self, r: int | None = None) -> SubnetConfig:
        n = self.n_blocks
        return SubnetConfig((max(self.ks_list),) * n, (max(self.expand_list),) * n, self.stage_depths, r)

    def min_config(self, r: int | None = None) -> SubnetConfig:
        n = self.n_blocks
        d = [self.depth_choices(s)[0] for s in range(self.n_stages)]
        return SubnetConfig((min(self.ks_list),) * n, (min(self.expand_list),) * n, d, r)

    def sample(self, rng: np.random.Generator | int | None = None, with_resolution: bool = False) -> SubnetConfig:
        """A uniformly random subnet (ks, e per block, d per stage), as the reference samples."""
        rng = np.random.default_rng(rng)
        n = self.n_blocks
        ks = rng.choice(self.ks_list, size=n)
        e = rng.choice(self.expand_list, size=n)
        d = np.minimum(rng.choice(self.depth_list, size=self.n_stages), self.stage_depths)
        r = int(rng.choice(self.resolutions)) if with_resolution else None
        return SubnetConfig(ks, e, d, r)

    def expand(self, ks=None, e=None, d=None, r=None, base: SubnetConfig | None = None) -> SubnetConfig:
        """Broadcasts ints to full lists, keeps `base` values where an argument (or list entry) is None.

        Depths of allowed values are clamped to each stage's number of blocks, as the reference does.
        """
        base = base or self.max_config()
        d = self._per_item("d", d, base.d, self.n_stages)
        config = SubnetConfig(
            self._per_item("ks", ks, base.ks, self.n_blocks),
            self._per_item("e", e, base.e, self.n_blocks),
            tuple(min(v, m) if v in self.depth_list else v for v, m in zip(d, self.stage_depths)),
            base.r if r is None else r,
        )
        self.validate(config)
        return config

    @staticmethod
    def _per_item(name, value, previous, length):
        if value is None:
            return previous
        if isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, bool):
            return (as_int(value, name),) * length
        if not isinstance(value, Sequence) and not isinstance(value, np.ndarray):
            raise ValueError(f"`{name}` must be an int or a list of {length} ints; received {name}={value!r}.")
        value = list(value)
        if len(value) != length:
            raise ValueError(
                f"`{name}` must be an int or a list of length {length}; received a list of length {len(value)}."
            )
        return tuple(p if v is None else as_int(v, name) for v, p in zip(value, previous))

    def validate(self, config: SubnetConfig) -> None:
        """Raises ValueError naming the first value outside this space."""
        checks = (
            ("ks", config.ks, [self.ks_list] * self.n_blocks, self.n_blocks),
            ("e", config.e, [self.expand_list] * self.n_blocks, self.n_blocks),
            ("d", config.d, [self.depth_choices(s) for s in range(self.n_stages)], self.n_stages),
        )
        for name, values, choices, length in checks:
            if len(values) != length:
                raise ValueError(f"`{name}` must have {length} entries; received {len(values)}: {list(values)}.")
            for i, (v, allowed) in enumerate(zip(values, choices)):
                if v not in allowed:
                    raise ValueError(
                        f"Invalid value for `{name}`[{i}]: expected one of {list(allowed)}. Received {name}={v}."
                    )
        if config.r is not None and config.r < 1:
            raise ValueError(f"Invalid resolution r={config.r}: expected a positive image size.")

    def for_phase(self, phase) -> SearchSpace:
        """This space restricted to a training phase's choices (`ofa_tf.recipe.Phase`)."""
        return dataclasses.replace(self, ks_list=phase.ks_list, expand_list=phase.expand_list,
                                   depth_list=phase.depth_list)

    # === Hooks of the searches and predictors (`ofa_tf.nas`) ===
    def arch_encoder(self, resolutions=None, features: str = "block"):
        """The reference's one-hot encoder per block (`ArchEncoder`), or per stage (`StageEncoder`)."""
        return (StageEncoder if features == "stage" else ArchEncoder)(self, resolutions)

    def canonical_key(self, config: SubnetConfig) -> str:
        """`config.key()`: the key already ignores inactive blocks."""
        return config.key()

    @functools.cached_property
    def _choice_arrays(self) -> dict[str, np.ndarray]:
        return {name: np.array(values, dtype=np.int64) for name, values in (
            ("ks", self.ks_list), ("e", self.expand_list), ("d", self.depth_list), ("r", self.resolutions),
            ("depths", self.stage_depths))}

    def random_batch(self, n: int, rng: np.random.Generator) -> ConfigBatch:
        """`n` uniformly random subnets (with resolutions) drawn from `rng`."""
        choices = self._choice_arrays
        return ConfigBatch.unchecked(  # as rng.choice draws (same stream), without its per-call list conversion
            choices["ks"][rng.integers(len(choices["ks"]), size=(n, self.n_blocks))],
            choices["e"][rng.integers(len(choices["e"]), size=(n, self.n_blocks))],
            np.minimum(choices["d"][rng.integers(len(choices["d"]), size=(n, self.n_stages))], choices["depths"]),
            choices["r"][rng.integers(len(choices["r"]), size=n)],
        )

    def mutate_batch(self, base: ConfigBatch, rng: np.random.Generator, arch_mutate_prob: float,
                     resolution_mutate_prob: float) -> ConfigBatch:
        """One mutant per row of `base`: each block's (ks, e) and each stage's d resampled with `arch_mutate_prob`,
        the resolution with `resolution_mutate_prob`."""
        fresh = self.random_batch(len(base), rng)
        block = rng.random(base.ks.shape) < arch_mutate_prob
        stage = rng.random(base.d.shape) < arch_mutate_prob
        res = rng.random(len(base)) < resolution_mutate_prob
        return ConfigBatch.unchecked(
            np.where(block, fresh.ks, base.ks),
            np.where(block, fresh.e, base.e),
            np.where(stage, fresh.d, base.d),
            np.where(res, fresh.r, base.r),
        )

    def crossover_batch(self, a: ConfigBatch, b: ConfigBatch, rng: np.random.Generator) -> ConfigBatch:
        """One child per row pair: every element (ks, e per block, d per stage, r) from one of the two."""
        fields = ("ks", "e", "d", "r")
        return ConfigBatch.unchecked(*(np.where(rng.random(getattr(a, f).shape) < 0.5, getattr(a, f), getattr(b, f))
                                       for f in fields))

    def batch_codes(self, batch: ConfigBatch) -> np.ndarray:
        """Rows equal exactly when two candidates are the same subnet."""
        return batch.canonical_codes()

    def unique_indices(self, batch: ConfigBatch) -> np.ndarray:
        """Sorted indices of the first occurrence of each distinct subnet."""
        return batch.unique_indices()
