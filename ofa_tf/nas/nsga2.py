"""Multi-objective search (NSGA-II): the Pareto front of predicted accuracy vs efficiency metrics."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ofa_tf.nas.candidates import Constraint
from ofa_tf.nas.candidates import Objective
from ofa_tf.nas.candidates import SamplingConfig
from ofa_tf.nas.candidates import one_blas_thread
from ofa_tf.nas.candidates import score
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.efficiency import EfficiencyModel
from ofa_tf.nas.resolutions import narrowed
from ofa_tf.nas.resolutions import search_resolutions
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class NSGA2Config(SamplingConfig):
    """Search hyper-parameters; population, operators and probabilities as in `EvolutionConfig` (`SamplingConfig`)."""

    n_generations: int = 200
    min_population: ClassVar[int] = 4

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.mutation_ratio <= 1:
            raise ValueError(f"`mutation_ratio` must be in [0, 1]; received mutation_ratio={self.mutation_ratio}.")


@dataclasses.dataclass(frozen=True)
class ParetoFront:
    """Non-dominated subnets, sorted by the first efficiency metric.

    `accuracy[i]` is the objective (higher is better) and `efficiency[name][i]` each metric (lower is better).
    """

    configs: tuple[SubnetConfig, ...]
    accuracy: np.ndarray
    efficiency: dict[str, np.ndarray]
    units: dict[str, str]

    def __len__(self) -> int:
        return len(self.configs)

    def objectives(self) -> np.ndarray:
        """(N, 1 + n_metrics) matrix to minimise: `[-accuracy, metric_1, ...]`."""
        return np.column_stack([-self.accuracy, *self.efficiency.values()])

    def with_candidates(self, configs: Sequence[SubnetConfig], accuracy, efficiency: dict) -> ParetoFront:
        """The front of these subnets and more candidates (e.g. the subnet another search chose), so that every
        candidate lies on or under it."""
        if set(efficiency) != set(self.efficiency):
            raise ValueError(f"Candidates have metrics {sorted(efficiency)}; the front has {sorted(self.efficiency)}.")
        all_configs = list(self.configs) + list(configs)
        acc = np.concatenate([self.accuracy, np.asarray(accuracy, np.float64)])
        eff = {name: np.concatenate([values, np.asarray(efficiency[name], np.float64)])
               for name, values in self.efficiency.items()}
        objectives = np.column_stack([-acc, *eff.values()])
        keep = np.sort(np.unique(objectives, axis=0, return_index=True)[1])  # one subnet per point
        front = keep[non_dominated_sort(objectives[keep]) == 0]
        front = front[np.argsort(objectives[front, 1], kind="stable")]
        return ParetoFront(tuple(all_configs[i] for i in front), acc[front],
                           {name: values[front] for name, values in eff.items()}, dict(self.units))


def non_dominated_sort(objectives: np.ndarray) -> np.ndarray:
    """Front index (0 = non-dominated) of each row of an (N, M) matrix to minimise."""
    f = np.asarray(objectives, dtype=np.float64)
    dominates = (f[:, None, :] <= f[None, :, :]).all(axis=2) & (f[:, None, :] < f[None, :, :]).any(axis=2)
    n_dominators = dominates.sum(axis=0)
    rank = np.full(len(f), -1)
    current = np.flatnonzero(n_dominators == 0)
    level = 0
    while current.size:
        rank[current] = level
        n_dominators = n_dominators - dominates[current].sum(axis=0)
        current = np.flatnonzero((n_dominators == 0) & (rank < 0))
        level += 1
    return rank


def crowding_distance(objectives: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance within one front (boundary points get inf)."""
    f = np.asarray(objectives, dtype=np.float64)
    n = len(f)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for m in range(f.shape[1]):
        order = np.argsort(f[:, m], kind="stable")
        values = f[order, m]
        span = values[-1] - values[0]
        distance[order[[0, -1]]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def _rank_and_crowding(objectives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rank = non_dominated_sort(objectives)
    crowd = np.empty(len(objectives))
    for level in range(rank.max() + 1):
        members = np.flatnonzero(rank == level)
        crowd[members] = crowding_distance(objectives[members])
    return rank, crowd


def _select(objectives: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` best rows: whole fronts first, the last front cut by crowding distance."""
    rank, crowd = _rank_and_crowding(objectives)
    order = np.lexsort((-crowd, rank))
    return order[:n]


def nsga2_search(
    objective: Objective,
    metrics: Sequence[EfficiencyModel],
    space: SearchSpace,
    constraints: Sequence[Constraint] = (),
    config: NSGA2Config = NSGA2Config(),
    seed: int | np.random.Generator = 0,
    resolutions: Sequence[int] | None = None,
) -> ParetoFront:
    """Pareto front of `objective` (maximised) against every metric in `metrics` (minimised), under `constraints`.

    Parents are chosen by binary tournament (front, then crowding distance); children are mutants and crossovers
    (feasible, see `CandidateSampler`); duplicates are dropped before environmental selection. Resolutions are
    drawn as in `evolution_search` (those every model covers, or `resolutions`).
    """
    if not metrics:
        raise ValueError("`metrics` is empty; give at least one EfficiencyModel (use `evolution_search` otherwise).")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"Metric names must be distinct; received {names}.")
    models = [objective, *metrics, *(c.model for c in constraints)]
    space = narrowed(space, search_resolutions(space, models, resolutions))
    rng = np.random.default_rng(seed)
    sampler = config.sampler(space, constraints, rng)  # the space draws, mutates and crosses its family's batches
    concat = space.batch_type.concat
    unique_indices = space.unique_indices

    def evaluate(batch: ConfigBatch) -> np.ndarray:
        return np.column_stack([-score(objective, batch), *(m.predict_batch(batch) for m in metrics)])

    with one_blas_thread():
        population, _ = sampler.random(config.population_size)
        keep = unique_indices(population)
        population = population.take(keep)
        values = evaluate(population)
        n_mutations = int(round(config.population_size * config.mutation_ratio))
        for _ in range(config.n_generations):
            rank, crowd = _rank_and_crowding(values)
            a, b = rng.integers(len(population), size=(2, config.population_size))
            a_wins = (rank[a] < rank[b]) | ((rank[a] == rank[b]) & (crowd[a] >= crowd[b]))
            pool = population.take(np.where(a_wins, a, b))
            mutants, _ = sampler.mutate(pool, n_mutations)
            crossed, _ = sampler.crossover(pool, config.population_size - n_mutations)
            merged = concat([population, mutants, crossed])
            unique = unique_indices(merged)
            is_new = unique >= len(population)
            merged_values = np.concatenate([values[unique[~is_new]], evaluate(merged.take(unique[is_new]))])
            merged = merged.take(unique)
            chosen = _select(merged_values, config.population_size)
            population, values = merged.take(chosen), merged_values[chosen]

    front = np.flatnonzero(non_dominated_sort(values) == 0)
    front = front[np.argsort(values[front, 1], kind="stable")]
    return ParetoFront(
        configs=tuple(population.take(front).to_configs()),
        accuracy=-values[front, 0],
        efficiency={name: values[front, 1 + i] for i, name in enumerate(names)},
        units={m.name: m.unit for m in metrics},
    )
