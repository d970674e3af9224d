"""Feature vectors of subnets: `arch_encoder` picks the family's encoder (`ofa_tf/families/<family>/encoding.py`:
the layouts of the reference's `MobileNetArchEncoder` and `ResNetArchEncoder`, or per stage, `StageEncoder`)."""
from __future__ import annotations

from collections.abc import Sequence

FEATURES = ("block", "stage")
"""`arch_encoder`'s layouts: the reference's one-hot per block (`ArchEncoder`), or per stage (`StageEncoder`)."""


def arch_encoder(space, resolutions: Sequence[int] | None = None,
                 features: str = "block"):
    """The feature encoder of `space`'s supernet family (`space.arch_encoder`: `ResNetArchEncoder` for OFA-ResNets,
    else `ArchEncoder`), or `StageEncoder` with `features="stage"` (MobileNet-style spaces)."""
    if features not in FEATURES:
        raise ValueError(f"Unknown features {features!r}: expected one of {', '.join(FEATURES)}.")
    return space.arch_encoder(resolutions, features)
