"""What the configs of every family share: the resolution marker of config batches, integer checks, the config key."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NO_RESOLUTION = 0
"""Value of a config batch's `r` for a config whose resolution is None."""


def as_int(value, name: str) -> int:
    """`value` as an int; floats with a fraction (7.9) and non-numbers are refused, never truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer():
        raise ValueError(f"Invalid value in `{name}`: expected an integer. Received {value!r}.")
    return int(value)


def config_key(config) -> str:
    """Canonical string of a config of any family (`config.key()`; inactive blocks ignored), e.g. for caches and
    JSON files."""
    return config.key()


def given_configs(configs, config_type: type, batch_type: type):
    """What a user passed as configs: a batch of `batch_type` as it is, else a list of `config_type` configs (from a
    config, a dict, or a list of configs and dicts)."""
    if isinstance(configs, batch_type):
        return configs
    if isinstance(configs, (config_type, dict)):
        configs = [configs]
    if not isinstance(configs, Sequence):
        raise ValueError(f"Expected configs as a list of dicts/{config_type.__name__}s or a {batch_type.__name__}; "
                         f"received {type(configs).__name__}.")
    return [config_type.from_dict(c) if isinstance(c, dict) else c for c in configs]


def sort_choices(space, cast: type, *names: str) -> None:
    """Sets each choice list `names` of a frozen search-space dataclass to its values cast and sorted; an empty one
    is refused."""
    for name in names:
        values = tuple(sorted(cast(v) for v in getattr(space, name)))
        if not values:
            raise ValueError(f"`{name}` must not be empty.")
        object.__setattr__(space, name, values)


def config_resolution(config: dict, allowed: set[str], required: tuple[str, ...], what: str) -> int | None:
    """Checks a config dict's keys (`what` names it in messages, e.g. "subnet config") and returns its resolution:
    `r` or `image_size`, also given as `[int]` (the reference's arch dicts)."""
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(f"Unknown {what} keys {sorted(unknown)}; allowed keys are {sorted(allowed)}.")
    missing = set(required) - set(config)
    if missing:
        needs = ", ".join(repr(k) for k in required[:-1]) + f" and {required[-1]!r}"
        raise ValueError(f"{what[0].upper()}{what[1:]} is missing {sorted(missing)}; it needs {needs}.")
    r = config.get("r", config.get("image_size"))
    if isinstance(r, (list, tuple)):
        if len(r) != 1:
            raise ValueError(f"Resolution must be one int, received r={r}.")
        r = r[0]
    return r


class ConfigBase:
    """What one subnet config of every family does besides its checks: its dict (`ARCH_KEYS` and `r` when set), a
    copy at another resolution, and a JSON file (`save` / `load`, whose errors name the file)."""

    ARCH_KEYS: tuple[str, ...]  # the reference's arch dict keys, in order

    def to_dict(self) -> dict:
        out = {key: list(getattr(self, key)) for key in self.ARCH_KEYS}
        if self.r is not None:
            out["r"] = self.r
        return out

    def with_resolution(self, r: int | None):
        return dataclasses.replace(self, r=r)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: str | Path):
        """Reads a file written by `save` (or by `ofa-tf search`); errors name the file."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (ValueError, UnicodeDecodeError) as err:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{path}: {err}") from err
