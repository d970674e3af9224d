"""MBConv subnet configs: one subnet (`SubnetConfig`, the reference's `{"ks", "e", "d"}` arch dict) and many as
integer arrays (`ConfigBatch`, the unit every vectorised predictor and search operator works on)."""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ofa_tf.families.config import NO_RESOLUTION
from ofa_tf.families.config import ConfigBase
from ofa_tf.families.config import as_int
from ofa_tf.families.config import config_resolution
from ofa_tf.families.config import given_configs

_CONFIG_KEYS = {"ks", "e", "d", "r", "image_size", "wid"}

@dataclasses.dataclass(frozen=True)
class SubnetConfig(ConfigBase):
    """One subnet: per-block kernel sizes and expand ratios, per-stage depths, optional resolution.

    `ks` and `e` always hold one entry per block (also for blocks beyond a stage's depth, which are
    ignored), `d` one entry per stage, exactly as the reference's arch dicts.
    """

    batch_type: ClassVar[type]  # `ConfigBatch`, set below it
    ARCH_KEYS = ("ks", "e", "d")
    KEY: ClassVar[str] = "ks"  # the key of its dicts that OFA-ResNet dicts lack (`ofa_tf.registry.config_from_dict`)

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int | None = None

    def __post_init__(self):
        for name in ("ks", "e", "d"):
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
                raise ValueError(f"`{name}` must be a list of ints; received {name}={values!r}.")
            object.__setattr__(self, name, tuple(as_int(v, name) for v in values))
        if self.r is not None:
            object.__setattr__(self, "r", as_int(self.r, "r"))

    @classmethod
    def from_dict(cls, config: dict) -> SubnetConfig:
        """Reads `get_active_subnet_config()` output; also accepts the reference's `image_size` / `r: [int]`."""
        if not isinstance(config, dict):
            raise ValueError(f"A subnet config is a JSON object with 'ks', 'e' and 'd' (and optionally 'r'); "
                             f"received {type(config).__name__} {config!r:.60}.")
        r = config_resolution(config, _CONFIG_KEYS, ("ks", "e", "d"), "subnet config")
        return cls(ks=config["ks"], e=config["e"], d=config["d"], r=r)

    @property
    def short_name(self) -> str:
        """A readable label: depths, then mean kernel size and expand ratio of the active blocks (`d34243 k5.2 e4.1`)."""
        per_stage = len(self.ks) // max(len(self.d), 1)
        active = [s * per_stage + i for s, depth in enumerate(self.d) for i in range(depth)]
        ks = [self.ks[b] for b in active if b < len(self.ks)] or [0]
        e = [self.e[b] for b in active if b < len(self.e)] or [0]
        return f"d{''.join(map(str, self.d))} k{np.mean(ks):.1f} e{np.mean(e):.1f}"

    def key(self) -> str:
        """Canonical string (inactive blocks ignored), e.g. for caches and JSON files: `k3e4,k5e6|...@r224`."""
        starts = np.cumsum((0,) + stage_depths(len(self.ks), len(self.d))[:-1])
        parts = []
        for start, depth in zip(starts, self.d):
            blocks = range(start, start + depth)
            parts.append(",".join(f"k{self.ks[i]}e{self.e[i]}" for i in blocks))
        return "|".join(parts) + f"@r{self.r}"





