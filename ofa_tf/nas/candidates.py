"""Vectorised candidate generation for the searches: random, mutated and crossed-over subnets under constraints."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from collections.abc import Sequence

import numpy as np

from ofa_tf.nas.config_batch import ConfigBatch
from ofa_tf.nas.efficiency import EfficiencyModel
from ofa_tf.subnet_config import SearchSpace

_MIN_BATCH = 64
logger = logging.getLogger(__name__)

Objective = Callable[[ConfigBatch], np.ndarray]
"""Higher is better, e.g. `AccuracyPredictor.predict_batch`; called on a whole population at once."""


def score(objective: Objective, batch: ConfigBatch) -> np.ndarray:
    """`objective(batch)` as a float64 vector, checked to hold one value per candidate."""
    scores = np.asarray(objective(batch), dtype=np.float64).reshape(-1)
    if scores.shape != (len(batch),):
        raise ValueError(f"The objective returned {scores.shape[0]} scores for {len(batch)} candidates.")
    return scores


@dataclasses.dataclass(frozen=True)
class Constraint:
    """`model.predict(config) <= bound`, e.g. `Constraint(MacsModel(shape), 400.0)` for 400M MACs."""

    model: EfficiencyModel
    bound: float

    def __str__(self) -> str:
        return f"{self.model.name} <= {self.bound:g} {self.model.unit}"


class InfeasibleConstraintError(ValueError):
    """No (or too few) candidates satisfy the constraints within the sampling cap."""


class CandidateSampler:
    """Draws feasible candidates in numpy batches and filters them with the vectorised efficiency models.

    Rejection sampling is capped: after `max_rounds` batches the feasible candidates found fill the request (some
    repeated) when there are any; when there are none it raises `InfeasibleConstraintError` naming the constraint
    that failed and the best value that was reached.

    Args:
        space: the search space (resolutions are drawn from `space.resolutions`).
        constraints: all must hold for every returned candidate.
        rng: the only source of randomness.
        arch_mutate_prob: per block, probability to resample both ks and e; per stage, to resample d.
        resolution_mutate_prob: probability to resample the resolution.
        max_rounds: cap on the number of candidate batches per request.
    """

    def __init__(
        self,
        space: SearchSpace,
        constraints: Sequence[Constraint],
        rng: np.random.Generator,
        arch_mutate_prob: float,
        resolution_mutate_prob: float,
        max_rounds: int,
    ):
        for name, p in (("arch_mutate_prob", arch_mutate_prob), ("resolution_mutate_prob", resolution_mutate_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f"`{name}` must be in [0, 1]; received {name}={p}.")
        if max_rounds < 1:
            raise ValueError(f"`max_rounds` must be >= 1; received max_rounds={max_rounds}.")
        self.space = space
        self.constraints = tuple(constraints)
        self.rng = rng
        self.arch_mutate_prob = arch_mutate_prob
        self.resolution_mutate_prob = resolution_mutate_prob
        self.max_rounds = max_rounds

    def efficiency(self, batch: ConfigBatch) -> np.ndarray:
        """(N, n_constraints) predicted values."""
        if not self.constraints:
            return np.zeros((len(batch), 0))
        return np.stack([c.model.predict_batch(batch) for c in self.constraints], axis=1)

    def _draw(self, n: int) -> ConfigBatch:
        rng, space = self.rng, self.space
        return ConfigBatch(
            rng.choice(space.ks_list, size=(n, space.n_blocks)),
            rng.choice(space.expand_list, size=(n, space.n_blocks)),
            np.minimum(rng.choice(space.depth_list, size=(n, space.n_stages)), space.stage_depths),
            rng.choice(space.resolutions, size=n),
        )

    def random(self, n: int) -> tuple[ConfigBatch, np.ndarray]:
        """`n` uniformly random feasible candidates and their efficiency values."""
        return self._feasible(self._draw, n, "random sampling")

    def mutate(self, parents: ConfigBatch, n: int) -> tuple[ConfigBatch, np.ndarray]:
        """`n` feasible mutants of uniformly chosen parents."""

        def generate(m: int) -> ConfigBatch:
            rng, p = self.rng, self.arch_mutate_prob
            base = parents.take(rng.integers(len(parents), size=m))
            fresh = self._draw(m)
            block = rng.random(base.ks.shape) < p
            stage = rng.random(base.d.shape) < p
            res = rng.random(m) < self.resolution_mutate_prob
            return ConfigBatch(
                np.where(block, fresh.ks, base.ks),
                np.where(block, fresh.e, base.e),
                np.where(stage, fresh.d, base.d),
                np.where(res, fresh.r, base.r),
            )

        return self._feasible(generate, n, "mutation")

    def crossover(self, parents: ConfigBatch, n: int) -> tuple[ConfigBatch, np.ndarray]:
        """`n` feasible children, each element (ks, e per block, d per stage, r) taken from one of two parents."""

        def generate(m: int) -> ConfigBatch:
            rng = self.rng
            first = rng.integers(len(parents), size=m)
            second = (first + rng.integers(1, len(parents), size=m)) % len(parents) if len(parents) > 1 else first
            a, b = parents.take(first), parents.take(second)
            pick = {name: rng.random(getattr(a, name).shape) < 0.5 for name in ("ks", "e", "d", "r")}
            return ConfigBatch(
                *(np.where(pick[name], getattr(a, name), getattr(b, name)) for name in ("ks", "e", "d", "r"))
            )

        return self._feasible(generate, n, "crossover")

    def _feasible(self, generate: Callable[[int], ConfigBatch], n: int, what: str) -> tuple[ConfigBatch, np.ndarray]:
        if n <= 0:
            empty = self._draw(0)
            return empty, np.zeros((0, len(self.constraints)))
        bounds = np.array([c.bound for c in self.constraints])
        kept, kept_values, n_kept, n_tried = [], [], 0, 0
        best = np.full(len(self.constraints), np.inf)
        n_ok = np.zeros(len(self.constraints), dtype=np.int64)
        for _ in range(self.max_rounds):
            candidates = generate(max(2 * (n - n_kept), _MIN_BATCH))
            values = self.efficiency(candidates)
            ok_each = values <= bounds
            ok = ok_each.all(axis=1)
            n_tried += len(candidates)
            n_ok += ok_each.sum(axis=0)
            if len(values):
                best = np.minimum(best, values.min(axis=0))
            idx = np.flatnonzero(ok)[: n - n_kept]
            kept.append(candidates.take(idx))
            kept_values.append(values[idx])
            n_kept += len(idx)
            if n_kept == n:
                return type(candidates).concat(kept), np.concatenate(kept_values)
        if n_kept:  # reachable but rare: the feasible candidates found fill the request, some of them twice
            found, found_values = type(candidates).concat(kept), np.concatenate(kept_values)
            repeat = self.rng.integers(n_kept, size=n - n_kept)
            logger.log(logging.INFO if what == "random sampling" else logging.DEBUG,
                       "The constraints are tight: %s found %d of %d feasible candidates in %d tries; %d of them are "
                       "repeated.", what, n_kept, n, n_tried, n - n_kept)
            return type(candidates).concat([found, found.take(repeat)]), np.concatenate([found_values,
                                                                                         found_values[repeat]])
        raise InfeasibleConstraintError(self._infeasible_message(what, n, n_kept, n_tried, n_ok, best))

    def _infeasible_message(self, what, n, n_kept, n_tried, n_ok, best) -> str:
        worst = int(np.argmin(n_ok))
        constraint = self.constraints[worst]
        smallest = self.space.min_config(r=min(self.space.resolutions))
        floor = float(constraint.model.predict([smallest])[0])
        return (
            f"Constraint `{constraint}` looks infeasible: {what} found {n_kept} of {n} feasible candidates in "
            f"{n_tried} tries ({self.max_rounds} rounds). The best {constraint.model.name} reached was "
            f"{best[worst]:g} {constraint.model.unit} (the smallest subnet at r={smallest.r} gives "
            f"{floor:g} {constraint.model.unit}); "
            f"{int(n_ok[worst])} candidates met this constraint alone. Raise the bound above the reachable value."
        )
