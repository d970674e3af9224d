import json

import pytest
from click.testing import CliRunner

from tools.training_cli import eval_command
from tools.training_cli import train_command

NET = "ofa_mbv3_small_d234_e346_k357_w0.5"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "shrink"], "'shrink' is not one of"),
        (["--task", "width"], "has no phase for task='width'"),
        (["--task", "full", "--phase", "1"], "only applies to the depth and expand tasks"),
        (["--task", "depth", "--phase", "3"], "3 is not in the range 1<=x<=2"),
        (["--strategy", "gpu"], "'gpu' is not one of"),
        (["--epochs", "2", "--epoch-scale", "0.5"], "either `epochs` or `epoch_scale`"),
        (["--image-sizes", "a,b"], "expected sizes like"),
        (["--recipe", "bignas"], "'bignas' is not one of 'reference', 'sandwich', 'sandwich_phased'"),
        (["--recipe", "sandwich", "--task", "kernel"], "no phase for task='kernel'"),
        (["--recipe", "sandwich", "--label-ratio", "1.5"], "1.5 is not in the range 0<=x<=1"),
        (["--recipe", "sandwich", "--phase-epochs", "full=-1"], "an int >= 0 (0 drops the phase). Received -1"),
        (["--policy", "autoaugment"], "'autoaugment' is not one of 'imagenet', 'cifar', 'digits'"),
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


def test_eval_specialized_reports_top1_of_the_network(tiny_specialized):
    import numpy as np

    from ofa_tf import ofa_specialized
    from ofa_tf.data import load_dataset

    result = CliRunner().invoke(eval_command, [
        "--specialized", "tiny", "--weights", str(tiny_specialized), "--data", "digits", "--batch-size", "60",
        "--max-batches", "2", "--json",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    model, size = ofa_specialized("tiny", weights=tiny_specialized)
    correct = n = 0
    for images, labels in load_dataset("digits", validation_split=0.1, seed=0).validation(60, size).take(2):
        correct += int(np.sum(np.argmax(model(images).numpy(), axis=1) == labels.numpy()))
        n += len(labels)
    assert report == {"net_id": "tiny", "resolution": 16, "top1": pytest.approx(correct / n),
                      "top5": report["top5"], "n_images": n}
    assert report["top1"] <= report["top5"] <= 1


def test_eval_specialized_errors(tiny_specialized, write_specialized, tmp_path):
    runner = CliRunner()
    base = ["--specialized", "tiny", "--data", "digits"]
    result = runner.invoke(eval_command, base)
    assert result.exit_code != 0 and "exactly one of --weights FOLDER or --pretrained" in result.output
    result = runner.invoke(eval_command, [*base, "--net", NET, "--weights", str(tiny_specialized)])
    assert result.exit_code != 0 and "not both" in result.output
    five = write_specialized(tmp_path / "five", n_classes=5)
    result = runner.invoke(eval_command, ["--specialized", "five", "--weights", str(five), "--data", "digits"])
    assert result.exit_code != 0 and "five has 5 outputs but digits has 10 classes" in result.output


@pytest.mark.slow
def test_proxyless_schedule_then_eval(tmp_path):
    """The tiny ProxylessNAS preset through every phase (one step each) on digits, then eval of max and min."""
    net, runner, out = "ofa_proxyless_tiny_d234_e346_k357_w0.5", CliRunner(), tmp_path / "run"
    result = runner.invoke(train_command, [
        "--net", net, "--data", "digits", "--task", "all", "--epochs", "1", "--steps-per-epoch", "1",
        "--batch-size", "8", "--image-sizes", "8", "--no-validate", "--verbose", "0", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "phases done: full, kernel, depth_1, depth_2, expand_1, expand_2" in result.output
    result = runner.invoke(eval_command, [
        "--net", net, "--weights", str(out / "weights" / "expand_2.weights.h5"), "--data", "digits",
        "--subnets", "max,min", "--calibrate-bn", "16", "--resolution", "8", "--max-batches", "1",
        "--batch-size", "20", "--json",
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("["):])
    assert [r["name"] for r in rows] == ["max", "min"] and all(r["n_images"] == 20 for r in rows)
    assert rows[0]["config"]["d"] == [4, 4, 4, 4, 4, 1] and rows[1]["config"]["d"] == [2, 2, 2, 2, 2, 1]
