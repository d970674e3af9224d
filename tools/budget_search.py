"""One search per budget: evolution for the best subnet, NSGA-II for the Pareto front, from the same candidates."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import Constraint
from ofa_tf.nas import EfficiencyModel
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import ParetoFront
from ofa_tf.nas import evolution_search
from ofa_tf.nas import nsga2_search
from ofa_tf.families.mbconv.config import SubnetConfig


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """The best subnet under the constraints, its predictions, and the Pareto front."""

    config: SubnetConfig
    predicted_accuracy: float
    efficiency: dict[str, float]
    units: dict[str, str]
    front: ParetoFront | None
    seconds: float
    resolutions: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "predicted_accuracy": self.predicted_accuracy,
            "efficiency": self.efficiency,
            "units": self.units,
            "resolutions": list(self.resolutions),
            "pareto_front": None if self.front is None else front_to_dict(self.front),
            "search_seconds": self.seconds,
        }


def front_to_dict(front: ParetoFront) -> list[dict]:
    return [
        {"config": c.to_dict(), "predicted_accuracy": float(front.accuracy[i]),
         **{name: float(values[i]) for name, values in front.efficiency.items()}}
        for i, c in enumerate(front.configs)
    ]


def search_subnet(
    predictor: AccuracyPredictor,
    constraints: Sequence[Constraint],
    *,
    report_models: Sequence[EfficiencyModel] = (),
    pareto_metric: EfficiencyModel | None = None,
    evolution: EvolutionConfig = EvolutionConfig(),
    nsga2: NSGA2Config | None = NSGA2Config(),
    seed: int = 0,
    space=None,
    resolutions: Sequence[int] | None = None,
) -> SearchOutcome:
    """Evolution search for the most accurate subnet under `constraints`; NSGA-II for the front of accuracy vs
    `pareto_metric` (default: the first constraint's model) under the same constraints.

    The front and the chosen subnet come from the same candidates (NSGA-II's and evolution's best): the chosen
    subnet is the most accurate of them and lies on the front, and every front point is at most as accurate.
    `report_models` are evaluated on the chosen subnet too (e.g. MACs and params next to a latency bound).
    `space` narrows the predictor's space. Resolutions are those of the space that the predictor and every
    constraint's model cover, or `resolutions` (`ofa_tf.nas.search_resolutions`).
    """
    start = time.perf_counter()
    space = predictor.space if space is None else space
    result = evolution_search(predictor.predict_batch, space, constraints, evolution, seed, resolutions)
    config, accuracy = result.config, float(result.score)
    front = None
    metric = pareto_metric or (constraints[0].model if constraints else None)
    if nsga2 is not None and metric is not None:
        front = nsga2_search(predictor.predict_batch, [metric], space, constraints, nsga2, seed, result.resolutions)
        front = front.with_candidates([config], [accuracy], {metric.name: metric.predict(config)})
        best = int(front.accuracy.argmax())
        if front.accuracy[best] > accuracy:  # NSGA-II found a better subnet under the same constraints
            config, accuracy = front.configs[best], float(front.accuracy[best])
    models = {c.model.name: c.model for c in constraints}
    for model in report_models:
        models.setdefault(model.name, model)
    efficiency = {name: float(model.predict(config)[0]) for name, model in models.items()}
    return SearchOutcome(
        config=config,
        predicted_accuracy=accuracy,
        efficiency=efficiency,
        units={name: model.unit for name, model in models.items()},
        front=front,
        seconds=time.perf_counter() - start,
        resolutions=result.resolutions,
    )
