"""Vectorised candidate generation for the searches: random, mutated and crossed-over subnets under constraints."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.efficiency import EfficiencyModel

_MIN_BATCH = 64
_MAX_DRAWS = 4096  # per round of uniform draws: 100 rounds try up to ~400,000 subnets

Objective = Callable[[ConfigBatch], np.ndarray]
"""Higher is better, e.g. `AccuracyPredictor.predict_batch`; called on a whole population at once."""


def one_blas_thread():
    """A context in which NumPy's BLAS runs on one thread (threadpoolctl, which scikit-learn brings).

    A search works on arrays of ~100 candidates: a predictor's 100x400 @ 400x400 float32 product took 0.4 ms on
    one thread and 2-17 ms on two of a loaded 2-core machine, where the threads wait for each other.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn installs it
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def score(objective: Objective, batch: ConfigBatch) -> np.ndarray:
    """`objective(batch)` as a float64 vector, checked to hold one value per candidate."""
    scores = np.asarray(objective(batch), dtype=np.float64).reshape(-1)
    if scores.shape != (len(batch),):
        raise ValueError(f"The objective returned {scores.shape[0]} scores for {len(batch)} candidates.")
    return scores


class ScoreCache:
    """`objective` on a batch, each distinct subnet scored once per search: most children of a converging search are
    subnets it has scored before (the default search under a Note10 latency bound: 37,916 of 50,100). The
    objective must depend on the subnet only (a predictor).

    Args:
        objective: higher is better, on a whole batch.
        codes: rows equal exactly for the same subnet (`CandidateSampler.codes`).
    """

    def __init__(self, objective: Objective, codes: Callable):
        self.objective, self.codes = objective, codes
        self._scores: dict[bytes, float] = {}

    def __call__(self, batch) -> np.ndarray:
        return self.scores_and_keys(batch)[0]

    def scores_and_keys(self, batch) -> tuple[np.ndarray, list[bytes]]:
        """The scores of `batch` and each candidate's key (equal keys: the same subnet)."""
        keys = [row.tobytes() for row in np.ascontiguousarray(self.codes(batch))]
        new: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._scores:
                new.setdefault(key, i)
        if new:
            values = score(self.objective, batch.take(np.fromiter(new.values(), dtype=np.int64, count=len(new))))
            self._scores.update(zip(new, values.tolist()))
        return np.fromiter((self._scores[key] for key in keys), dtype=np.float64, count=len(keys)), keys


@dataclasses.dataclass(frozen=True)
class Constraint:
    """`model.predict(config) <= bound`, e.g. `Constraint(MacsModel(shape), 400.0)` for 400M MACs."""

    model: EfficiencyModel
    bound: float

    def __str__(self) -> str:
        return f"{self.model.name} <= {self.bound:g} {self.model.unit}"


class InfeasibleConstraintError(ValueError):
    """No subnet satisfies the constraints: the smallest subnet violates them at every allowed resolution, and no
    sampled subnet met them either."""


