"""The resolutions a search draws: those of the search space that every model it uses covers.

An accuracy predictor knows the resolutions it one-hot encodes (the reference tutorial's predictor its 16-px bins
112, 128, ..., 224: `(r - 112) // 16` in `ofa/tutorial/accuracy_predictor.py`), a latency table the ones it was
measured at (`ofa_tf.latency.LatencyTable.resolutions`); MACs and parameter counts hold at any resolution. A model
says which through its `resolutions` attribute (None or absent: any).
"""
from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterable
from collections.abc import Sequence


class ResolutionError(ValueError):
    """No resolution is common to the models of a search, or a requested one is not covered."""


def covered_resolutions(model) -> tuple[int, ...] | None:
    """The resolutions `model` predicts (its `resolutions`; for a bound method, its object's), None for any."""
    for candidate in (model, getattr(model, "__self__", None)):
        resolutions = getattr(candidate, "resolutions", None)
        if resolutions is not None:
            return tuple(sorted({int(r) for r in resolutions}))
    return None


def describe_model(model) -> str:
    """How errors and reports name a model: 'the accuracy predictor', "the latency table(s) 'note10_latency' (files)",
    "the macs model"."""
    owner = getattr(model, "__self__", model)
    tables = getattr(owner, "tables", None)
    if tables is not None:
        sources = [t.source for t in tables if getattr(t, "source", None)]
        plural = "s" if len(tables) > 1 else ""
        return f"the latency table{plural} {owner.name!r}" + (f" ({', '.join(sources)})" if sources else "")
    if hasattr(owner, "unit"):  # an EfficiencyModel
        return f"the {owner.name} model"
    return "the accuracy predictor"


def format_resolutions(values: Iterable[int]) -> str:
    """`160, 176, 192` or, for a long even run, `128-224 every 4 px`."""
    values = sorted(int(v) for v in values)
    steps = {b - a for a, b in zip(values, values[1:])}
    if len(values) > 5 and len(steps) == 1:
        return f"{values[0]}-{values[-1]} every {steps.pop()} px"
    return ", ".join(str(v) for v in values)


def search_resolutions(space, models: Sequence, requested: Iterable[int] | None = None) -> tuple[int, ...]:
    """The resolutions of `space` that every one of `models` covers (`covered_resolutions`), sorted; with
    `requested`, those (each checked to be covered).

    Raises `ResolutionError` (a ValueError) naming every side when no resolution is common, or naming the model that
    does not cover a requested resolution.
    """
    sides = [("the search space", tuple(space.resolutions))]
    sides += [(describe_model(m), covered) for m in models if (covered := covered_resolutions(m)) is not None]
    allowed = set(sides[0][1]).intersection(*(set(covered) for _, covered in sides[1:]))
    if not allowed:
        detail = "; ".join(f"{what}: {format_resolutions(covered)}" for what, covered in sides)
        raise ResolutionError(f"No resolution is covered by every model of the search ({detail}): use a predictor and "
                         "latency tables of common resolutions.")
    if requested is None:
        return tuple(sorted(allowed))
    values = list(requested)
    bad = [r for r in values if isinstance(r, bool) or not isinstance(r, numbers.Integral)]
    if bad or not values:
        raise ResolutionError(f"Invalid resolutions {bad or values}: expected a non-empty list of image sizes (ints), "
                         f"e.g. {format_resolutions(sorted(allowed))}.")
    chosen = tuple(sorted({int(r) for r in values}))
    for r in chosen:
        missing = [what for what, covered in sides if r not in covered]
        if missing:
            raise ResolutionError(f"Invalid resolution {r}: not covered by {' nor '.join(missing)}; every model of the "
                             f"search covers {format_resolutions(sorted(allowed))}.")
    return chosen


def narrowed(space, resolutions: Sequence[int]):
    """`space` with only `resolutions` (`space` itself when they are all of its own)."""
    resolutions = tuple(resolutions)
    return space if resolutions == tuple(space.resolutions) else dataclasses.replace(space, resolutions=resolutions)