@dataclasses.dataclass(frozen=True, eq=False)
class ConfigBatch:
    """N subnet configs: `ks`, `e` of shape (N, n_blocks), `d` of shape (N, n_stages), `r` of shape (N,).

    Rows are in the layout of `SubnetConfig`: every stage holds `max_depth` blocks, except that the last one
    may hold fewer (ProxylessNAS's one-block final stage: 21 blocks in 6 stages, as the reference's
    `MobileNetArchEncoder` for "mbv2" spaces). A config without a resolution has `r == NO_RESOLUTION`.
    """

    ks: np.ndarray
    e: np.ndarray
    d: np.ndarray
    r: np.ndarray

    def __post_init__(self):
        ks, e, d, r = (np.asarray(getattr(self, n), dtype=np.int64) for n in ("ks", "e", "d", "r"))
        if ks.ndim != 2 or e.shape != ks.shape:
            raise ValueError(f"`ks` and `e` must be 2-D arrays of one shape; received {ks.shape} and {e.shape}.")
        if d.ndim != 2 or d.shape[0] != ks.shape[0] or r.shape != (ks.shape[0],):
            raise ValueError(
                f"`d` must have shape (N, n_stages) and `r` shape (N,) with N={ks.shape[0]}; "
                f"received d {d.shape} and r {r.shape}."
            )
        if d.shape[1] == 0 or not 0 < ks.shape[1] - (d.shape[1] - 1) * -(-ks.shape[1] // d.shape[1]):
            raise ValueError(
                f"{ks.shape[1]} blocks do not fill {d.shape[1]} stages of equal depth (the last one may be "
                "shorter)."
            )
        for name, value in zip(("ks", "e", "d", "r"), (ks, e, d, r)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @classmethod
    def unchecked(cls, ks: np.ndarray, e: np.ndarray, d: np.ndarray, r: np.ndarray) -> ConfigBatch:
        """A batch of int64 arrays taken from checked batches of one layout (rows picked or combined elementwise),
        without the checks and copies of the constructor: the searches build thousands of these."""
        batch = object.__new__(cls)
        for name, value in zip(("ks", "e", "d", "r"), (ks, e, d, r)):
            value.setflags(write=False)
            object.__setattr__(batch, name, value)
        return batch

    @classmethod
    def from_configs(cls, configs: Sequence[SubnetConfig]) -> ConfigBatch:
        configs = list(configs)
        if not configs:
            raise ValueError("Received an empty list of configs; at least one SubnetConfig is needed.")
        lengths = {(len(c.ks), len(c.e), len(c.d)) for c in configs}
        if len(lengths) != 1:
            raise ValueError(
                f"All configs must have the same numbers of blocks and stages; received {sorted(lengths)}."
            )
        return cls(
            ks=np.array([c.ks for c in configs]),
            e=np.array([c.e for c in configs]),
            d=np.array([c.d for c in configs]),
            r=np.array([NO_RESOLUTION if c.r is None else c.r for c in configs]),
        )

    @classmethod
    def coerce(cls, configs: ConfigBatch | Sequence[SubnetConfig] | SubnetConfig) -> ConfigBatch:
        """Accepts a batch, a list of configs or a single config."""
        if isinstance(configs, ConfigBatch):
            return configs
        if isinstance(configs, SubnetConfig):
            return cls.from_configs([configs])
        return cls.from_configs(configs)

    def to_configs(self) -> list[SubnetConfig]:
        return [
            SubnetConfig(ks, e, d, None if r == NO_RESOLUTION else r)
            for ks, e, d, r in zip(self.ks.tolist(), self.e.tolist(), self.d.tolist(), self.r.tolist())
        ]

    def __len__(self) -> int:
        return self.ks.shape[0]

    @property
    def n_stages(self) -> int:
        return self.d.shape[1]

    @property
    def max_depth(self) -> int:
        return -(-self.ks.shape[1] // self.d.shape[1])

    @property
    def stage_depths(self) -> tuple[int, ...]:
        """Blocks per stage: `max_depth`, the last stage what remains."""
        return stage_depths(self.ks.shape[1], self.n_stages)

    def take(self, indices) -> ConfigBatch:
        return ConfigBatch.unchecked(self.ks[indices], self.e[indices], self.d[indices], self.r[indices])

    @staticmethod
    def concat(batches: Sequence[ConfigBatch]) -> ConfigBatch:
        blocks, stages = batches[0].ks.shape[1], batches[0].d.shape[1]
        if any(b.ks.shape[1] != blocks or b.d.shape[1] != stages for b in batches):
            raise ValueError("Cannot concatenate batches of different numbers of blocks or stages.")
        return ConfigBatch.unchecked(np.concatenate([b.ks for b in batches]), np.concatenate([b.e for b in batches]),
                                     np.concatenate([b.d for b in batches]), np.concatenate([b.r for b in batches]))

    def active_mask(self) -> np.ndarray:
        """Boolean (N, n_blocks): True where the block lies within its stage's depth (computed once per batch)."""
        mask = self.__dict__.get("_active")
        if mask is None:
            position, stage = _block_layout(self.ks.shape[1], self.n_stages)
            mask = position[None, :] < self.d[:, stage]
            mask.setflags(write=False)
            object.__setattr__(self, "_active", mask)
        return mask

    def require_resolution(self) -> None:
        missing = np.flatnonzero(self.r == NO_RESOLUTION)
        if missing.size:
            raise ValueError(
                f"Config {int(missing[0])} of the batch has no resolution (r=None); "
                "set one with `config.with_resolution(r)`."
            )

    def canonical_codes(self) -> np.ndarray:
        """Integer rows that are equal exactly when two configs are the same subnet (inactive blocks ignored)."""
        mask = self.active_mask()
        return np.concatenate([np.where(mask, self.ks, 0), np.where(mask, self.e, 0), self.d, self.r[:, None]], axis=1)

    def unique_indices(self) -> np.ndarray:
        """Sorted indices of the first occurrence of each distinct subnet."""
        _, first = np.unique(self.canonical_codes(), axis=0, return_index=True)
        return np.sort(first)


SubnetConfig.batch_type = ConfigBatch  # what `ofa_tf.efficiency.as_batch` turns lists of these configs into


@functools.lru_cache(maxsize=None)
def _block_layout(n_blocks: int, n_stages: int) -> tuple[np.ndarray, np.ndarray]:
    """Each block's position in its stage and its stage."""
    depths = stage_depths(n_blocks, n_stages)
    return (np.concatenate([np.arange(n) for n in depths]),
            np.repeat(np.arange(n_stages), depths))


@functools.lru_cache(maxsize=None)
def stage_depths(n_blocks: int, n_stages: int) -> tuple[int, ...]:
    """Blocks per stage of a config layout: `ceil(n_blocks / n_stages)` each, the last stage what remains."""
    max_depth = -(-n_blocks // n_stages)
    return (max_depth,) * (n_stages - 1) + (n_blocks - (n_stages - 1) * max_depth,)


def reference_predictor_batch(configs) -> ConfigBatch:
    """Configs given to the reference's MobileNetV3 predictor (`ofa_tf.nas.pretrained_predictor`) as a batch: dicts
    or `SubnetConfig`s, each with a resolution."""
    configs = given_configs(configs, SubnetConfig, ConfigBatch)
    if isinstance(configs, ConfigBatch):
        return configs
    missing = [i for i, c in enumerate(configs) if c.r is None]
    if missing:
        raise ValueError(f"Config {missing[0]} has no resolution 'r'; the reference predictor needs one.")
    return ConfigBatch.from_configs(configs)
