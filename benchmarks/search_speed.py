"""Times a full default evolutionary search (population 100, 500 generations) with the MLP accuracy predictor.

Run: `python benchmarks/search_speed.py`. The predictor is untrained (random weights): speed does not depend on them.
"""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ofa_tf.nas import AccuracyPredictor  # noqa: E402
from ofa_tf.nas import Constraint  # noqa: E402
from ofa_tf.nas import EvolutionConfig  # noqa: E402
from ofa_tf.nas import MacsModel  # noqa: E402
from ofa_tf.nas import NetworkShape  # noqa: E402
from ofa_tf.nas import ParamsModel  # noqa: E402
from ofa_tf.nas import evolution_search  # noqa: E402
from ofa_tf.families.mbconv.space import SearchSpace  # noqa: E402


def main() -> None:
    space = SearchSpace(resolutions=(128, 160, 192, 224))
    shape = NetworkShape.mobilenet_v3(1.0)
    predictor = AccuracyPredictor(space)
    constraints = [Constraint(MacsModel(shape), 300.0), Constraint(ParamsModel(shape), 6.0)]
    config = EvolutionConfig()
    predictor.predict([space.max_config(r=224)])  # trace the compiled forward pass once
    start, cpu_start = time.perf_counter(), time.process_time()
    result = evolution_search(predictor.predict_batch, space, constraints, config, seed=0)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(
        f"evolution_search: population {config.population_size}, {config.n_generations} generations, "
        f"{len(constraints)} constraints: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU "
        f"(untrained predictor; best {result.efficiency})"
    )


if __name__ == "__main__":
    main()
