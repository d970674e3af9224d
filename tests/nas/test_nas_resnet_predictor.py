"""Arch encoding, accuracy dataset and predictor on OFA-ResNet subnets (`ofa_resnet50` space and the tiny supernet)."""
import json

import numpy as np
import pytest

from ofa_tf.nas import AccuracyDataset
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import ArchEncoder
from ofa_tf.nas import PredictorTrainingConfig
from ofa_tf.nas import ResNetArchEncoder
from ofa_tf.nas import arch_encoder
from ofa_tf.nas import build_accuracy_dataset
from ofa_tf.families.resnet.efficiency import ResNetMacsModel
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.zoo import ofa_net

SPACE = ResNetSearchSpace()  # ofa_resnet50: 18 blocks in stages of 4, 4, 6, 4


def test_arch_encoder_picks_the_family_encoder():
    assert isinstance(arch_encoder(SPACE), ResNetArchEncoder)
    assert isinstance(arch_encoder(SearchSpace()), ArchEncoder)


def test_resnet_encoding_is_the_reference_layout():
    encoder = ResNetArchEncoder(SPACE, resolutions=[160, 224])
    # 2 resolutions + 2 stem bits + 6 width parts x 3 + 18 blocks x 3 expand ratios
    assert encoder.n_dim == 2 + 2 + 18 + 54 == 76
    assert ResNetArchEncoder(SPACE, resolutions=[224]).n_dim == 75
    d = (0, 0, 2, 1, 0)  # stem skipped; stages run 2, 4, 5, 2 of their 4, 4, 6, 4 blocks
    e = (0.2, 0.25, 0.35) * 6
    w = (0, 1, 2, 2, 1, 0)
    row = encoder.encode([ResNetConfig(d, e, w, r=224)])[0]
    assert row.dtype == np.float32 and set(np.unique(row)) == {0.0, 1.0}
    np.testing.assert_array_equal(row[:2], [0, 1])
    np.testing.assert_array_equal(row[2:4], [1, 0])
    np.testing.assert_array_equal(row[4:22].reshape(6, 3).argmax(axis=1), w)
    assert row[4:22].sum() == 6
    e_part = row[22:].reshape(18, 3)
    running = np.array([1, 1, 0, 0] + [1] * 4 + [1] * 5 + [0] + [1, 1, 0, 0], dtype=bool)
    np.testing.assert_array_equal(e_part.sum(axis=1), running)
    np.testing.assert_array_equal(e_part.argmax(axis=1)[running], np.tile([0, 1, 2], 6)[running])
    assert row.sum() == 1 + 1 + 6 + running.sum()
    stem_run = encoder.encode(ResNetConfig((2,) + d[1:], e, w, r=160))[0]
    np.testing.assert_array_equal(stem_run[:4], [1, 0, 0, 1])


def test_resnet_encoding_ignores_skipped_blocks_and_rejects_bad_values():
    encoder = ResNetArchEncoder(SPACE)
    config = SPACE.min_config(r=224)
    other = ResNetConfig(config.d, (0.35,) * 18, config.w, 224)
    shallow = encoder.encode([config])[0] != encoder.encode([other])[0]
    assert shallow.sum() == 2 * 10  # the 10 base blocks run at depth 0 and differ; the 8 skipped do not
    with pytest.raises(ValueError, match=r"Invalid value for `e`: expected one of \[0.2, 0.25, 0.35\]. Received e=0.3"):
        encoder.encode(ResNetConfig(config.d, (0.3,) * 18, config.w, 224))
    with pytest.raises(ValueError, match="Invalid value for `w`"):
        encoder.encode(ResNetConfig(config.d, config.e, (3,) * 6, 224))
    with pytest.raises(ValueError, match="Invalid value for `r`"):
        encoder.encode(config.with_resolution(100))
    with pytest.raises(ValueError, match="expects 18"):
        encoder.encode(ResNetConfig(config.d, config.e[:4], config.w, 224))


