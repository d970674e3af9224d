"""`ofa-tf export` of an OFA-ResNet subnet ({"d", "e", "w"} config): float32 .tflite equal to the Keras subnet."""
import json

import numpy as np
from click.testing import CliRunner

from ofa_tf.families.resnet import ResNetConfig
from ofa_tf.zoo import ofa_net
from tools import predict
from tools.cli import export_command
from tools.cli import inspect_command

NET_ID = "ofa_resnet50_tiny"


def test_cli_exports_a_resnet_subnet_that_matches_keras(tmp_path):
    net = ofa_net(NET_ID, n_classes=10, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    for v in net.variables:  # non-trivial BN statistics
        leaf = v.path.rsplit("/", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
        elif leaf in ("beta", "moving_mean"):
            v.assign(rng.normal(0, 0.2, v.shape).astype(np.float32))
    net.save_weights(tmp_path / "net.weights.h5")
    config = ResNetConfig(d=[2, 0, 1, 2, 1], e=[0.2, 0.25, 0.35] * 6, w=[0, 2, 1, 0, 2, 1], r=32)
    (tmp_path / "subnet.json").write_text(json.dumps(config.to_dict()))
    out = tmp_path / "resnet.tflite"
    result = CliRunner().invoke(export_command, [
        "--net", NET_ID, "--weights", str(tmp_path / "net.weights.h5"), "--config", str(tmp_path / "subnet.json"),
        "--quantize", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    net.set_active_config(config)
    images = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    reference = net.get_active_subnet(resolution=32)(images, training=False).numpy()
    error = np.abs(predict(out, images) - reference).max() / np.abs(reference).max()
    print(f"OFA-ResNet float32 .tflite vs Keras subnet: max relative error {error:.2e}")
    assert error <= 1e-5
    report = json.loads(CliRunner().invoke(inspect_command, [str(out), "--json"]).output)
    assert report["metadata"]["subnet_config"] == config.to_dict() and report["metadata"]["net_id"] == NET_ID

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**config.to_dict(), "w": [3] * 6}))
    result = CliRunner().invoke(export_command, [
        "--net", NET_ID, "--weights", str(tmp_path / "net.weights.h5"), "--config", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "outside the search space of ofa_resnet50_tiny" in result.output
    assert "Invalid value for `w`[0]: expected one of [0, 1, 2]. Received w=3" in result.output
