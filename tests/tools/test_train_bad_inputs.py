"""`ofa-tf train` never loses a finished run and refuses bad output folders and data with one line, before work."""
import json

import pytest
from cli_checks import folder_state
from cli_checks import image_folder
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


@pytest.fixture
def finished_run(tmp_path, tiny_weights):
    """What a finished `--task full` run leaves: weights, metrics and its config."""
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "full.weights.h5").write_bytes(tiny_weights.read_bytes())
    (run / "metrics.jsonl").write_text(json.dumps({"event": "epoch", "phase": "full", "loss": 1.5}) + "\n")
    (run / "config_full.json").write_text(json.dumps({"net": TINY, "num_classes": 10}))
    return run


def train(out, *args, net=TINY, data="digits"):
    return CliRunner().invoke(main, ["train", "--net", net, "--data", str(data), "--out", str(out), "--epochs", "1",
                                     "--steps-per-epoch", "1", "--batch-size", "4", "--no-validate", *args])


@pytest.mark.parametrize("task, phases", [("full", "full"), ("all", "full")])
def test_a_finished_phase_is_never_retrained_without_overwrite(finished_run, task, phases):
    before = folder_state(finished_run)
    line = one_error_line(train(finished_run, "--task", task))
    assert f"{finished_run} already holds the finished phase(s) {phases}" in line
    assert "weights/full.weights.h5" in line and "--overwrite" in line
    assert folder_state(finished_run) == before


def test_resume_does_not_retrain_a_finished_phase_of_another_task(finished_run):
    before = folder_state(finished_run)
    line = one_error_line(train(finished_run, "--task", "full", "--resume"))
    assert "already holds the finished phase(s) full" in line and folder_state(finished_run) == before


def test_overwrite_passes_the_check_and_deletes_nothing_up_front(finished_run):
    from ofa_tf.training.trainer import TrainConfig
    from ofa_tf.training.trainer import Trainer

    before = folder_state(finished_run)
    Trainer(TINY, "digits", finished_run, TrainConfig(task="full", overwrite=True, batch_size=4))
    after = folder_state(finished_run)
    assert {k: after.get(k) for k in before} == before  # the old run stays until training replaces it


def test_a_run_folder_of_another_net(finished_run):
    small = "ofa_mbv3_small_d234_e346_k357_w0.5"
    line = one_error_line(train(finished_run, "--task", "kernel", net=small))
    assert f"holds a training run of {TINY} (config_full.json), not of {small}" in line


def test_out_that_cannot_be_written(tmp_path, read_only_dir):
    result = train(read_only_dir / "run", "--task", "full")
    assert result.exit_code == 2 and "read-only" in one_error_line(result)
    (tmp_path / "file").write_text("x")
    result = train(tmp_path / "file", "--task", "full")
    assert result.exit_code == 2 and f"{tmp_path / 'file'}' is a file" in one_error_line(result)


@pytest.mark.parametrize("classes, empty, expected", [
    (("cat", "dog"), "eel", "hold no readable images"),
    (("cat",), None, "has only the class folder 'cat': classification needs at least two classes"),
])
def test_empty_and_single_class_folders(tmp_path, classes, empty, expected):
    data = image_folder(tmp_path / "images", classes)
    if empty:
        (data / empty).mkdir()
    out = tmp_path / "run"
    line = one_error_line(train(out, "--task", "full", data=data))
    assert expected in line and (str(data / empty) if empty else str(data)) in line
    assert not (out / "weights").exists()


def test_corrupt_init_weights(tmp_path, tiny_weights):
    broken = tmp_path / "broken.weights.h5"
    broken.write_bytes(tiny_weights.read_bytes()[:2000])
    line = one_error_line(train(tmp_path / "run", "--task", "kernel", "--init", str(broken)))
    assert f"{broken} is not a readable Keras weights file" in line


def test_ctrl_c_is_one_line_that_says_how_to_resume(tmp_path, monkeypatch):
    import ofa_tf.training.trainer as trainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # as from SIGINT while tf.data or the step function traces

    monkeypatch.setattr(trainer, "train", interrupted)
    line = one_error_line(train(tmp_path / "run", "--task", "full"))
    assert line == ("Error: Interrupted (Ctrl-C): --out keeps the checkpoint of the last finished epoch; rerun the "
                    "same command with --resume to continue from it.")
