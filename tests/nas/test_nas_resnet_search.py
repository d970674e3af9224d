"""Constrained evolutionary search over an OFA-ResNet supernet, its MACs / params models, and export of the result."""
import numpy as np
import pytest

from ofa_tf.counting import profile
from ofa_tf.nas import Constraint
from ofa_tf.nas import evolution_search
from ofa_tf.nas import nsga2_search
from ofa_tf.nas.nsga2 import NSGA2Config
from ofa_tf.nas.evolution import EvolutionConfig
from ofa_tf.families.resnet.config import ResNetBatch
from ofa_tf.families.resnet.efficiency import ResNetMacsModel
from ofa_tf.families.resnet.efficiency import ResNetParamsModel
from ofa_tf.zoo import ofa_net

NET_ID = "ofa_resnet50_tiny"


@pytest.fixture(scope="module")
def net():
    return ofa_net(NET_ID, n_classes=10, dropout_rate=0.0)


def test_macs_and_params_models_equal_profile(net):
    space = net.search_space
    configs = [space.sample(i, with_resolution=True) for i in range(4)] + [space.max_config(32), space.min_config(24)]
    macs = ResNetMacsModel(net, millions=False).predict(configs)
    params = ResNetParamsModel(net, millions=False).predict(configs)
    for config, m, p in zip(configs, macs, params):
        net.set_active_config(config)
        counted = profile(net, config.r)
        assert (m, p) == (counted["macs_exact"], counted["params"]), config
    assert ResNetBatch.coerce(configs).to_configs() == configs


def test_released_resnet50_max_and_min_counts():
    net = ofa_net("ofa_resnet50")
    model = ResNetMacsModel(net, millions=False)
    space = net.search_space
    # reference_numbers.json: 7.49G / 0.962G MACs at 224 (the float32 sums differ by < 2e-7 relative)
    assert model.predict([space.max_config(224), space.min_config(224)]).tolist() == [7491643904, 962192128]
    assert ResNetParamsModel(net, millions=False).predict([space.max_config(224)]).tolist() == [48105992]


def test_constrained_search_finds_a_feasible_subnet_and_exports_it(net, tmp_path):
    from tools import export_subnet
    from tools import predict

    macs = ResNetMacsModel(net)
    space = net.search_space
    low, high = macs.predict([space.min_config(32), space.max_config(32)])
    bound = float(low + 0.3 * (high - low))
    params = ResNetParamsModel(net)
    result = evolution_search(params.predict_batch, space, [Constraint(macs, bound)],
                              EvolutionConfig(population_size=20, n_generations=10), seed=0)
    found = result.config
    space.validate(found)
    assert result.efficiency["macs"] <= bound and float(macs.predict([found])[0]) == result.efficiency["macs"]
    assert result.score == pytest.approx(float(params.predict([found])[0]))
    assert np.all(np.diff(result.history) >= 0) and result.history[-1] > result.history[0]
    exported = export_subnet(net, found, tmp_path / "found.tflite")
    net.set_active_config(found)
    x = np.random.default_rng(0).normal(size=(2, found.r, found.r, 3)).astype(np.float32)
    reference = net.get_active_subnet(resolution=found.r)(x, training=False).numpy()
    assert np.abs(predict(exported.path, x) - reference).max() <= 1e-5 * np.abs(reference).max()
    assert exported.metadata.subnet_config == found.to_dict()
    assert profile(net, found.r)["macs_exact"] / 1e6 <= bound


def test_nsga2_front_trades_macs_for_params_without_duplicates(net):
    space = net.search_space
    macs, params = ResNetMacsModel(net), ResNetParamsModel(net)
    front = nsga2_search(params.predict_batch, [macs], space, config=NSGA2Config(population_size=16, n_generations=4),
                         seed=0)
    assert len(front) >= 2 and np.all(np.diff(front.efficiency["macs"]) >= 0)
    # More MACs only on the front when it buys parameters (at the tiny widths, distinct subnets can tie on both).
    more_macs = np.diff(front.efficiency["macs"]) > 0
    assert np.all(np.diff(front.accuracy)[more_macs] > 0) and np.all(np.diff(front.accuracy)[~more_macs] == 0)
    batch = ResNetBatch.coerce(list(front.configs))
    assert len(batch.unique_indices(space)) == len(front)
    skipped_differs = ResNetBatch.coerce([space.min_config(32), space.min_config(32)])
    e = skipped_differs.e.copy()
    e[1, -1] = max(space.expand_list)  # the last block does not run at the smallest depth
    assert len(ResNetBatch(skipped_differs.d, e, skipped_differs.w, skipped_differs.r).unique_indices(space)) == 1
