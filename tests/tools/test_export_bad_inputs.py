"""`ofa-tf export` refuses bad weights, nets, configs and output paths with one line, before any work, and leaves
the disk as it was."""
import json

import pytest
from cli_checks import folder_state
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
SMALL = "ofa_mbv3_small_d234_e346_k357_w0.5"
GOOD_CONFIG = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 16}


@pytest.fixture
def work(tmp_path, tiny_weights):
    (tmp_path / "subnet.json").write_text(json.dumps(GOOD_CONFIG))
    (tmp_path / "tiny.weights.h5").write_bytes(tiny_weights.read_bytes())
    return tmp_path


def export(work, *args, net=TINY, weights="tiny.weights.h5", config="subnet.json"):
    before = folder_state(work)
    result = CliRunner().invoke(main, ["export", "--net", net, "--weights", str(work / weights), "--config",
                                       str(work / config), "--out", str(work / "model.tflite"), *args])
    line = one_error_line(result)
    assert folder_state(work) == before  # nothing written, nothing changed
    return line


@pytest.mark.parametrize("name, payload, expected", [
    ("broken.weights.h5", None, "is not a readable Keras weights file (Unable to synchronously open file (truncated"),
    ("empty.weights.h5", b"", "is not a readable Keras weights file"),
    ("empty.pth", b"", "is not a readable PyTorch checkpoint"),
    ("garbage.pth", b"\x80\x02garbage" * 50, "is not a readable PyTorch checkpoint"),
    ("truncated.pth", "zip", "is not a readable PyTorch checkpoint"),
])
def test_corrupt_weights_files(work, name, payload, expected):
    if payload is None:
        payload = (work / "tiny.weights.h5").read_bytes()[:4000]
    if payload == "zip":
        import torch

        torch.save({"state_dict": {"w": torch.zeros(64, 64)}}, work / name)
        payload = (work / name).read_bytes()[:300]
    (work / name).write_bytes(payload)
    line = export(work, weights=name)
    assert str(work / name) in line and expected in line


def test_weights_of_another_net_name_both(work):
    line = export(work, net=SMALL)
    assert f"belong to {TINY} with 10 classes, not to {SMALL} with 10 classes" in line


def test_class_count_mismatch_names_both(work):
    line = export(work, "--n-classes", "3")
    assert "with 10 classes, not to" in line and "with 3 classes" in line and "--n-classes" in line


@pytest.mark.parametrize("config, expected", [
    ("7", "A subnet config is a JSON object with 'ks', 'e' and 'd'"),
    ("[3, 5]", "A subnet config is a JSON object"),
    ("{not json", "Expecting property name"),
    (json.dumps({**GOOD_CONFIG, "ks": [7.9] + [3] * 19}), "Invalid value in `ks`: expected an integer. Received 7.9"),
    (json.dumps({**GOOD_CONFIG, "r": 12.7}), "Invalid value in `r`: expected an integer. Received 12.7"),
    (json.dumps({**GOOD_CONFIG, "ks": "3"}), "`ks` must be a list of ints"),
    (json.dumps({**GOOD_CONFIG, "d": [9] * 5}), "expected one of [2, 3, 4]. Received d=9"),
])
def test_bad_configs(work, config, expected):
    (work / "bad.json").write_text(config)
    line = export(work, config="bad.json")
    assert str(work / "bad.json") in line and expected in line


def test_out_in_a_read_only_folder_is_refused_before_work(work, read_only_dir):
    result = CliRunner().invoke(main, ["export", "--net", TINY, "--weights", str(work / "tiny.weights.h5"),
                                       "--config", str(work / "subnet.json"), "--out", str(read_only_dir / "m.tflite")])
    line = one_error_line(result)
    assert result.exit_code == 2 and "read-only" in line and str(read_only_dir / "m.tflite") in line


def test_a_training_run_folder_is_accepted_as_eval_and_search_accept_it(work):
    """`--weights RUN_FOLDER` exports the run's final weights, its net read from the run (issue 26: refused)."""
    from tools.inspect_model import inspect_tflite

    run = work / "run"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "expand_2.weights.h5").write_bytes((work / "tiny.weights.h5").read_bytes())
    (run / "config_all.json").write_text(json.dumps({"net": TINY, "num_classes": 10}))
    for net in ([], ["--net", TINY]):
        out = work / f"model{len(net)}.tflite"
        result = CliRunner().invoke(main, ["export", *net, "--weights", str(run), "--config", str(work / "subnet.json"),
                                           "--out", str(out)])
        assert result.exit_code == 0, result.output
        meta = inspect_tflite(out).metadata
        assert (meta.net_id, meta.resolution, meta.subnet_config["d"]) == (TINY, 16, [2] * 5)
    line = export(work, net=SMALL, weights="run")
    assert f"The training run in {run} is of {TINY}, not {SMALL}" in line
