"""`ofa-tf train` when a run goes wrong: a diverging run stops with one line naming the phase and step and keeps its
last finite checkpoint; non-finite settings are refused up front; `--resume` continues with the run's recorded
settings and refuses others, naming both values, and never rewrites config_<run>.json (issue 26, items 2 and 3)."""
import dataclasses
import json

import pytest
from cli_checks import image_folder
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_diverging_run_stops_at_the_step_and_keeps_its_finite_checkpoint(tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "--net", TINY, "--data", "digits", "--task", "full", "--epochs", "1",
                    "--steps-per-epoch", "4", "--batch-size", "8", "--lr", "1e8", "--no-validate", "--out", run)
    line = one_error_line(result)
    assert line.startswith("Error: Training diverged in phase full: the loss was nan at step ")
    assert "(learning rate 1e+08)" in line and "keeps its last finite checkpoint (ckpt-1)" in line
    assert "Training finished" not in result.output
    assert not (run / "weights").exists()  # no final weights
    assert sorted(p.name for p in (run / "checkpoints" / "full").iterdir() if p.suffix == ".index") == ["ckpt-1.index"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["diverged"] and records[0]["phase"] == "full"
    assert "NaN" not in (run / "metrics.jsonl").read_text()  # metrics.jsonl stays valid JSON
    # the checkpoint kept is finite: the run was stopped before its weights were saved
    import numpy as np
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(run / "checkpoints" / "full" / "ckpt-1"))
    floats = [reader.get_tensor(name) for name, dtype in reader.get_variable_to_dtype_map().items()
              if dtype.is_floating]
    assert len(floats) > 100 and all(np.isfinite(value).all() for value in floats)


@pytest.mark.parametrize("option, value, allowed", [
    ("--lr", "nan", "> 0"), ("--lr", "-0.1", "> 0"), ("--weight-decay", "nan", ">= 0"),
    ("--weight-decay", "inf", ">= 0"), ("--kd-ratio", "nan", ">= 0"), ("--warmup-epochs", "inf", ">= 0"),
    ("--epoch-scale", "0", "> 0"),
])
def test_settings_that_cannot_train_are_refused_before_any_work(tmp_path, option, value, allowed):
    line = one_error_line(invoke("train", "--net", TINY, "--data", "digits", "--out", tmp_path / "run", option, value))
    name = option[2:].replace("-", "_")
    assert f"Invalid value for `{name}`: expected a finite number {allowed}" in line and f"{name}={value}" in line
    assert not (tmp_path / "run").exists()


def test_train_command_defaults_are_train_config_defaults():
    """A resume passes on only the options given on the command line, so the two sets of defaults must agree."""
    from ofa_tf.training.config import TrainConfig
    from tools.training_cli import train_command

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for param in train_command.params:
        if param.name in defaults:
            assert param.default in (None, False) or param.default == defaults[param.name], param.name
            if param.default is None:
                assert defaults[param.name] is None, param.name


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A `--task full` run at batch 16 stopped after one step (its checkpoint is the phase's start)."""
    run = tmp_path_factory.mktemp("resume") / "run"
    result = invoke(*TRAIN, "--out", run, "--epochs", "2", "--batch-size", "16", "--max-steps", "1")
    assert result.exit_code == 0 and "stopped early" in result.output, result.output
    return run


TRAIN = ("train", "--net", TINY, "--data", "digits", "--task", "full", "--steps-per-epoch", "2", "--no-validate")


@pytest.mark.parametrize("given, named", [
    (("--batch-size", "8"), "batch_size=8 (recorded: 16)"),
    (("--epochs", "1"), "epochs=1 (recorded: 2)"),
    (("--lr", "0.5"), "lr=0.5 (recorded: None)"),
    (("--recipe", "sandwich"), "recipe='sandwich' (recorded: 'reference')"),
    (("--seed", "3", "--batch-size", "16"), "seed=3 (recorded: 0)"),
])
def test_resume_refuses_other_settings_naming_both(stopped_run, given, named):
    config = (stopped_run / "config_full.json").read_bytes()
    line = one_error_line(invoke(*TRAIN, "--out", stopped_run, "--resume", *given))
    assert f"A resumed run keeps the settings recorded in {stopped_run / 'config_full.json'}; received {named}" in line
    assert (stopped_run / "config_full.json").read_bytes() == config


def test_resume_refuses_other_data(stopped_run, tmp_path):
    config = (stopped_run / "config_full.json").read_bytes()
    images = image_folder(tmp_path / "images", [str(d) for d in range(10)], per_class=4)
    line = one_error_line(invoke(*TRAIN, "--out", stopped_run, "--resume", "--data", images))
    assert f"{stopped_run} holds a run recorded in config_full.json that this resumed run does not match" in line
    assert f"data '{images}' (recorded: 'digits')" in line
    assert (stopped_run / "config_full.json").read_bytes() == config


def test_resume_takes_the_recorded_settings(stopped_run):
    """`--resume` (with another --max-steps, which changes nothing trained) continues at batch 16 for 2 epochs,
    though the command line's defaults are batch 64 and the reference's epochs."""
    config = (stopped_run / "config_full.json").read_bytes()
    result = invoke(*TRAIN, "--out", stopped_run, "--resume", "--max-steps", "100")
    assert result.exit_code == 0, result.output
    assert "Training finished; phases done: full." in result.output
    assert (stopped_run / "config_full.json").read_bytes() == config
    epochs = [json.loads(line) for line in (stopped_run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["event"], r["epoch"], r["global_step"]) for r in epochs] == [("epoch", 1, 2), ("epoch", 2, 4)]
    assert "\r" not in result.output and "\b" not in result.output  # the progress is plain lines in a log


def test_resume_with_an_unreadable_record(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "full").mkdir(parents=True)
    (run / "checkpoints" / "full" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (run / "checkpoints" / "full" / "ckpt-1.index").write_bytes(b"")
    (run / "config_full.json").write_text('{"options": {"batch_size": 1')
    line = one_error_line(invoke(*TRAIN, "--out", run, "--resume"))
    assert f"{run / 'config_full.json'} is not valid JSON (" in line and "settings of the run to resume" in line
