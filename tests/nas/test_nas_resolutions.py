"""The resolutions a search draws: the search space's that the predictor and every latency table cover, or the ones
asked for; one clear error when none is common."""
import dataclasses

import numpy as np
import pytest
import yaml

from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import table_layers
from ofa_tf.latency import network_shape
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import Constraint
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import MacsModel
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import NetworkShape
from ofa_tf.nas import ResolutionError
from ofa_tf.nas import covered_resolutions
from ofa_tf.nas import evolution_search
from ofa_tf.nas import nsga2_search
from ofa_tf.nas import search_resolutions
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3

SPACE = SearchSpace(resolutions=tuple(range(128, 225, 4)))
SHAPE = NetworkShape.mobilenet_v3(1.0)
FAST = EvolutionConfig(population_size=16, n_generations=5)
NET = dict(n_classes=10, width_mult=0.5, ks_list=(3, 5), expand_list=(3,), depth_list=(1,), resolutions=(24, 28, 32))


@pytest.fixture(scope="module")
def tiny_tables(tmp_path_factory):
    """Per-resolution reference-format tables of a tiny net at 24 and 32 px (not 28)."""
    net = OFAMobileNetV3(**NET)
    folder = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)
    for r in (24, 32):
        entries = {layer.key: {"mean": float(rng.uniform(0.1, 1.0))} for layer in table_layers(net, [r], False)}
        (folder / f"{r}_lookup_table.yaml").write_text(yaml.safe_dump(entries))
    return net, [folder / "24_lookup_table.yaml", folder / "32_lookup_table.yaml"]


def test_covered_resolutions_of_each_kind_of_model(tiny_tables):
    net, paths = tiny_tables
    predictor = AccuracyPredictor(SPACE, resolutions=[160, 192, 224])
    assert covered_resolutions(predictor) == covered_resolutions(predictor.predict_batch) == (160, 192, 224)
    assert covered_resolutions(LatencyPredictor.from_files(paths, network_shape(net))) == (24, 32)
    assert covered_resolutions(MacsModel(SHAPE)) is None  # any resolution
    assert covered_resolutions(lambda batch: batch.r) is None


def test_the_search_draws_only_what_every_model_covers(tiny_tables):
    net, paths = tiny_tables
    lut = LatencyPredictor.from_files(paths, network_shape(net), name="tiny_latency")
    predictor = AccuracyPredictor(net.search_space)  # encodes 24, 28, 32
    result = evolution_search(predictor.predict_batch, net.search_space, [Constraint(lut, 100.0)], FAST, seed=0)
    assert result.resolutions == (24, 32)
    assert {c.r for c in result.population} <= {24, 32} and len({c.r for c in result.population}) == 2
    asked = evolution_search(predictor.predict_batch, net.search_space, [Constraint(lut, 100.0)], FAST, seed=0,
                             resolutions=[32])
    assert asked.resolutions == (32,) and {c.r for c in asked.population} == {32}
    front = nsga2_search(predictor.predict_batch, [lut], net.search_space, [Constraint(lut, 100.0)],
                         NSGA2Config(population_size=8, n_generations=3), seed=0)
    assert {c.r for c in front.configs} <= {24, 32}


def test_empty_intersection_and_uncovered_requests_are_one_clear_error(tiny_tables):
    net, paths = tiny_tables
    lut = LatencyPredictor.from_files(paths, network_shape(net), name="tiny_latency")
    predictor = AccuracyPredictor(net.search_space, resolutions=[28])
    with pytest.raises(ResolutionError, match=r"No resolution is covered by every model of the search \(the search "
                                              r"space: 24, 28, 32; the accuracy predictor: 28; the latency tables "
                                              r"'tiny_latency' \(.*24_lookup_table.yaml, .*32_lookup_table.yaml\): "
                                              r"24, 32\)"):
        evolution_search(predictor.predict_batch, net.search_space, [Constraint(lut, 100.0)], FAST)
    with pytest.raises(ResolutionError, match=r"Invalid resolution 28: not covered by the latency tables "
                                              r"'tiny_latency' .*; every model of the search covers 24, 32"):
        evolution_search(AccuracyPredictor(net.search_space).predict_batch, net.search_space,
                         [Constraint(lut, 100.0)], FAST, resolutions=[24, 28])
    with pytest.raises(ResolutionError, match=r"Invalid resolution 36: not covered by the search space nor the "
                                              r"latency tables"):
        search_resolutions(net.search_space, [lut], [36])
    with pytest.raises(ResolutionError, match=r"Invalid resolutions \[24.0\]"):
        search_resolutions(net.search_space, [lut], [24.0])


def test_defaults_keep_the_space_when_every_model_covers_it():
    predictor = AccuracyPredictor(SPACE)
    assert search_resolutions(SPACE, [predictor, MacsModel(SHAPE)]) == SPACE.resolutions
    narrow = dataclasses.replace(SPACE, resolutions=(128, 224))
    assert search_resolutions(narrow, [predictor]) == (128, 224)
