"""OFA-ResNet configs: one subnet (`ResNetConfig`, the reference's `{"d", "e", "w"}` arch dict) and many as arrays
(`ResNetBatch`, for the vectorised predictors and searches)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ofa_tf.families.config import NO_RESOLUTION
from ofa_tf.families.config import ConfigBase
from ofa_tf.families.config import config_resolution
from ofa_tf.families.config import given_configs

_CONFIG_KEYS = {"d", "e", "w", "r", "image_size"}


@dataclasses.dataclass(frozen=True)
class ResNetConfig(ConfigBase):
    """One OFA-ResNet subnet, exactly as the reference's arch dict.

    `d`: the input-stem skip (the stem's residual conv runs only when d[0] is the largest depth), then
    one depth per stage (a stage runs its first base + d blocks). `e`: one expand ratio per block
    (also for skipped blocks). `w`: width indices, two for the stem convs, then one per stage.
    """

    batch_type: ClassVar[type]  # `ResNetBatch`, set below it
    ARCH_KEYS = ("d", "e", "w")
    KEY: ClassVar[str] = "w"  # the key of its dicts that MBConv dicts lack (`ofa_tf.registry.config_from_dict`)

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

    @classmethod
    def from_dict(cls, config: dict) -> ResNetConfig:
        """Reads `get_active_subnet_config()` output; also accepts `image_size` / `r: [int]`."""
        r = config_resolution(config, _CONFIG_KEYS, ("d", "e", "w"), "ResNet subnet config")
        return cls(d=config["d"], e=config["e"], w=config["w"], r=r)

    def key(self) -> str:
        """Canonical string: the whole arch dict, `d0,2,2,2,2|e0.35,...|w2,...@r224` (skipping a block is a matter of
        the space's base depths; `ResNetSearchSpace.canonical_key` ignores the skipped blocks' ratios)."""
        parts = (",".join(f"{v:g}" for v in values) for values in (self.d, self.e, self.w))
        return "|".join(f"{name}{part}" for name, part in zip("dew", parts)) + f"@r{self.r}"




@dataclasses.dataclass(frozen=True, eq=False)
class ResNetBatch:
    """N OFA-ResNet configs: `d` (N, 5), `e` (N, n_blocks) expand ratios, `w` (N, 6) width indices, `r` (N,)."""

    d: np.ndarray
    e: np.ndarray
    w: np.ndarray
    r: np.ndarray

    @classmethod
    def coerce(cls, configs: ResNetBatch | Sequence[ResNetConfig] | ResNetConfig) -> ResNetBatch:
        if isinstance(configs, ResNetBatch):
            return configs
        configs = [configs] if isinstance(configs, ResNetConfig) else list(configs)
        if not configs:
            raise ValueError("Received an empty list of configs; at least one ResNetConfig is needed.")
        return cls(np.array([c.d for c in configs]), np.array([c.e for c in configs]),
                   np.array([c.w for c in configs]), np.array([NO_RESOLUTION if c.r is None else c.r for c in configs]))

    def to_configs(self) -> list[ResNetConfig]:
        return [ResNetConfig(d, e, w, None if r == NO_RESOLUTION else r)
                for d, e, w, r in zip(self.d.tolist(), self.e.tolist(), self.w.tolist(), self.r.tolist())]

    def __len__(self) -> int:
        return self.d.shape[0]

    def take(self, indices) -> ResNetBatch:
        return ResNetBatch(self.d[indices], self.e[indices], self.w[indices], self.r[indices])

    @staticmethod
    def concat(batches: Sequence[ResNetBatch]) -> ResNetBatch:
        return ResNetBatch(*(np.concatenate([getattr(b, n) for b in batches]) for n in ("d", "e", "w", "r")))

    def active_mask(self, space: ResNetSearchSpace) -> np.ndarray:
        """(N, n_blocks) bool: the blocks each subnet runs (a stage's first base + d blocks)."""
        return np.concatenate([np.arange(n)[None, :] < b + self.d[:, s + 1, None]
                               for s, (b, n) in enumerate(zip(space.base_depths, space.stage_blocks))], axis=1)

    def canonical_codes(self, space: ResNetSearchSpace) -> np.ndarray:
        """Float rows that are equal exactly when two configs are the same subnet (skipped blocks' ratios ignored)."""
        active = self.active_mask(space)
        stem_skip = self.d[:, :1] >= space.max_depth
        return np.concatenate([stem_skip, self.d[:, 1:], np.where(active, self.e, 0), self.w, self.r[:, None]], axis=1)

    def unique_indices(self, space: ResNetSearchSpace) -> np.ndarray:
        """Sorted indices of the first occurrence of each distinct subnet (skipped blocks' ratios ignored)."""
        _, first = np.unique(self.canonical_codes(space), axis=0, return_index=True)
        return np.sort(first)


ResNetConfig.batch_type = ResNetBatch  # what `ofa_tf.efficiency.as_batch` turns lists of these configs into


def reference_predictor_batch(configs) -> ResNetBatch:
    """Configs given to the reference's OFA-ResNet50 predictor (`ofa_tf.nas.pretrained_predictor`) as a batch: dicts
    `{d, e, w, image_size}` or `ResNetConfig`s, each with a resolution."""
    configs = given_configs(configs, ResNetConfig, ResNetBatch)
    if isinstance(configs, ResNetBatch):
        return configs
    bad = [i for i, c in enumerate(configs) if not isinstance(c, ResNetConfig)]
    if bad:
        raise ValueError(f"Config {bad[0]} is a {type(configs[bad[0]]).__name__}; the OFA-ResNet50 predictor takes "
                         "ResNetConfigs or dicts {d, e, w, image_size}.")
    missing = [i for i, c in enumerate(configs) if c.r is None]
    if missing:
        raise ValueError(f"Config {missing[0]} has no resolution ('image_size' or 'r'); the predictor needs one.")
    return ResNetBatch.coerce(configs)
