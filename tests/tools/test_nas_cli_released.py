"""The reference's released files through `ofa-tf search` / `specialize` (the tutorials' flows), and `--resolutions`."""
import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import ofa_tf
from tools.ofa_tf_cli import main as ofa_tf_main
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.zoo import ofa_net

W12 = "ofa_mbv3_d234_e346_k357_w1.2"
NOTE10 = (160, 176, 192, 208, 224)
SMALL = "ofa_mbv3_small_d234_e346_k357_w0.5"  # 24, 28, 32 px


def _run(args):
    return CliRunner().invoke(ofa_tf_main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def released(shared):
    return shared / "reference" / "released"


def _note10_luts(released):
    return [arg for r in NOTE10 for arg in ("--lut", released / "note10" / f"{r}_lookup_table.yaml")]


def test_search_the_tutorial_on_the_released_files(released, tmp_path):
    """The issue's command at the tutorial's tightest bound (15 ms): every Note10 table, each at its resolution."""
    out = tmp_path / "note10.json"
    result = _run(["search", "--net", W12, "--predictor", "reference", "--predictor-weights",
                   released / "acc_predictor.pth", *_note10_luts(released), "--constraint", "latency=15ms",
                   "--pareto-generations", 20, "--out", out])
    assert result.exit_code == 0, result.output
    assert "resolutions searched: 160, 176, 192, 208, 224 (those of the search space every model covers)" in (
        result.output)
    config = SubnetConfig.load(out)
    lut = LatencyPredictor.from_files([released / "note10" / f"{r}_lookup_table.yaml" for r in NOTE10],
                                      network_shape(ofa_net(W12)))
    sidecar = json.loads(out.with_name("note10.search.json").read_text())
    assert config.r in NOTE10 and sidecar["resolutions"] == list(NOTE10)
    assert sidecar["efficiency"]["latency"] == pytest.approx(lut.predict(config)[0], rel=1e-12)
    assert sidecar["efficiency"]["latency"] <= 15.0
    predicted = ofa_tf.pretrained_accuracy_predictor(weights=released / "acc_predictor.pth").predict(config)[0]
    assert sidecar["predicted_accuracy"] == pytest.approx(predicted) and predicted > 0.78
    assert f"predicted top-1: {100 * predicted:.2f}%" in result.output


def test_search_the_resnet50_notebook_with_its_released_predictor(released, tmp_path):
    out = tmp_path / "r50.json"
    weights = released / "ofa_resnet50_acc_predictor.pth"
    result = _run(["search", "--net", "ofa_resnet50", "--predictor", "reference", "--predictor-weights", weights,
                   "--constraint", "macs=2000M", "--generations", 40, "--pareto-generations", 0, "--out", out])
    assert result.exit_code == 0, result.output
    assert "resolutions searched: 128, 144, 160, 176, 192, 224" in result.output
    config = ResNetConfig.load(out)
    predicted = ofa_tf.pretrained_accuracy_predictor(net_id="ofa_resnet50", weights=weights).predict(config)[0]
    assert f"predicted top-1: {100 * predicted:.2f}%" in result.output and predicted > 0.78
    assert ofa_tf.nas.ResNetMacsModel(ofa_net("ofa_resnet50")).predict(config)[0] <= 2000


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small preset (24, 28, 32 px): weights, a predictor, and reference-format tables at 24 and 32 px."""
    net = ofa_net(SMALL, n_classes=10, dropout_rate=0.0)
    folder = tmp_path_factory.mktemp("small")
    net.save_weights(folder / "net.weights.h5")
    AccuracyPredictor(net.search_space, seed=2).save(folder / "predictor")
    AccuracyPredictor(net.search_space, resolutions=[28], seed=2).save(folder / "predictor28")
    rng = np.random.default_rng(0)
    for r in (24, 32):
        entries = {layer.key: {"mean": float(rng.uniform(0.02, 0.3))} for layer in table_layers(net, [r], False)}
        (folder / f"{r}_lookup_table.yaml").write_text(yaml.safe_dump(entries))
    return folder


def test_search_resolutions_option_and_errors(small, tmp_path):
    common = ["search", "--net", SMALL, "--weights", small / "net.weights.h5", "--generations", 5,
              "--pareto-generations", 0, "--out", tmp_path / "s.json"]
    luts = ["--lut", small / "24_lookup_table.yaml", "--lut", small / "32_lookup_table.yaml"]
    result = _run([*common, "--predictor", small / "predictor", *luts, "--constraint", "latency=100ms"])
    assert result.exit_code == 0, result.output
    assert "resolutions searched: 24, 32 (those of the search space every model covers)" in result.output
    result = _run([*common, "--predictor", small / "predictor", *luts, "--constraint", "latency=100ms",
                   "--resolutions", "32"])
    assert result.exit_code == 0 and "resolutions searched: 32 (--resolutions)" in result.output
    assert SubnetConfig.load(tmp_path / "s.json").r == 32
    result = _run([*common, "--predictor", small / "predictor", *luts, "--constraint", "latency=100ms",
                   "--resolutions", "24,28"])
    assert result.exit_code == 1 and "Error: Invalid resolution 28: not covered by the latency table" in result.output
    assert "every model of the search covers 24, 32" in result.output
    result = _run([*common, "--predictor", small / "predictor28", *luts, "--constraint", "latency=100ms"])
    assert result.exit_code == 1 and ("No resolution is covered by every model of the search (the search space: "
                                      "24, 28, 32; the accuracy predictor: 28; the latency tables 'latency'"
                                      in result.output)
    result = _run([*common, "--predictor", small / "predictor", "--constraint", "macs=100M", "--resolutions", "2x"])
    assert result.exit_code == 2 and "expected comma-separated integers" in result.output


def test_specialize_names_the_device_whose_table_misses_a_resolution(small, tmp_path):
    result = _run(["specialize", "--supernet", small / "net.weights.h5", "--net", SMALL, "--predictor",
                   small / "predictor", "--devices", "phone:20ms", "--lut", f"phone={small / '24_lookup_table.yaml'}",
                   "--lut", f"phone={small / '32_lookup_table.yaml'}", "--no-host", "--resolutions", "28",
                   "--out", tmp_path])
    assert result.exit_code == 1
    assert "Error: Device 'phone' (latency<=20ms): Invalid resolution 28: not covered by the latency tables " \
           "'phone_latency'" in result.output
    assert not list(tmp_path.glob("*.tflite"))


@pytest.mark.slow
def test_specialize_the_w12_supernet_for_the_note10_at_15ms(released, tmp_path):
    """Zero training: random weights stand in for the official w1.2 supernet's (same layout)."""
    weights = tmp_path / "w12.weights.h5"
    ofa_net(W12, dropout_rate=0.0).save_weights(weights)
    luts = [arg for r in NOTE10 for arg in ("--lut", f"note10={released / 'note10' / f'{r}_lookup_table.yaml'}")]
    result = _run(["specialize", "--supernet", weights, "--net", W12, "--predictor", "reference",
                   "--predictor-weights", released / "acc_predictor.pth", "--devices", "note10:15ms", *luts,
                   "--no-host", "--generations", 100, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    assert "resolutions searched: 160, 176, 192, 208, 224" in result.output
    outcome = json.loads((tmp_path / "out" / "report.json").read_text())["devices"][0]["outcome"]
    assert outcome["efficiency"]["note10_latency"] <= 15 and outcome["resolutions"] == list(NOTE10)
    assert (tmp_path / "out" / "note10.tflite").stat().st_size > 1_000_000


@pytest.mark.slow
def test_specialize_the_resnet50_with_its_released_predictor(released, tmp_path):
    weights = tmp_path / "r50.weights.h5"
    ofa_net("ofa_resnet50", dropout_rate=0.0).save_weights(weights)
    result = _run(["specialize", "--supernet", weights, "--net", "ofa_resnet50", "--predictor", "reference",
                   "--predictor-weights", released / "ofa_resnet50_acc_predictor.pth", "--devices", "cpu:macs=1500M",
                   "--no-host", "--generations", 30, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    outcome = json.loads((tmp_path / "out" / "report.json").read_text())["devices"][0]["outcome"]
    assert outcome["efficiency"]["macs"] <= 1500 and outcome["config"]["r"] in (128, 144, 160, 176, 192, 224)
    assert outcome["predicted_accuracy"] > 0.75 and (tmp_path / "out" / "cpu.tflite").is_file()
