"""`ofa-tf eval` names weights that do not belong to the net or the data, and bad image folders, in one line."""
import pytest
from cli_checks import folder_state
from cli_checks import image_folder
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
SMALL = "ofa_mbv3_small_d234_e346_k357_w0.5"


def evaluate(tmp_path, weights, net=TINY, data="digits"):
    before = folder_state(tmp_path)
    result = CliRunner().invoke(main, ["eval", "--net", net, "--weights", str(weights), "--data", str(data),
                                       "--calibrate-bn", "0", "--max-batches", "1"])
    line = one_error_line(result)
    assert folder_state(tmp_path) == before
    return line


def test_weights_of_another_net(tmp_path, tiny_weights):
    line = evaluate(tmp_path, tiny_weights, net=SMALL)
    assert f"{tiny_weights} belong to {TINY} with 10 classes, not to {SMALL} with 10 classes" in line


def test_weights_for_another_class_count_than_the_data(tmp_path, tiny_weights):
    data = image_folder(tmp_path / "images", ("cat", "dog"))
    line = evaluate(tmp_path, tiny_weights, data=data)
    assert f"belong to {TINY} with 10 classes, not to {TINY} with 2 classes" in line


@pytest.mark.parametrize("cut", [0, 100, 5000])
def test_truncated_weights(tmp_path, tiny_weights, cut):
    broken = tmp_path / "broken.weights.h5"
    broken.write_bytes(tiny_weights.read_bytes()[:cut])
    assert f"{broken} is not a readable Keras weights file" in evaluate(tmp_path, broken)


def test_empty_class_folder(tmp_path, tiny_weights):
    data = image_folder(tmp_path / "images", ("cat", "dog"))
    (data / "eel").mkdir()
    assert f"'{data / 'eel'}' hold no readable images" in evaluate(tmp_path, tiny_weights, data=data)


@pytest.fixture
def diverged_weights(tmp_path):
    """10-class tiny weights whose classifier is NaN, as a diverged training run leaves them."""
    import numpy as np

    from ofa_tf.zoo import ofa_net

    net = ofa_net(TINY, n_classes=10)
    for variable in net.weights:
        if "classifier" in variable.path:
            variable.assign(np.full(variable.shape, np.nan, np.float32))
    path = tmp_path / "diverged.weights.h5"
    net.save_weights(path)
    return path


def test_eval_export_predictor_and_search_refuse_non_finite_weights(tmp_path, diverged_weights):
    import json

    config = tmp_path / "subnet.json"
    config.write_text(json.dumps({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 16}))
    runs = {
        "eval": ["eval", "--net", TINY, "--weights", str(diverged_weights), "--data", "digits"],
        "export": ["export", "--net", TINY, "--weights", str(diverged_weights), "--config", str(config), "--out",
                   str(tmp_path / "m.tflite")],
        "predictor": ["predictor", "--net", TINY, "--weights", str(diverged_weights), "--out", str(tmp_path / "p")],
        "search": ["search", "--net", TINY, "--weights", str(diverged_weights), "--predictor", str(tmp_path / "p"),
                   "--constraint", "macs=50M", "--out", str(tmp_path / "s.json")],
    }
    for command, args in runs.items():
        line = one_error_line(CliRunner().invoke(main, args))
        assert f"The weights in {diverged_weights} are not finite: " in line and "classifier" in line, command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diverged.weights.h5", "subnet.json"]
