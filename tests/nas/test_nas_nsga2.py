import numpy as np
import pytest

from ofa_tf.nas import ConfigBatch
from ofa_tf.nas import Constraint
from ofa_tf.nas import EfficiencyModel
from ofa_tf.nas import InfeasibleConstraintError
from ofa_tf.nas import MacsModel
from ofa_tf.nas import NetworkShape
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import ParamsModel
from ofa_tf.nas import crowding_distance
from ofa_tf.nas import non_dominated_sort
from ofa_tf.nas import nsga2_search
from ofa_tf.nas import pareto_plot
from ofa_tf.families.mbconv.space import SearchSpace

SPACE = SearchSpace(resolutions=(128, 160, 192, 224))
SHAPE = NetworkShape.mobilenet_v3(1.0)


class SevensCost(EfficiencyModel):
    """Toy cost: number of 7x7 kernels plus a penalty for every expand ratio above 3 (all 20 blocks)."""

    name, unit = "sevens", "blocks"

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        return (batch.ks == 7).sum(axis=1) + 0.5 * (batch.e != 3).sum(axis=1).astype(np.float64)


def _sevens_share(batch: ConfigBatch) -> np.ndarray:
    return (batch.ks == 7).mean(axis=1)


def _pairwise_non_dominated(objectives):
    for i, a in enumerate(objectives):
        for j, b in enumerate(objectives):
            if i != j and np.all(b <= a) and np.any(b < a):
                return False
    return True


def test_non_dominated_sort_and_crowding_on_a_hand_example():
    f = np.array([[1, 5], [2, 3], [3, 1], [2, 4], [4, 4], [5, 5], [1, 5]], dtype=float)
    assert non_dominated_sort(f).tolist() == [0, 0, 0, 1, 2, 3, 0]
    d = crowding_distance(np.array([[0, 4], [1, 2], [2, 1], [4, 0]], dtype=float))
    assert np.isinf(d[[0, 3]]).all()
    np.testing.assert_allclose(d[1:3], [2 / 4 + 3 / 4, 3 / 4 + 2 / 4])


def test_front_covers_a_known_toy_front():
    space = SearchSpace(n_stages=3, resolutions=(160, 224))  # 12 blocks: the front has 13 points
    # 120 generations: 8 of 8 seeds reach the all-sevens end (60: 7 of 8)
    front = nsga2_search(_sevens_share, [SevensCost()], space, config=NSGA2Config(n_generations=120), seed=0)
    points = {(round(a * 12), c) for a, c in zip(front.accuracy, front.efficiency["sevens"])}
    assert points == {(a, float(a)) for a in range(13)}  # the whole front: a sevens, every e = 3
    assert _pairwise_non_dominated(front.objectives())
    assert (non_dominated_sort(front.objectives()) == 0).all()
    assert np.all(np.diff(front.efficiency["sevens"]) >= 0)


def test_front_respects_constraints_and_is_non_dominated():
    macs, params = MacsModel(SHAPE), ParamsModel(SHAPE)
    constraints = [Constraint(params, 5.5)]

    def accuracy(batch):
        return np.log(macs.predict_batch(batch)) - 0.3 * (batch.ks == 7).mean(axis=1)

    front = nsga2_search(accuracy, [macs], SPACE, constraints, NSGA2Config(n_generations=30), seed=1)
    assert len(front) >= 10
    assert (params.predict(list(front.configs)) <= 5.5).all()
    np.testing.assert_allclose(front.efficiency["macs"], macs.predict(list(front.configs)))
    assert _pairwise_non_dominated(front.objectives())
    assert len({c for c in front.configs}) == len(front)


def test_same_seed_same_front_and_plot(tmp_path):
    macs = MacsModel(SHAPE)
    config = NSGA2Config(n_generations=10)
    fronts = [nsga2_search(_sevens_share, [macs, SevensCost()], SPACE, config=config, seed=s) for s in (3, 3, 4)]
    assert fronts[0].configs == fronts[1].configs
    np.testing.assert_array_equal(fronts[0].objectives(), fronts[1].objectives())
    assert fronts[0].configs != fronts[2].configs
    path = pareto_plot(fronts[0], tmp_path / "front.png", metric="macs")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="Unknown metric 'latency'"):
        pareto_plot(fronts[0], tmp_path / "x.png", metric="latency")


def test_infeasible_constraint_raises():
    macs = MacsModel(SHAPE)
    with pytest.raises(InfeasibleConstraintError, match="macs <= 5 M"):
        nsga2_search(_sevens_share, [SevensCost()], SPACE, [Constraint(macs, 5.0)], NSGA2Config(max_sampling_rounds=3))


def test_front_with_more_candidates_keeps_only_non_dominated_points():
    macs = MacsModel(SHAPE)
    front = nsga2_search(_sevens_share, [macs], SPACE, config=NSGA2Config(population_size=8, n_generations=2), seed=0)
    # A candidate better than the whole front at no more MACs than its cheapest point: on the new front, and
    # every point it dominates is gone; a dominated candidate changes nothing.
    cheapest = float(front.efficiency["macs"][0])
    better = SPACE.max_config(r=224)
    merged = front.with_candidates([better], [1.5], {"macs": [cheapest]})
    assert merged.configs[0] == better and len(merged) == 1
    assert _pairwise_non_dominated(merged.objectives())
    same = front.with_candidates([better], [-1.0], {"macs": [front.efficiency["macs"].max() + 1]})
    assert same.configs == front.configs
    np.testing.assert_array_equal(same.objectives(), front.objectives())
    with pytest.raises(ValueError, match="metrics"):
        front.with_candidates([better], [1.0], {"params": [1.0]})
