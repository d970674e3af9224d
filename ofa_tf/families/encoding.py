"""One-hot helpers every family's arch encoder shares (`ofa/nas/accuracy_predictor/arch_encoder.py`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ofa_tf.families.config import NO_RESOLUTION


def encoded_resolutions(space, resolutions: Sequence[int] | None) -> tuple[int, ...]:
    """`resolutions` (default: the space's) sorted; raises unless distinct and non-empty."""
    resolutions = space.resolutions if resolutions is None else resolutions
    encoded = tuple(sorted(int(r) for r in resolutions))
    if not encoded or len(set(encoded)) != len(encoded):
        raise ValueError(f"`resolutions` must be distinct and non-empty; received {list(resolutions)}.")
    return encoded


def value_index_table(values: Sequence[int]) -> np.ndarray:
    """Dense table value -> index (-1 where not allowed)."""
    values = list(values)
    table = np.full(max(values) + 1, -1, dtype=np.int64)
    table[list(values)] = np.arange(len(values))
    return table


def choice_indices(name: str, values: np.ndarray, table: np.ndarray, allowed: Sequence[int]) -> np.ndarray:
    inside = (values >= 0) & (values < len(table))
    idx = np.where(inside, table[np.clip(values, 0, len(table) - 1)], -1)
    if (idx < 0).any():
        value = int(values[idx < 0][0])
        if name == "r" and value == NO_RESOLUTION:
            raise ValueError(f"A config has no resolution (r=None); the encoder needs r in {list(allowed)}.")
        raise ValueError(f"Invalid value for `{name}`: expected one of {list(allowed)}. Received {name}={value}.")
    return idx
