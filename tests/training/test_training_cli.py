import json

import pytest
from click.testing import CliRunner

from ofa_tf.training.cli import eval_command
from ofa_tf.training.cli import train_command

NET = "ofa_mbv3_small_d234_e346_k357_w0.5"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "width"], "'width' is not one of"),
        (["--task", "full", "--phase", "1"], "only applies to the depth and expand tasks"),
        (["--task", "depth", "--phase", "3"], "3 is not in the range 1<=x<=2"),
        (["--strategy", "gpu"], "'gpu' is not one of"),
        (["--epochs", "2", "--epoch-scale", "0.5"], "either `epochs` or `epoch_scale`"),
        (["--image-sizes", "a,b"], "expected sizes like"),
    ],
)
def test_train_rejects_bad_options(tmp_path, args, message):
    result = CliRunner().invoke(train_command, ["--net", NET, "--data", "digits", "--out", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in result.output


def test_unknown_net(tmp_path):
    for command, extra in ((train_command, ["--out", str(tmp_path)]), (eval_command, ["--weights", __file__])):
        result = CliRunner().invoke(command, ["--net", "resnet", "--data", "digits", *extra])
        assert result.exit_code == 2 and "unknown net 'resnet'" in result.output and NET in result.output


def test_phase_without_predecessor_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(
        train_command, ["--net", NET, "--data", "digits", "--task", "depth", "--phase", "2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "starts from the weights of phase depth_1" in result.output and "--init" in result.output


@pytest.mark.slow
def test_train_then_eval(tmp_path):
    """One full-task step of the small preset on digits, then eval of its max and min subnets."""
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(train_command, [
        "--net", NET, "--data", "digits", "--task", "full", "--epochs", "1", "--steps-per-epoch", "1",
        "--batch-size", "8", "--image-sizes", "16", "--no-validate", "--verbose", "0", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "phases done: full" in result.output
    weights = out / "weights" / "full.weights.h5"
    result = runner.invoke(eval_command, [
        "--net", NET, "--weights", str(weights), "--data", "digits", "--subnets", "max,min", "--calibrate-bn", "16",
        "--resolution", "16", "--max-batches", "1", "--batch-size", "20", "--json",
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("["):])
    assert [r["name"] for r in rows] == ["max", "min"]
    assert all(0 <= r["top1"] <= r["top5"] <= 1 and r["n_images"] == 20 for r in rows)
