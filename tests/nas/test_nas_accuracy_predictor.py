import numpy as np
import pytest

from ofa_tf.nas import AccuracyDataset
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import NetworkShape
from ofa_tf.nas import PredictorTrainingConfig
from ofa_tf.nas import count_macs
from ofa_tf.families.mbconv.space import SearchSpace

SPACE = SearchSpace(resolutions=(128, 160, 192, 224))


def _synthetic_dataset(n, seed):
    """Accuracy rising with log-MACs (a non-linear function of the encoding), plus noise."""
    rng = np.random.default_rng(seed)
    configs = [SPACE.sample(rng).with_resolution(int(rng.choice(SPACE.resolutions))) for _ in range(n)]
    macs = count_macs(NetworkShape.mobilenet_v3(), configs) / 1e6
    accs = 0.62 + 0.1 * np.log(macs / 100) + rng.normal(0, 0.003, n)
    return AccuracyDataset(configs, np.clip(accs, 0, 1))


@pytest.fixture(scope="module")
def trained():
    predictor = AccuracyPredictor(SPACE, seed=0)
    dataset = _synthetic_dataset(1000, seed=0)
    report = predictor.fit(dataset, PredictorTrainingConfig(epochs=15, batch_size=128, seed=0))
    return predictor, dataset, report


def test_predictor_structure():
    predictor = AccuracyPredictor(SPACE, resolutions=(224,))
    dense = [layer for layer in predictor.model.layers if layer.name.startswith("dense")]
    assert [layer.units for layer in dense] == [400, 400, 400]
    head = predictor.model.get_layer("head")
    assert head.units == 1 and not head.use_bias
    assert predictor.encoder.n_dim == 121
    assert len(predictor.model.non_trainable_weights) == 1  # base_acc
    assert predictor.model.count_params() == 121 * 400 + 400 + 2 * (400 * 400 + 400) + 400 + 1


def test_beats_the_mean_baseline_on_held_out_subnets(trained):
    predictor, dataset, report = trained
    assert (report.n_train, report.n_val) == (800, 200)
    assert report.rmse < 0.35 * report.baseline_rmse, report
    assert report.kendall_tau > 0.75 and report.spearman > 0.9, report
    train, _ = dataset.split(0.2, seed=0)
    assert predictor.base_acc == pytest.approx(train.accuracies.mean(), abs=1e-6)


def test_predicts_many_configs_in_one_trace(trained):
    predictor, dataset, _ = trained
    tracing = predictor._forward.experimental_get_tracing_count()
    for n in (1, 7, 100, 333):
        assert predictor.predict(list(dataset.configs[:n])).shape == (n,)
    assert predictor._forward.experimental_get_tracing_count() == max(tracing, 1)


def test_save_load_round_trip(trained, tmp_path):
    predictor, dataset, _ = trained
    predictor.save(tmp_path / "predictor")
    loaded = AccuracyPredictor.load(tmp_path / "predictor")
    assert loaded.encoder.resolutions == predictor.encoder.resolutions and loaded.space == SPACE
    configs = list(dataset.configs[:50])
    np.testing.assert_allclose(loaded.predict(configs), predictor.predict(configs), atol=1e-6)
    assert loaded.base_acc == pytest.approx(predictor.base_acc)
    with pytest.raises(FileNotFoundError, match="predictor.json"):
        AccuracyPredictor.load(tmp_path / "nowhere")


def test_same_seed_same_training():
    dataset = _synthetic_dataset(200, seed=1)
    config = PredictorTrainingConfig(epochs=2, batch_size=64, seed=4)
    reports = [AccuracyPredictor(SPACE, seed=2).fit(dataset, config) for _ in range(2)]
    assert reports[0] == reports[1]