@pytest.fixture(scope="module")
def tiny():
    return ofa_net("ofa_resnet50_tiny", n_classes=10, dropout_rate=0.0)


def test_predictor_fits_tiny_resnet_subnets_and_round_trips(tiny, tmp_path):
    space = tiny.search_space
    macs = ResNetMacsModel(tiny)

    def evaluate(config):  # top-1 rising with log-MACs: a real, non-linear function of the arch
        return float(0.5 + 0.1 * np.log(macs.predict([config])[0] / macs.predict([space.min_config(24)])[0]))

    cache = tmp_path / "acc.jsonl"
    configs, accs = build_accuracy_dataset(evaluate, space, 400, cache, seed=0, verbose=False)
    assert len({json.dumps(c.to_dict()) for c in configs}) == 400 and all(isinstance(c, ResNetConfig) for c in configs)
    calls = []
    again, accs_again = build_accuracy_dataset(lambda c: calls.append(c) or 0.0, space, 400, cache, seed=0,
                                               verbose=False)
    assert not calls and again == configs  # resumed entirely from the cache
    np.testing.assert_array_equal(accs_again, accs)
    loaded = AccuracyDataset.load(cache)
    assert loaded.configs == tuple(configs)

    predictor = AccuracyPredictor(space, n_layers=2, seed=0)
    report = predictor.fit(loaded, PredictorTrainingConfig(epochs=30, batch_size=32, seed=0))
    # measured: held-out RMSE 0.62 x the mean-predictor's, Kendall tau 0.59, Spearman 0.79
    assert report.n_val == 80 and report.rmse < 0.75 * report.baseline_rmse and report.kendall_tau > 0.45
    predictor.save(tmp_path / "predictor")
    assert json.loads((tmp_path / "predictor" / "predictor.json").read_text())["family"] == "resnet"
    reloaded = AccuracyPredictor.load(tmp_path / "predictor")
    assert isinstance(reloaded.space, ResNetSearchSpace) and reloaded.space == space
    np.testing.assert_allclose(reloaded.predict(configs[:10]), predictor.predict(configs[:10]), rtol=0, atol=1e-7)


def test_dataset_keys_ignore_skipped_blocks_and_the_stem_depth_alias(tmp_path):
    from ofa_tf.nas.accuracy_dataset import _key

    base = SPACE.min_config(r=224)
    skipped_differ = ResNetConfig(base.d, base.e[:2] + (0.35,) * 2 + base.e[4:], base.w, 224)  # blocks 2, 3 skipped
    assert _key(skipped_differ, SPACE) == _key(base, SPACE) != _key(skipped_differ)
    stem_alias = ResNetConfig((1,) + base.d[1:], base.e, base.w, 224)  # d[0] < max also skips the stem residual
    assert _key(stem_alias, SPACE) == _key(base, SPACE)
    running_differ = ResNetConfig(base.d, (0.35,) + base.e[1:], base.w, 224)
    assert _key(running_differ, SPACE) != _key(base, SPACE)


def test_host_latency_line_over_resnet_macs(tiny):
    from ofa_tf.nas import MacsLatencyModel

    macs = ResNetMacsModel(tiny)
    configs = [tiny.search_space.sample(np.random.default_rng(i), with_resolution=True) for i in range(6)]
    latencies = 0.5 + 2.0 * macs.predict(configs)
    model = MacsLatencyModel.fit(macs, configs, latencies, name="host_latency")
    assert model.intercept_ms == pytest.approx(0.5) and model.ms_per_mmac == pytest.approx(2.0)
    np.testing.assert_allclose(model.predict(configs), latencies, rtol=1e-9)
    with pytest.raises(ValueError, match="MACs in millions; received a model in MACs"):
        MacsLatencyModel(ResNetMacsModel(tiny, millions=False), 0.0, 1.0)
