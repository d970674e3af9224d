"""`ofa-tf export` / `ofa-tf inspect` through click's CliRunner: metadata round trip and bad-input errors."""
import json

import pytest
from click.testing import CliRunner

from ofa_tf.data import IMAGENET_MEAN
from ofa_tf.data import IMAGENET_STD
from ofa_tf.run_folder import infer_n_classes
from tools.cli import export_command
from tools.cli import inspect_command

NET_ID = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


def _export_args(fx, out, *extra):
    return ["--net", NET_ID, "--weights", str(fx.weights_path), "--config", str(fx.config_path), "--out", str(out),
            *extra]


@pytest.fixture(scope="module")
def cli_export(fx):
    out = fx.workdir / "cli_none.tflite"
    result = CliRunner().invoke(export_command, _export_args(fx, out, "--quantize", "none", "--data", "digits"))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_export_then_inspect_round_trips_metadata(fx, cli_export):
    out, output = cli_export
    assert f"Wrote {out}" in output
    result = CliRunner().invoke(inspect_command, [str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    meta = report["metadata"]
    assert meta["subnet_config"] == fx.config.to_dict()
    assert meta["resolution"] == 16 and meta["batch_size"] == 1
    assert meta["mean"] == pytest.approx(IMAGENET_MEAN) and meta["std"] == pytest.approx(IMAGENET_STD)
    assert meta["labels"] == [str(d) for d in range(10)]
    assert meta["net_id"] == NET_ID and meta["quantization"] == "none" and meta["n_classes"] == 10
    assert report["inputs"][0]["shape"] == [1, 16, 16, 3]
    assert report["op_histogram"]["CONV_2D"] > 0 and not any(k.startswith("Flex") for k in report["op_histogram"])
    assert report["size_bytes"] == out.stat().st_size


def test_inspect_text_and_host_benchmark(cli_export):
    out, _ = cli_export
    result = CliRunner().invoke(inspect_command, [str(out), "--benchmark", "--runs", "3", "--warmup", "1"])
    assert result.exit_code == 0, result.output
    assert "normalization: (pixel / 255 - mean) / std" in result.output
    assert "labels: 10 (0, 1, 2" in result.output
    assert "host latency (1 thread(s), 3 runs): mean" in result.output


def test_n_classes_is_read_from_keras_weights(fx):
    assert infer_n_classes(fx.weights_path) == 10


def test_unknown_quantize_mode_lists_the_allowed_ones(fx, tmp_path):
    result = CliRunner().invoke(export_command, _export_args(fx, tmp_path / "m.tflite", "--quantize", "int4"))
    assert result.exit_code == 2
    assert "'int4'" in result.output and "'none', 'float16', 'dynamic', 'int8', 'qat'" in result.output


@pytest.mark.parametrize("mode", ["int8", "qat"])
def test_integer_modes_need_data(fx, tmp_path, mode):
    result = CliRunner().invoke(export_command, _export_args(fx, tmp_path / "m.tflite", "--quantize", mode))
    assert result.exit_code == 2
    assert f"--quantize {mode} needs --data" in result.output
    assert not (tmp_path / "m.tflite").exists()


def test_calibrate_bn_needs_data(fx, tmp_path):
    result = CliRunner().invoke(export_command, _export_args(fx, tmp_path / "m.tflite", "--calibrate-bn", "64"))
    assert result.exit_code == 2 and "--calibrate-bn 64 needs --data" in result.output


def test_config_outside_search_space(fx, tmp_path):
    config = fx.config.to_dict()
    config["ks"][3] = 4
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(export_command, ["--net", NET_ID, "--weights", str(fx.weights_path), "--config",
                                                 str(path), "--out", str(tmp_path / "m.tflite")])
    assert result.exit_code == 2
    assert "Invalid value for `ks`[3]: expected one of [3, 5, 7]. Received ks=4." in result.output
    assert str(path) in result.output


def test_config_with_unknown_key(fx, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**fx.config.to_dict(), "width": 2}))
    result = CliRunner().invoke(export_command, ["--net", NET_ID, "--weights", str(fx.weights_path), "--config",
                                                 str(path), "--out", str(tmp_path / "m.tflite")])
    assert result.exit_code == 2 and "Unknown subnet config keys ['width']" in result.output


def test_missing_resolution(fx, tmp_path):
    path = tmp_path / "no_r.json"
    path.write_text(json.dumps(fx.config.with_resolution(None).to_dict()))
    result = CliRunner().invoke(export_command, ["--net", NET_ID, "--weights", str(fx.weights_path), "--config",
                                                 str(path), "--out", str(tmp_path / "m.tflite")])
    assert result.exit_code == 1 and "No input resolution" in result.output and "--resolution" in result.output


def test_missing_files(fx, tmp_path):
    missing = tmp_path / "nope.weights.h5"
    result = CliRunner().invoke(export_command, ["--net", NET_ID, "--weights", str(missing), "--config",
                                                 str(fx.config_path), "--out", str(tmp_path / "m.tflite")])
    assert result.exit_code == 2 and "nope.weights.h5" in result.output and "does not exist" in result.output
    result = CliRunner().invoke(inspect_command, [str(tmp_path / "absent.tflite")])
    assert result.exit_code == 2 and "absent.tflite" in result.output


def test_unknown_net_id(fx, tmp_path):
    result = CliRunner().invoke(export_command, ["--net", "ofa_resnet", "--weights", str(fx.weights_path), "--config",
                                                 str(fx.config_path), "--out", str(tmp_path / "m.tflite")])
    assert result.exit_code == 2 and "Unknown net_id 'ofa_resnet'" in result.output and NET_ID in result.output


def test_inspect_rejects_a_non_tflite_file(tmp_path):
    path = tmp_path / "fake.tflite"
    path.write_bytes(b"not a model at all")
    result = CliRunner().invoke(inspect_command, [str(path)])
    assert result.exit_code == 1 and "Not a TFLite flatbuffer" in result.output
