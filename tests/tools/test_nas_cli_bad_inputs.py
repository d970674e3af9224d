"""`ofa-tf search`, `specialize` and `predictor` refuse a predictor, latency table or run folder of another
supernet, naming both, and an unwritable --out before any work."""
import json

import pytest
from cli_checks import folder_state
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
SMALL = "ofa_mbv3_small_d234_e346_k357_w0.5"


@pytest.fixture(scope="module")
def tiny_predictor(tmp_path_factory):
    from ofa_tf.nas import AccuracyPredictor
    from ofa_tf.zoo import PRESETS
    from ofa_tf.families.mbconv.space import SearchSpace

    path = tmp_path_factory.mktemp("predictor")
    AccuracyPredictor(SearchSpace(resolutions=PRESETS[TINY].resolutions), net_id=TINY, hidden_size=8).save(path)
    return path


def search(tmp_path, *args, net=SMALL, out="subnet.json"):
    before = folder_state(tmp_path)
    result = CliRunner().invoke(main, ["search", "--net", net, "--n-classes", "10", "--generations", "1",
                                       "--pareto-generations", "0", "--out", str(tmp_path / out), *args])
    line = one_error_line(result)
    assert folder_state(tmp_path) == before
    return line


def test_predictor_of_another_net(tmp_path, tiny_predictor):
    line = search(tmp_path, "--predictor", str(tiny_predictor), "--constraint", "macs=50M")
    assert f"trained on subnets of {TINY}, not of {SMALL}" in line


def test_predictor_of_another_search_space(tmp_path, tiny_predictor):
    """A predictor saved without a net id is still checked by its search space (here: its resolutions)."""
    meta = json.loads((tiny_predictor / "predictor.json").read_text())
    old = tmp_path / "old_predictor"
    old.mkdir()
    (old / "predictor.json").write_text(json.dumps({**meta, "net_id": None}))
    (old / "predictor.weights.h5").write_bytes((tiny_predictor / "predictor.weights.h5").read_bytes())
    line = search(tmp_path, "--predictor", str(old), "--constraint", "macs=50M")
    assert "trained for another search space than" in line and "resolutions [8, 12, 16] vs [24, 28, 32]" in line


def test_latency_table_of_another_net(tmp_path, tiny_predictor):
    lut = tmp_path / "phone.json"
    lut.write_text(json.dumps({"header": {"net_id": "ofa_mbv3_d234_e346_k357_w1.0"}, "table": {}}))
    line = search(tmp_path, "--predictor", str(tiny_predictor), "--constraint", "latency=5ms", "--lut", str(lut),
                  net=TINY)
    assert f"{lut} was measured for ofa_mbv3_d234_e346_k357_w1.0, not {TINY}" in line


def test_run_folder_of_another_net(tmp_path, tiny_predictor):
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    (run / "config_all.json").write_text(json.dumps({"net": SMALL, "num_classes": 10}))
    (run / "weights" / "expand_2.weights.h5").write_bytes(b"")
    line = search(tmp_path, "--predictor", str(tiny_predictor), "--constraint", "macs=50M", "--weights", str(run),
                  net=TINY)
    assert f"The training run in {run} is of {SMALL}, not {TINY}" in line


def test_out_in_a_read_only_folder(tmp_path, tiny_predictor, read_only_dir):
    result = CliRunner().invoke(main, ["search", "--net", TINY, "--predictor", str(tiny_predictor), "--constraint",
                                       "macs=50M", "--out", str(read_only_dir / "subnet.json")])
    assert result.exit_code == 2 and "read-only" in one_error_line(result)


def test_specialize_with_a_predictor_of_another_net(tmp_path, tiny_predictor):
    from ofa_tf.zoo import ofa_net

    weights = tmp_path / "small.weights.h5"
    ofa_net(SMALL, n_classes=10).save_weights(weights)
    result = CliRunner().invoke(main, ["specialize", "--supernet", str(weights), "--net", SMALL, "--predictor",
                                       str(tiny_predictor), "--devices", "host:macs=50M", "--no-host",
                                       "--out", str(tmp_path / "out")])
    assert f"trained on subnets of {TINY}, not of {SMALL}" in one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_predictor_into_a_read_only_folder(tiny_weights, read_only_dir):
    result = CliRunner().invoke(main, ["predictor", "--net", TINY, "--weights", str(tiny_weights),
                                       "--out", str(read_only_dir / "predictor")])
    assert result.exit_code == 2 and "read-only" in one_error_line(result)


@pytest.mark.parametrize("text, problem", [
    ("table:\n  a: [1, 2\n", "is not valid YAML at line 3: expected ',' or ']', but got '<stream end>'."),
    ('!!python/object/apply:os.system ["touch owned"]\n', "is not valid YAML at line 1: could not determine a "
                                                          "constructor for the tag"),
    ("header: {net_id: " + TINY + "}\ntable:\n  stem: {mean: -0.5}\n", "entry 'stem' has mean=-0.5; latencies must be "
                                                                        "finite numbers >= 0 ms"),
])
def test_search_with_a_table_that_does_not_read(tmp_path, tiny_predictor, text, problem):
    lut = tmp_path / "phone.yaml"
    lut.write_text(text)
    line = search(tmp_path, "--predictor", str(tiny_predictor), "--constraint", "latency=5ms", "--lut", str(lut),
                  net=TINY)
    assert str(lut) in line and problem in line
    assert not (tmp_path / "owned").exists()


def test_search_with_a_truncated_predictor(tmp_path, tiny_predictor):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "predictor.json").write_text((tiny_predictor / "predictor.json").read_text())
    (broken / "predictor.weights.h5").write_bytes((tiny_predictor / "predictor.weights.h5").read_bytes()[:2000])
    line = search(tmp_path, "--predictor", str(broken), "--constraint", "macs=50M", net=TINY)
    assert f"{broken / 'predictor.weights.h5'} is not readable predictor weights" in line


def test_a_predictor_worse_than_the_mean_is_saved_with_a_warning(tmp_path, tiny_weights):
    """20 subnets whose accuracies are noise: the predictor cannot beat the mean, and says so before its figures."""
    import numpy as np

    from ofa_tf.nas import build_accuracy_dataset
    from ofa_tf.families.mbconv.space import SearchSpace
    from ofa_tf.zoo import PRESETS

    out = tmp_path / "predictor"
    rng = np.random.default_rng(0)
    build_accuracy_dataset(lambda config: float(rng.uniform(0.1, 0.9)),  # cached: the command evaluates nothing
                           SearchSpace(resolutions=PRESETS[TINY].resolutions), 20, out / "acc_dataset.jsonl",
                           verbose=False)
    result = CliRunner().invoke(main, ["predictor", "--net", TINY, "--weights", str(tiny_weights), "--n-subnets", "20",
                                       "--epochs", "30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "predictor_report.json").read_text())
    assert report["rmse"] >= report["baseline_rmse"] and report["beats_mean"] is False
    lines = result.output.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith("Warning: "))
    assert lines[warning].startswith(
        f"Warning: this predictor is no better than always predicting the mean: held-out RMSE "
        f"{100 * report['rmse']:.2f} points vs {100 * report['baseline_rmse']:.2f} for the mean")
    assert lines[warning + 1].startswith("Predictor trained on 16 subnets") and (out / "predictor.weights.h5").is_file()
    assert "20/20 subnets" in result.output and "\r" not in result.output  # progress as a plain line in a log
