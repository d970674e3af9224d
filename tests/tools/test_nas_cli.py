"""`ofa-tf search` / `specialize` / `predictor` / `demo` through the `ofa-tf` click group."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tools import ofa_tf_cli
from tools.ofa_tf_cli import main as ofa_tf
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import MacsModel
from ofa_tf.nas import ParamsModel
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.zoo import ofa_net

NET_ID = "ofa_mbv3_small_d234_e346_k357_w0.5"



@pytest.fixture(scope="module")
def net():
    return ofa_net(NET_ID, n_classes=10, dropout_rate=0.0)


@pytest.fixture(scope="module")
def predictor_dir(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("predictor")
    AccuracyPredictor(net.search_space, seed=2).save(path)
    return path


@pytest.fixture(scope="module")
def weights(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "net.weights.h5"
    net.save_weights(path)
    return path


@pytest.fixture(scope="module")
def lut_file(net, tmp_path_factory):
    rng = np.random.default_rng(1)
    entries = {layer.key: {"mean": float(rng.uniform(0.05, 1.0))} for layer in table_layers(net, overhead=False)}
    path = tmp_path_factory.mktemp("lut") / "phone.json"
    LatencyTable({}, entries).save(path)
    return path


def _run(args):
    return CliRunner().invoke(ofa_tf, [str(a) for a in args], catch_exceptions=False)


def test_the_nas_commands_are_registered_in_the_ofa_tf_group():
    assert {name: target for name, target in ofa_tf_cli.COMMANDS.items() if target.startswith(".nas_cli:")} == {
        "predictor": ".nas_cli:predictor", "search": ".nas_cli:search",
        "specialize": ".nas_cli:specialize", "demo": ".nas_cli:demo",
    }


def test_search_writes_the_config_export_reads_and_respects_every_constraint(net, weights, predictor_dir,
                                                                             lut_file, tmp_path):
    out = tmp_path / "subnet.json"
    shape = network_shape(net)
    lut = LatencyPredictor.from_files(lut_file, shape)
    mid = net.search_space.sample(np.random.default_rng(5)).with_resolution(28)  # bounds every model can meet
    bound = {"macs": np.ceil(MacsModel(shape).predict(mid)[0] * 1e3) / 1e3,
             "params": np.ceil(ParamsModel(shape).predict(mid)[0] * 1e3) / 1e3,
             "latency": np.ceil(lut.predict(mid)[0] * 1e3) / 1e3}
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", predictor_dir,
                   "--constraint", f"macs={bound['macs']:g}M", "--constraint", f"params={bound['params']:g}M",
                   "--constraint", f"latency={bound['latency']:g}ms",
                   "--lut", lut_file, "--generations", 40, "--pareto-generations", 15, "--seed", 3, "--out", out])
    assert result.exit_code == 0, result.output
    config = SubnetConfig.load(out)  # plain {ks, e, d, r}: what `ofa-tf export` takes
    net.search_space.validate(config)
    macs = MacsModel(shape).predict(config)[0]
    params = ParamsModel(shape).predict(config)[0]
    latency = lut.predict(config)[0]
    assert macs <= bound["macs"] and params <= bound["params"] and latency <= bound["latency"]
    assert "predicted top-1" in result.output and f"macs: {macs:.4g} M" in result.output  # 10 classes, from weights
    sidecar = json.loads((tmp_path / "subnet.search.json").read_text())
    assert sidecar["constraints"] == [f"macs<={bound['macs']:g}M", f"params<={bound['params']:g}M",
                                      f"latency<={bound['latency']:g}ms"]
    assert sidecar["efficiency"]["latency"] == pytest.approx(latency)
    assert (tmp_path / "subnet.pareto.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "constraint, message",
    [("macs=300", None), ("flops=3M", "METRIC one of macs, params, latency"), ("latency=20", "needs a unit"),
     ("macs=20Q", "Invalid unit 'Q'"), ("macs=0.0001M", "is infeasible: the smallest subnet gives")],
)
def test_search_errors(weights, predictor_dir, tmp_path, constraint, message):
    result = _run(["search", "--net", NET_ID, "--weights", weights, "--predictor", predictor_dir,
                   "--constraint", constraint, "--generations", 2, "--pareto-generations", 0,
                   "--out", tmp_path / "s.json"])
    if message is None:  # a bare count is valid: 300 MACs is below every subnet → infeasible, not a syntax error
        assert result.exit_code != 0 and "is infeasible" in result.output
    else:
        assert result.exit_code != 0
        assert message in result.output
        assert "Traceback" not in result.output


def test_search_latency_without_lut_or_weights_is_a_clear_error(predictor_dir, tmp_path):
    result = _run(["search", "--net", NET_ID, "--n-classes", 10, "--predictor", predictor_dir,
                   "--constraint", "latency=5ms", "--out", tmp_path / "s.json"])
    assert result.exit_code != 0
    assert "needs --lut FILE, or --weights" in result.output


def test_specialize_rejects_unknown_lut_device_and_missing_predictor(weights, predictor_dir, lut_file, tmp_path):
    result = _run(["specialize", "--supernet", weights, "--net", NET_ID, "--predictor", predictor_dir,
                   "--devices", "note8:30ms,pixel1:20ms", "--lut", f"pixel9={lut_file}", "--out", tmp_path])
    assert result.exit_code != 0
    assert "Unknown device 'pixel9'" in result.output and "note8, pixel1" in result.output
    result = _run(["specialize", "--supernet", weights, "--net", NET_ID, "--predictor", tmp_path / "nothing",
                   "--devices", "note8:30ms", "--out", tmp_path])
    assert result.exit_code != 0 and "predictor.json not found" in result.output
    result = _run(["specialize", "--supernet", weights, "--net", NET_ID, "--predictor", predictor_dir,
                   "--devices", "note8=30ms", "--out", tmp_path])
    assert result.exit_code != 0 and "expected NAME:BUDGET" in result.output


def test_specialize_with_a_lut_device(weights, predictor_dir, lut_file, tmp_path):
    result = _run(["specialize", "--supernet", weights, "--net", NET_ID, "--predictor", predictor_dir,
                   "--devices", "phone:12ms", "--lut", f"phone={lut_file}", "--no-host", "--generations", 20,
                   "--out", tmp_path])
    assert result.exit_code == 0, result.output
    assert "phone (latency<=12ms, LUT" in result.output
    assert (tmp_path / "phone.tflite").stat().st_size > 10_000
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["devices"][0]["outcome"]["efficiency"]["phone_latency"] <= 12


def test_demo_options_reach_the_settings(monkeypatch):
    import tools.demo

    seen = []

    class Stop(Exception):
        pass

    def fake_run_demo(settings, out):
        seen.append((settings, out))
        raise Stop()

    monkeypatch.setattr(tools.demo, "run_demo", fake_run_demo)
    monkeypatch.delenv(tools.demo.QUICK_ENV, raising=False)
    with pytest.raises(Stop):
        _run(["demo", "--quick", "--full-epochs", 3, "--epochs", 2, "--n-subnets", 12, "--out", "somewhere"])
    settings, out = seen[0]
    assert out == "somewhere"
    assert settings == tools.demo.DemoSettings.quick(full_epochs=3, epochs=2, n_subnets=12)
    with pytest.raises(Stop):
        _run(["demo"])
    assert seen[1][0] == tools.demo.DemoSettings() and seen[1][1] == "demo_out"
    with pytest.raises(Stop):
        _run(["demo", "--predictor-features", "block"])
    assert seen[2][0] == tools.demo.DemoSettings(predictor_features="block")


def test_search_with_the_reference_predictor(shared, tmp_path):
    """Zero training: the tutorial's pretrained predictor drives the search over the official w1.2 space."""
    from ofa_tf.nas import pretrained_accuracy_predictor

    weights = shared / "reference" / "zoo" / "acc_predictor" / "acc_predictor.pth"
    out = tmp_path / "note8.json"
    result = CliRunner().invoke(ofa_tf, [
        "search", "--net", "ofa_mbv3_d234_e346_k357_w1.2", "--predictor", "reference", "--predictor-weights",
        str(weights), "--constraint", "macs=300M", "--generations", "3", "--population", "16",
        "--pareto-generations", "0", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    config = SubnetConfig.load(out)
    predicted = pretrained_accuracy_predictor(weights=weights).predict([config])[0]
    assert f"predicted top-1: {100 * predicted:.2f}%" in result.output
    assert config.r in range(160, 225, 4)


def test_reference_predictor_is_for_its_supernet_only(shared, tmp_path):
    weights = shared / "reference" / "zoo" / "acc_predictor" / "acc_predictor.pth"
    runner = CliRunner()
    result = runner.invoke(ofa_tf, ["search", "--net", NET_ID, "--predictor", "reference", "--predictor-weights",
                                 str(weights), "--constraint", "macs=300M", "--out", str(tmp_path / "x.json")])
    assert result.exit_code != 0
    assert "ofa_mbv3_d234_e346_k357_w1.2 and ofa_resnet50 subnets only; received --net " + NET_ID in result.output
    result = runner.invoke(ofa_tf, ["search", "--net", NET_ID, "--predictor", str(tmp_path), "--predictor-weights",
                                 str(weights), "--constraint", "macs=300M", "--out", str(tmp_path / "x.json")])
    assert result.exit_code != 0 and "--predictor-weights goes with --predictor reference" in result.output


@pytest.mark.slow
def test_specialize_with_the_reference_predictor(shared, tmp_path):
    """The official w1.2 supernet (random weights here) specialized for a MACs budget with no training."""
    weights = tmp_path / "w12.weights.h5"
    ofa_net("ofa_mbv3_d234_e346_k357_w1.2", dropout_rate=0.0).save_weights(weights)
    predictor = shared / "reference" / "zoo" / "acc_predictor" / "acc_predictor.pth"
    result = _run(["specialize", "--supernet", weights, "--net", "ofa_mbv3_d234_e346_k357_w1.2", "--predictor",
                   "reference", "--predictor-weights", predictor, "--devices", "phone:macs=250M", "--no-host",
                   "--generations", 3, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    outcome = report["devices"][0]["outcome"]
    assert outcome["efficiency"]["macs"] <= 250
    from ofa_tf.nas import pretrained_accuracy_predictor

    config = SubnetConfig.from_dict(outcome["config"])
    assert outcome["predicted_accuracy"] == pytest.approx(
        pretrained_accuracy_predictor(weights=predictor).predict([config])[0])
    assert (tmp_path / "out" / "phone.tflite").stat().st_size > 1_000_000


@pytest.mark.slow
def test_search_and_export_on_proxyless(tmp_path):
    """A constrained search on the ProxylessNAS supernet, then `ofa-tf export` of the result (float32 TFLite)."""
    from ofa_tf.counting import profile
    from tools.cli import export_command
    from tools.host_runner import predict

    net_id = "ofa_proxyless_tiny_d234_e346_k357_w0.5"
    net = ofa_net(net_id, n_classes=10, dropout_rate=0.0)
    weights, predictor = tmp_path / "proxyless.weights.h5", tmp_path / "predictor"
    net.save_weights(weights)
    AccuracyPredictor(net.search_space, seed=2).save(predictor)
    shape = network_shape(net)
    mid = net.search_space.sample(np.random.default_rng(5)).with_resolution(12)
    bound = {"macs": np.ceil(MacsModel(shape).predict(mid)[0] * 1e3) / 1e3,
             "params": np.ceil(ParamsModel(shape).predict(mid)[0] * 1e3) / 1e3}
    out = tmp_path / "subnet.json"
    result = _run(["search", "--net", net_id, "--weights", weights, "--predictor", predictor,
                   "--constraint", f"macs={bound['macs']:g}M", "--constraint", f"params={bound['params']:g}M",
                   "--generations", 20, "--pareto-generations", 0, "--seed", 3, "--out", out])
    assert result.exit_code == 0, result.output
    config = SubnetConfig.load(out)
    net.search_space.validate(config)
    assert len(config.ks) == 21 and config.d[-1] == 1
    net.set_active_config(config)
    counted = profile(net, config.r)  # the analytic models are the reference's counts of the built subnet
    assert counted["params"] / 1e6 == ParamsModel(shape).predict(config)[0] <= bound["params"]
    assert counted["macs_exact"] / 1e6 == MacsModel(shape).predict(config)[0] <= bound["macs"]

    tflite = tmp_path / "subnet.tflite"
    result = CliRunner().invoke(export_command, ["--net", net_id, "--weights", str(weights), "--config", str(out),
                                                 "--quantize", "none", "--out", str(tflite)])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(6).normal(size=(2, config.r, config.r, 3)).astype("float32")
    np.testing.assert_allclose(predict(tflite, x), net.get_active_subnet()(x, training=False), rtol=1e-4, atol=1e-5)

    result = _run(["specialize", "--supernet", weights, "--net", net_id, "--predictor", predictor,
                   "--devices", f"box:macs={bound['macs']:g}M", "--no-host", "--generations", 10, "--out",
                   tmp_path / "specialized"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "specialized" / "report.json").read_text())
    assert report["net_id"] == net_id and report["devices"][0]["outcome"]["efficiency"]["macs"] <= bound["macs"]
    assert (tmp_path / "specialized" / "box.tflite").stat().st_size > 10_000


@pytest.mark.slow  # ~15 s: 10 subnets of the tiny preset BN-recalibrated and evaluated
def test_predictor_with_stage_features(tmp_path):
    tiny = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
    weights = tmp_path / "tiny.weights.h5"
    ofa_net(tiny, n_classes=10, dropout_rate=0.0).save_weights(weights)
    out = tmp_path / "predictor"
    result = _run(["predictor", "--net", tiny, "--weights", weights, "--data", "digits", "--n-subnets", 10,
                   "--calibration-images", 64, "--epochs", 5, "--features", "stage", "--quiet", "--out", out])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "predictor.json").read_text())["features"] == "stage"
    predictor = AccuracyPredictor.load(out)
    assert predictor.encoder.n_dim == 3 + 3 * 5  # resolutions 8, 12, 16 and three figures per stage
    result = _run(["predictor", "--net", tiny, "--weights", weights, "--features", "layer", "--out", out])
    assert result.exit_code != 0 and "'layer' is not one of 'block', 'stage'" in result.output


@pytest.mark.slow
def test_the_installed_command_shows_its_tools_progress_lines(weights, predictor_dir, lut_file, tmp_path):
    """Installed, the tools modules log as `ofa_tf_tools.*`, not `tools.*`: their INFO lines (here `specialize`'s
    "Searching for ...") reach the user of the console script as they do under `python -m tools.ofa_tf_cli`."""
    script = shutil.which("ofa-tf", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip(f"no ofa-tf console script next to {sys.executable} (pip install -e . installs it)")
    result = subprocess.run([script, "specialize", "--supernet", str(weights), "--net", NET_ID, "--predictor",
                             str(predictor_dir), "--devices", "phone:12ms", "--lut", f"phone={lut_file}", "--no-host",
                             "--generations", "5", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Searching for phone (latency<=12ms, LUT" in result.stderr