def test_folds_hold_out_every_sample_once():
    dataset = _synthetic_dataset(23, seed=4)
    folds = dataset.folds(5, seed=1)
    held_out = [c for _, val in folds for c in val.configs]
    assert sorted(map(id, held_out)) == sorted(map(id, dataset.configs))
    assert [len(val) for _, val in folds] == [5, 5, 5, 4, 4]
    for train, val in folds:
        assert len(train) + len(val) == 23 and not set(map(id, train.configs)) & set(map(id, val.configs))
    with pytest.raises(ValueError, match="`k` must be in \\[2, 23\\]"):
        dataset.folds(24)


def test_cross_validation_beats_the_mean_on_a_known_function_and_not_on_noise():
    from ofa_tf.nas import cross_validate

    config = PredictorTrainingConfig(epochs=60, batch_size=64, seed=0)
    signal = cross_validate(_synthetic_dataset(200, seed=2), SPACE, k=4, config=config, hidden_size=64)
    assert len(signal.folds) == 4 and sum(f.n_val for f in signal.folds) == 200
    tau, tau_spread = signal.kendall_tau
    assert tau > 0.4 and 0 <= tau_spread < 0.2, signal.to_dict()
    assert signal.rmse[0] < 0.8 * signal.baseline_rmse[0], signal.to_dict()
    # Accuracies unrelated to the architecture: nothing to learn, the mean is as good as it gets.
    noise = _synthetic_dataset(200, seed=2)
    noise = AccuracyDataset(noise.configs, np.random.default_rng(5).uniform(0.5, 0.6, 200))
    flat = cross_validate(noise, SPACE, k=4, config=config, hidden_size=64)
    assert abs(flat.kendall_tau[0]) < 0.2 and flat.rmse[0] > 0.9 * flat.baseline_rmse[0], flat.to_dict()
    assert flat.to_dict()["k"] == 4 and flat.to_dict()["n"] == 200


def test_predictions_stay_within_zero_and_one():
    predictor = AccuracyPredictor(SPACE, seed=0)
    configs = [SPACE.sample(np.random.default_rng(i)).with_resolution(224) for i in range(32)]
    head = predictor.model.get_layer("head").kernel
    head.assign(np.random.default_rng(0).normal(0, 1.0, head.shape))  # an MLP whose outputs overshoot both ends
    predictor._base.base_acc.assign(0.5)
    raw = predictor._forward(predictor.encoder.encode(configs).astype(np.float32)).numpy()
    assert raw.max() > 1 and raw.min() < 0
    np.testing.assert_allclose(predictor.predict(configs), np.clip(raw, 0.0, 1.0), atol=1e-6)


def test_stage_features_beat_the_mean_on_a_few_dozen_subnets_where_block_features_do_not():
    """The demo's situation: 40 subnets whose accuracy follows resolution and depth, measured with noise half the
    size of that signal; the per-block one-hot (124 inputs) learns the noise, the per-stage features (19) don't."""
    from ofa_tf.nas import cross_validate

    rng = np.random.default_rng(3)
    configs = [SPACE.sample(rng).with_resolution(int(rng.choice(SPACE.resolutions))) for _ in range(40)]
    signal = np.array([0.003 * SPACE.resolutions.index(c.r) + 0.001 * sum(c.d) for c in configs])
    dataset = AccuracyDataset(configs, 0.9 + signal + rng.normal(0, 0.5 * signal.std(), 40))
    config = PredictorTrainingConfig(epochs=300, seed=0)
    stage = cross_validate(dataset, SPACE, k=5, config=config, seed=0, features="stage")
    block = cross_validate(dataset, SPACE, k=5, config=config, seed=0, features="block")
    assert stage.rmse[0] < 0.85 * stage.baseline_rmse[0] and stage.kendall_tau[0] > 0.3, stage.to_dict()
    assert block.rmse[0] > stage.rmse[0] and block.kendall_tau[0] < stage.kendall_tau[0], block.to_dict()