class CandidateSampler:
    """Draws feasible candidates in numpy batches and filters them with the vectorised efficiency models.

    As the reference's `EvolutionFinder` (`ofa/nas/search_algorithm/evolution.py`), every child slot has its
    parent(s) and is redrawn until feasible; here the redraws of all slots run as batches. A bound is infeasible
    only when the smallest subnet violates it at every allowed resolution (`InfeasibleConstraintError` says so, with
    its value); any other bound is searched, however tight: when `max_rounds` batches of uniform draws do not give a
    feasible population, the rest is seeded with the smallest feasible subnets and the feasible draws, and mutated
    from them. A slot whose mutants (or crossovers) stay infeasible for `max_rounds` rounds takes a copy of its
    (first) parent, which is feasible.

    Args:
        space: the search space of any family; its `random_batch`, `mutate_batch`, `crossover_batch` and
            `batch_codes` draw and compare candidates (resolutions are drawn from `space.resolutions`).
        constraints: all must hold for every returned candidate.
        rng: the only source of randomness.
        arch_mutate_prob: per block, probability to resample both ks and e; per stage, to resample d.
        resolution_mutate_prob: probability to resample the resolution.
        max_rounds: cap on the number of candidate batches per request.
    """

    def __init__(
        self,
        space,
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
        self._bounds = np.array([c.bound for c in self.constraints], dtype=np.float64)

    def efficiency(self, batch: ConfigBatch) -> np.ndarray:
        """(N, n_constraints) predicted values."""
        if not self.constraints:
            return np.zeros((len(batch), 0))
        return np.stack([c.model.predict_batch(batch) for c in self.constraints], axis=1)

    def codes(self, batch) -> np.ndarray:
        """Rows equal exactly when two candidates are the same subnet."""
        return self.space.batch_codes(batch)

    def _draw(self, n: int):
        return self.space.random_batch(n, self.rng)

    def _mutants(self, base):
        """One mutant per row of `base` (the space's `mutate_batch`)."""
        return self.space.mutate_batch(base, self.rng, self.arch_mutate_prob, self.resolution_mutate_prob)

    def _crossed(self, a, b):
        """One child per row pair (the space's `crossover_batch`)."""
        return self.space.crossover_batch(a, b, self.rng)

    def _smallest(self):
        """The smallest subnet at each allowed resolution."""
        return type(self._draw(0)).coerce([self.space.min_config(r=int(r)) for r in self.space.resolutions])

    def random(self, n: int) -> tuple[ConfigBatch, np.ndarray]:
        """`n` feasible candidates: uniformly random ones (rejection sampling); under a bound so tight that
        `max_rounds` batches give fewer, the rest are mutants of those and of the feasible smallest subnets."""
        kept, values, pending, n_tried = self._fill(lambda m: self._draw(m), n)
        if not pending.size:
            return kept, values
        smallest = self._smallest()
        smallest_values = self.efficiency(smallest)
        feasible = np.flatnonzero((smallest_values <= self._bounds).all(axis=1))
        if not len(kept) and not feasible.size:
            raise InfeasibleConstraintError(self._infeasible_message(smallest, smallest_values, n_tried))
        pool = type(kept).concat([kept, smallest.take(feasible)])
        walked, walked_values = self.mutate(pool, len(pending))
        return type(kept).concat([kept, walked]), np.concatenate([values, walked_values])

    def mutate(self, parents: ConfigBatch, n: int) -> tuple[ConfigBatch, np.ndarray]:
        """`n` feasible mutants, each of a uniformly chosen parent, redrawn until feasible (the reference's
        `mutate_sample`)."""
        chosen = parents.take(self.rng.integers(len(parents), size=n))
        return self._children(lambda slots: self._mutants(chosen.take(slots)), n, chosen)

    def crossover(self, parents: ConfigBatch, n: int) -> tuple[ConfigBatch, np.ndarray]:
        """`n` feasible children of two different parents (when there are two), each element from one of them,
        redrawn until feasible (the reference's `crossover_sample`)."""
        rng = self.rng
        first = rng.integers(len(parents), size=n)
        second = (first + rng.integers(1, len(parents), size=n)) % len(parents) if len(parents) > 1 else first
        a, b = parents.take(first), parents.take(second)
        return self._children(lambda slots: self._crossed(a.take(slots), b.take(slots)), n, a)

    def offspring(self, parents: ConfigBatch, n_mutations: int, n_crossovers: int) -> tuple[ConfigBatch, np.ndarray]:
        """`mutate(parents, n_mutations)` then `crossover(parents, n_crossovers)` as one batch whose slots are redrawn
        together (one efficiency evaluation per round for both kinds)."""
        rng, n_parents = self.rng, len(parents)
        chosen = parents.take(rng.integers(n_parents, size=n_mutations))
        first = rng.integers(n_parents, size=n_crossovers)
        second = (first + rng.integers(1, n_parents, size=n_crossovers)) % n_parents if n_parents > 1 else first
        a, b = parents.take(first), parents.take(second)

        def generate(slots):  # slots come sorted: the mutants' (< n_mutations) first
            crossed = slots >= n_mutations
            parts = [self._mutants(chosen.take(slots[~crossed]))]
            if crossed.any():
                parts.append(self._crossed(a.take(slots[crossed] - n_mutations), b.take(slots[crossed] - n_mutations)))
            return type(chosen).concat(parts)

        return self._children(generate, n_mutations + n_crossovers, type(chosen).concat([chosen, a]))

    def _children(self, generate, n: int, fallback) -> tuple[ConfigBatch, np.ndarray]:
        """`generate(slots)` (one candidate per slot index) until every slot holds a feasible one; after
        `max_rounds` rounds a slot takes its row of `fallback` (feasible parents)."""
        kept, values, pending, _ = self._fill(generate, n, per_slot=True)
        if not pending.size:
            return kept, values
        copies = fallback.take(pending)
        return type(kept).concat([kept, copies]), np.concatenate([values, self.efficiency(copies)])

    def _fill(self, generate, n: int, per_slot: bool = False):
        """Up to `max_rounds` rounds of candidates for the unfilled of `n` slots (per slot: one, then several as the
        slots run out; uniform draws: rounds of doubling size up to `_MAX_DRAWS`); the first feasible candidate of a
        slot fills it. `generate(m)` draws m candidates, or with
        `per_slot` `generate(slots)` one candidate for each slot index. Returns the feasible candidates and their
        values, the slots left unfilled and the number of candidates tried."""
        pieces, piece_values, slot_order = [], [], []
        pending = np.arange(n)
        done = np.zeros(n, dtype=bool)
        n_tried = 0
        for round_ in range(self.max_rounds):
            if not pending.size:
                break
            first = round_ == 0
            if per_slot:  # two tries each, then several per slot as the slots run out
                slots = np.repeat(pending, 2 if first else max(1, -(-_MIN_BATCH // len(pending))))
                candidates = generate(slots)
            else:  # uniform draws: rounds that double while few are feasible, as the reference draws until it has n
                slots = np.zeros(min(max(len(pending), _MIN_BATCH) << min(round_, 12), _MAX_DRAWS), dtype=np.int64)
                candidates = generate(len(slots))
            values = self.efficiency(candidates)
            n_tried += len(slots)
            ok = np.flatnonzero((values <= self._bounds).all(axis=1))
            if not per_slot:  # the slots are interchangeable: the first feasible candidates fill them in order
                ok = ok[: len(pending)]
                filled, rows = pending[: len(ok)], ok
            else:
                slots_ok = slots[ok]  # sorted: the first of each run is a slot's first feasible try
                earliest = np.flatnonzero(np.r_[True, slots_ok[1:] != slots_ok[:-1]]) if len(ok) else ok
                filled, rows = slots_ok[earliest], ok[earliest]
            if len(rows):
                pieces.append(candidates.take(rows))
                piece_values.append(values[rows])
                slot_order.append(filled)
            done[filled] = True
            pending = np.flatnonzero(~done)
        if not pieces:
            return self._draw(0), np.zeros((0, len(self.constraints))), pending, n_tried
        order = np.argsort(np.concatenate(slot_order), kind="stable")
        kept = type(pieces[0]).concat(pieces).take(order)
        return kept, np.concatenate(piece_values)[order], pending, n_tried

    def _infeasible_message(self, smallest, values: np.ndarray, n_tried: int) -> str:
        resolutions = ", ".join(str(int(r)) for r in self.space.resolutions)
        over = values > self._bounds
        always = [c for c in range(len(self.constraints)) if over[:, c].all()]
        if always:
            c = always[0]
            constraint, best = self.constraints[c], int(np.argmin(values[:, c]))
            floor = f"{values[best, c]:.6g} {constraint.model.unit}"
            return (
                f"Constraint `{constraint}` is infeasible: the smallest subnet gives {floor} at "
                f"r={int(smallest.r[best])}, its least over the allowed resolutions {resolutions}, and none of "
                f"{n_tried} random subnets met it. Raise the bound to at least that."
            )
        per_r = "; ".join(
            f"r={int(smallest.r[i])}: " + ", ".join(f"{self.constraints[c].model.name} {values[i, c]:.4g} "
                                                   f"{self.constraints[c].model.unit}" for c in np.flatnonzero(row))
            for i, row in enumerate(over)
        )
        return (
            f"Constraints {', '.join(f'`{c}`' for c in self.constraints)} cannot all hold: at every allowed resolution "
            f"the smallest subnet violates one ({per_r}), and none of {n_tried} random subnets met them all. "
            "Raise a bound."
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplingConfig:
    """What both searches share (`EvolutionConfig`, `NSGA2Config`): the population and the reference's candidate
    operators and probabilities (`CandidateSampler`); a search adds `n_generations` and its own ratios."""

    population_size: int = 100
    mutation_ratio: float = 0.5
    arch_mutate_prob: float = 0.1
    resolution_mutate_prob: float = 0.5
    max_sampling_rounds: int = 100
    min_population: ClassVar[int] = 2

    def __post_init__(self):
        if self.population_size < self.min_population or self.n_generations < 0:
            raise ValueError(
                f"Need population_size >= {self.min_population} and n_generations >= 0; "
                f"received {self.population_size}, {self.n_generations}."
            )

    def sampler(self, space, constraints: Sequence[Constraint], rng: np.random.Generator) -> CandidateSampler:
        """The candidate sampler of a search with these settings."""
        return CandidateSampler(space, constraints, rng, self.arch_mutate_prob, self.resolution_mutate_prob,
                                self.max_sampling_rounds)
