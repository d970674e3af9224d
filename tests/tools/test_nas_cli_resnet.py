"""`ofa-tf predictor | search | specialize --net ofa_resnet50_tiny`: OFA-ResNets through the NAS commands."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ofa_tf.nas import AccuracyPredictor
from ofa_tf.families.resnet.efficiency import ResNetMacsModel
from ofa_tf.families.resnet.efficiency import ResNetParamsModel
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.zoo import ofa_net
from tools.ofa_tf_cli import main as ofa_tf

NET_ID = "ofa_resnet50_tiny"



def _run(args):
    return CliRunner().invoke(ofa_tf, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def net():
    return ofa_net(NET_ID, n_classes=10, dropout_rate=0.0)


@pytest.fixture(scope="module")
def weights(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "net.weights.h5"
    net.save_weights(path)
    return path


@pytest.fixture(scope="module")
def predictor_dir(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("predictor")
    AccuracyPredictor(net.search_space, seed=2).save(path)
    return path


@pytest.mark.slow  # ~25 s: 10 subnets BN-recalibrated and evaluated, then a search with the trained predictor
def test_predictor_from_a_tiny_run_drives_the_search(net, weights, tmp_path):
    out = tmp_path / "predictor"
    result = _run(["predictor", "--net", NET_ID, "--weights", weights, "--data", "digits", "--n-subnets", 10,
                   "--calibration-images", 64, "--epochs", 5, "--quiet", "--out", out])
    assert result.exit_code == 0, result.output
    assert "Predictor trained on 8 subnets; on 2 held-out" in result.output
    lines = (out / "acc_dataset.jsonl").read_text().splitlines()
    configs = [ResNetConfig.from_dict(json.loads(line)["config"]) for line in lines]
    assert len(configs) == 10 and all(0 <= json.loads(line)["acc"] <= 1 for line in lines)
    predictor = AccuracyPredictor.load(out)
    assert predictor.space == net.search_space and predictor.predict(configs).shape == (10,)
    macs = ResNetMacsModel(net)
    bound = float(np.ceil(macs.predict(net.search_space.sample(np.random.default_rng(3)).with_resolution(28))[0]
                          * 1e3) / 1e3)
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", out,
                   "--constraint", f"macs={bound}M", "--generations", 5, "--population", 20,
                   "--pareto-generations", 0, "--out", tmp_path / "subnet.json"])
    assert result.exit_code == 0, result.output
    config = ResNetConfig.load(tmp_path / "subnet.json")
    assert macs.predict(config)[0] <= bound
    chosen = float(result.output.split("predicted top-1: ")[1].split("%")[0])
    assert chosen == pytest.approx(100 * predictor.predict(config)[0], abs=0.006)


def test_search_under_macs_and_params_budgets(net, weights, predictor_dir, tmp_path):
    space = net.search_space
    macs, params = ResNetMacsModel(net), ResNetParamsModel(net)
    mid = space.sample(np.random.default_rng(3)).with_resolution(28)
    bound_macs = float(np.ceil(macs.predict(mid)[0] * 1e3) / 1e3)
    bound_params = float(np.ceil(params.predict(mid)[0] * 1e3) / 1e3)
    out = tmp_path / "subnet.json"
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", predictor_dir,
                   "--constraint", f"macs={bound_macs}M", "--constraint", f"params={bound_params}M",
                   "--generations", 5, "--population", 20, "--pareto-generations", 3, "--out", out])
    assert result.exit_code == 0, result.output
    config = ResNetConfig.load(out)
    space.validate(config)
    assert macs.predict(config)[0] <= bound_macs and params.predict(config)[0] <= bound_params
    sidecar = json.loads(out.with_name("subnet.search.json").read_text())
    assert sidecar["efficiency"]["macs"] == pytest.approx(macs.predict(config)[0])
    assert sidecar["efficiency"]["params"] == pytest.approx(params.predict(config)[0])
    assert f"macs: {macs.predict(config)[0]:.4g} M" in result.output


def test_latency_tables_are_refused_for_resnet(weights, predictor_dir, tmp_path):
    lut = tmp_path / "phone.json"
    lut.write_text("{}")
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", predictor_dir,
                   "--constraint", "latency=5ms", "--lut", lut, "--out", tmp_path / "s.json"])
    assert result.exit_code != 0
    assert "Error: Latency lookup tables time MobileNet (MBConv) blocks; ofa_resnet50_tiny is an OFA-ResNet" \
        in result.output and len(result.output.strip().splitlines()) == 1
    result = _run(["specialize", "--supernet", weights, "--net", NET_ID, "--predictor", predictor_dir,
                   "--devices", "phone:5ms", "--lut", f"phone={lut}", "--no-host", "--out", tmp_path / "spec"])
    assert result.exit_code != 0 and "ofa_resnet50_tiny is an OFA-ResNet supernet" in result.output


def test_mobilenet_predictor_is_refused_for_resnet(weights, tmp_path):
    AccuracyPredictor(ofa_net("ofa_mbv3_small_d234_e346_k357_w0.5", n_classes=10).search_space).save(tmp_path / "p")
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", tmp_path / "p",
                   "--constraint", "macs=1M", "--out", tmp_path / "s.json"])
    assert result.exit_code != 0
    assert "trained for a SearchSpace, not the ResNetSearchSpace of ofa_resnet50_tiny" in result.output


def test_specialize_with_a_macs_budget(net, weights, predictor_dir, tmp_path):
    macs = ResNetMacsModel(net)
    bound = float(np.ceil(macs.predict(net.search_space.sample(np.random.default_rng(4)).with_resolution(28))[0]
                          * 1e3) / 1e3)
    result = _run(["specialize", "--supernet", weights, "--net", NET_ID, "--predictor", predictor_dir,
                   "--devices", f"tiny:macs={bound}M", "--no-host", "--generations", 5, "--out", tmp_path])
    assert result.exit_code == 0, result.output
    config = ResNetConfig.load(tmp_path / "tiny.json")
    assert macs.predict(config)[0] <= bound
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["net_id"] == NET_ID
    assert report["devices"][0]["outcome"]["efficiency"]["macs"] == pytest.approx(macs.predict(config)[0])
    assert (tmp_path / "tiny.tflite").stat().st_size > 10_000


@pytest.mark.slow  # ~50 s on 2 busy cores: five subnets exported and timed on this host
def test_search_under_a_host_latency_budget(net, weights, predictor_dir, tmp_path):
    out = tmp_path / "subnet.json"
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", predictor_dir,
                   "--constraint", "latency=1000ms", "--generations", 3, "--population", 10,
                   "--pareto-generations", 0, "--out", out])
    assert result.exit_code == 0, result.output
    assert "Note: no --lut; latency is this host's, predicted from MACs by a linear fit to 5 measured" in result.output
    measured = list((tmp_path / "subnet_host_measurements").glob("*.tflite"))
    assert len(measured) == 5
    sidecar = json.loads(out.with_name("subnet.search.json").read_text())
    efficiency = sidecar["efficiency"]
    intercept, slope = (float(v) for v in result.output.split("subnets (")[1].split(" ms/M")[0].split(" ms + "))
    assert efficiency["host_latency"] == pytest.approx(intercept + slope * efficiency["macs"], abs=2e-3)
    assert efficiency["host_latency"] <= 1000
