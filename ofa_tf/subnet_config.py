"""Architecture as data: the elastic search space and one subnet configuration in it."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

_CONFIG_KEYS = {"ks", "e", "d", "r", "image_size", "wid"}


@dataclasses.dataclass(frozen=True)
class SubnetConfig:
    """One subnet: per-block kernel sizes and expand ratios, per-stage depths, optional resolution.

    `ks` and `e` always hold one entry per block (also for blocks beyond a stage's depth, which are
    ignored), `d` one entry per stage, exactly as the reference's arch dicts.
    """

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int | None = None

    def __post_init__(self):
        for name in ("ks", "e", "d"):
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
                raise ValueError(f"`{name}` must be a list of ints; received {name}={values!r}.")
            object.__setattr__(self, name, tuple(_integer(v, name) for v in values))
        if self.r is not None:
            object.__setattr__(self, "r", _integer(self.r, "r"))

    def to_dict(self) -> dict:
        out = {"ks": list(self.ks), "e": list(self.e), "d": list(self.d)}
        if self.r is not None:
            out["r"] = self.r
        return out

    @classmethod
    def from_dict(cls, config: dict) -> SubnetConfig:
        """Reads `get_active_subnet_config()` output; also accepts the reference's `image_size` / `r: [int]`."""
        if not isinstance(config, dict):
            raise ValueError(f"A subnet config is a JSON object with 'ks', 'e' and 'd' (and optionally 'r'); "
                             f"received {type(config).__name__} {config!r:.60}.")
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise ValueError(
                f"Unknown subnet config keys {sorted(unknown)}; allowed keys are {sorted(_CONFIG_KEYS)}."
            )
        missing = {"ks", "e", "d"} - set(config)
        if missing:
            raise ValueError(f"Subnet config is missing {sorted(missing)}; it needs 'ks', 'e' and 'd'.")
        r = config.get("r", config.get("image_size"))
        if isinstance(r, (list, tuple)):
            if len(r) != 1:
                raise ValueError(f"Resolution must be one int, received r={r}.")
            r = r[0]
        return cls(ks=config["ks"], e=config["e"], d=config["d"], r=r)

    @property
    def short_name(self) -> str:
        """A readable label: depths, then mean kernel size and expand ratio of the active blocks (`d34243 k5.2 e4.1`)."""
        per_stage = len(self.ks) // max(len(self.d), 1)
        active = [s * per_stage + i for s, depth in enumerate(self.d) for i in range(depth)]
        ks = [self.ks[b] for b in active if b < len(self.ks)] or [0]
        e = [self.e[b] for b in active if b < len(self.e)] or [0]
        return f"d{''.join(map(str, self.d))} k{np.mean(ks):.1f} e{np.mean(e):.1f}"

    def with_resolution(self, r: int | None) -> SubnetConfig:
        return dataclasses.replace(self, r=r)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SubnetConfig:
        """Reads a file written by `save` (or by `ofa-tf search`); errors name the file."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (ValueError, UnicodeDecodeError) as err:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{path}: {err}") from err


def _integer(value, name: str) -> int:
    """`value` as an int; floats with a fraction (7.9) and non-numbers are refused, never truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer():
        raise ValueError(f"Invalid value in `{name}`: expected an integer. Received {value!r}.")
    return int(value)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The elastic dimensions of a supernet: choices per block/stage and the resolutions.

    `stage_depths` holds each stage's number of blocks (default `max(depth_list)` for all `n_stages`); a
    shorter stage clamps its depth as the reference's `min(len(block_idx), d)`, e.g. ProxylessNAS's final
    one-block stage.
    """

    config_type: ClassVar[type] = SubnetConfig

    ks_list: tuple[int, ...] = (3, 5, 7)
    expand_list: tuple[int, ...] = (3, 4, 6)
    depth_list: tuple[int, ...] = (2, 3, 4)
    n_stages: int = 5
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    stage_depths: tuple[int, ...] | None = None

    def __post_init__(self):
        for name in ("ks_list", "expand_list", "depth_list", "resolutions"):
            values = tuple(sorted(int(v) for v in getattr(self, name)))
            if not values:
                raise ValueError(f"`{name}` must not be empty.")
            object.__setattr__(self, name, values)
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
            return (_integer(value, name),) * length
        if not isinstance(value, Sequence) and not isinstance(value, np.ndarray):
            raise ValueError(f"`{name}` must be an int or a list of {length} ints; received {name}={value!r}.")
        value = list(value)
        if len(value) != length:
            raise ValueError(
                f"`{name}` must be an int or a list of length {length}; received a list of length {len(value)}."
            )
        return tuple(p if v is None else _integer(v, name) for v, p in zip(value, previous))

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
