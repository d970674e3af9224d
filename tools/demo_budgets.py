"""The demo's budgets: one MACs budget and one host-latency budget that bind (`ofa-tf demo`, `tools.demo`).

A budget at a fixed fraction of the way from the smallest to the largest subnet need not constrain anything: in one
demo the host budget (1.25 ms) was above every subnet on the front (up to 0.64 ms), so the latency search picked the
same subnet as the MACs search. Each budget here is read from the unconstrained Pareto front of predicted top-1
against its metric instead.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ofa_tf.nas import MacsModel
from ofa_tf.nas import NetworkShape
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import nsga2_search

from .budgets import Budget
from .specialize import covered_space


@dataclasses.dataclass(frozen=True)
class DemoBudget:
    """One of the demo's budgets and the unconstrained Pareto front (predicted top-1 vs its metric) it was read
    from: the budget is the front's `quantile`, below the metric of the front's most accurate subnet, so the
    search under it cannot take that subnet (the budget binds)."""

    device: str
    budget: Budget
    quantile: float
    front_size: int
    front_range: tuple[float, float]
    best_value: float  # the metric of the most accurate subnet on the front (the unconstrained choice)
    best_accuracy: float
    largest_value: float  # the metric of the largest subnet (max config at the largest searched resolution)

    @property
    def binds(self) -> bool:
        return self.budget.value < self.best_value

    def describe(self) -> str:
        unit = self.budget.unit
        where = "the median" if self.quantile == 0.5 else f"the {self.quantile:g} quantile"
        text = (f"{self.device}: {self.budget}, {where} of the {self.front_size} subnets on the unconstrained "
                f"front of predicted top-1 vs {self.budget.metric} ({self.front_range[0]:.4g}-"
                f"{self.front_range[1]:.4g} {unit})")
        text += (f"; the front's most accurate subnet needs {self.best_value:.4g} {unit}, the largest subnet "
                 f"{self.largest_value:.4g} {unit}")
        return text + ("." if self.binds else
                       "; the predictor ranks a subnet under the budget best, so the budget does not bind.")

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "budget": str(self.budget), "metric": self.budget.metric,
                "bound": self.budget.value, "unit": self.budget.unit, "binds": self.binds}


def demo_budgets(predictor, shape: NetworkShape, space, host_model, quantiles: tuple[float, float] = (0.5, 0.5),
                 nsga2: NSGA2Config = NSGA2Config(), seed: int = 0) -> list[DemoBudget]:
    """The demo's two budgets: a MACs budget and a host-latency budget, each at `quantiles` of the metric along the
    unconstrained Pareto front of `predictor`'s top-1 against it (NSGA-II, the front `specialize` plots; MACs over
    the whole space, the latency at the resolutions the host table `host_model` covers). A front runs from its
    smallest subnet to its most accurate one, so a quantile below 1 constrains the search: a budget a fixed
    fraction of the way to the largest subnet did not bind when the predictor's best subnet was smaller. A budget
    however tight is searched (any bound the smallest subnet meets, `ofa_tf.nas.candidates`), so none is raised
    toward the random subnets: raised to the bound 2% of them met, a demo's host budget once rose above its front's
    most accurate subnet and did not bind."""
    timed = covered_space(space, host_model)  # the resolutions the host table covers
    budgets = []
    for (device, metric, model, searched, decimals), quantile in zip(
            (("macs_budget", "macs", MacsModel(shape), space, 3), ("host", "latency", host_model, timed, 4)),
            quantiles):
        front = nsga2_search(predictor.predict_batch, [model], searched, (), nsga2, seed)
        ends = [searched.min_config(r=min(searched.resolutions)), searched.max_config(r=max(searched.resolutions))]
        ends_value = model.predict(ends)
        front = front.with_candidates(ends, predictor.predict(ends), {model.name: ends_value})
        values = np.asarray(front.efficiency[model.name], np.float64)
        best = int(np.argmax(front.accuracy))
        step = 10.0 ** -decimals
        on_front = np.floor(np.quantile(values, quantile) / step) * step  # rounded down: stays below the best
        bound = max(on_front, np.ceil(values.min() / step) * step)  # at least the front's smallest subnet
        budgets.append(DemoBudget(
            device, Budget(metric, round(float(bound), decimals)), quantile, len(front),
            (float(values.min()), float(values.max())), float(values[best]), float(front.accuracy[best]),
            float(ends_value[1])))
    return budgets