def test_stage_features_save_and_load(tmp_path):
    predictor = AccuracyPredictor(SPACE, seed=0, features="stage")
    assert predictor.encoder.n_dim == 19
    predictor.fit(_synthetic_dataset(60, seed=6), PredictorTrainingConfig(epochs=5, seed=0))
    predictor.save(tmp_path)
    loaded = AccuracyPredictor.load(tmp_path)
    assert loaded.features == "stage"
    configs = list(_synthetic_dataset(10, seed=7).configs)
    np.testing.assert_allclose(loaded.predict(configs), predictor.predict(configs), atol=1e-6)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("predictor")
    AccuracyPredictor(SearchSpace(resolutions=(8, 12, 16)), hidden_size=8).save(path)
    return path


def _copy(saved, tmp_path, **changes):
    import shutil

    folder = tmp_path / "p"
    shutil.copytree(saved, folder)
    for name, payload in changes.items():
        (folder / name.replace("_", ".", 1)).write_bytes(payload)
    return folder


@pytest.mark.parametrize("damage, message", [
    ("truncated weights", "{folder}/predictor.weights.h5 is not readable predictor weights (Unable to synchronously "
                          "open file"),
    ("truncated json", "{folder}/predictor.json is not valid JSON (Expecting value: line"),
    ("no space", "{folder}/predictor.json lacks 'space': a predictor.json written by `AccuracyPredictor.save` holds "
                 "space,"),
    ("not an object", "{folder}/predictor.json lacks 'space', 'resolutions', 'hidden_size', 'n_layers', 'seed'"),
    ("bad space", "{folder}/predictor.json does not describe a predictor (TypeError:"),
    ("nan weights", "The weights in {folder}/predictor.weights.h5 are not finite: head"),
])
def test_damaged_predictor_folders_are_one_line_naming_the_file(saved, tmp_path, damage, message):
    """Issue 26: a truncated predictor.weights.h5 gave a traceback, a truncated predictor.json or one without
    'space' gave `Error: space` or a JSON message without the file's name."""
    import json

    meta = json.loads((saved / "predictor.json").read_text())
    weights = (saved / "predictor.weights.h5").read_bytes()
    text = (saved / "predictor.json").read_text()
    changes = {
        "truncated weights": {"predictor_weights.h5": weights[:3000]},
        "truncated json": {"predictor_json": text[: len(text) // 2].encode()},
        "no space": {"predictor_json": json.dumps({k: v for k, v in meta.items() if k != "space"}).encode()},
        "not an object": {"predictor_json": b"[1, 2]"},
        "bad space": {"predictor_json": json.dumps({**meta, "space": {"kernels": [3]}}).encode()},
    }.get(damage, {})
    folder = _copy(saved, tmp_path, **changes)
    if damage == "nan weights":
        predictor = AccuracyPredictor.load(folder)
        predictor.model.get_layer("head").kernel.assign(np.full(predictor.model.get_layer("head").kernel.shape,
                                                                np.nan, np.float32))
        predictor.save(folder)
    with pytest.raises(ValueError) as err:
        AccuracyPredictor.load(folder)
    assert str(err.value).startswith(message.format(folder=folder)), err.value


def test_a_report_says_when_the_predictor_does_not_beat_the_mean():
    from ofa_tf.nas import PredictorReport

    worse = PredictorReport(n_train=32, n_val=8, train_rmse=0.001, rmse=0.0114, baseline_rmse=0.0028,
                            kendall_tau=-1.0, spearman=-1.0)
    assert not worse.beats_mean
    assert worse.warning() == ("Warning: this predictor is no better than always predicting the mean: held-out RMSE "
                               "1.14 points vs 0.28 for the mean, Kendall tau -1.00 on 8 subnets; a search would rank "
                               "subnets by noise. Evaluate more subnets (--n-subnets), or try --features stage for a "
                               "few dozen.")
    better = PredictorReport(32, 8, 0.001, 0.002, 0.0028, 0.5, 0.6)
    assert better.beats_mean and better.warning() is None
