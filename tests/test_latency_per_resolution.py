"""Per-resolution latency tables: a subnet at r uses the table measured at r (the reference tutorial's `LatencyTable`),
on synthetic tables with conflicting keys and on the reference's released Note10 tables."""
import numpy as np
import pytest
import yaml

from ofa_tf.latency import Calibration
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import LatencyTableModel
from ofa_tf.latency import latency_table_keys
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3

NOTE10 = (160, 176, 192, 208, 224)

# Stride-2 stem: 30 -> 15 -> 8 and 32 -> 16 -> 8, so from the second stage on both resolutions share their keys.
NET = dict(n_classes=10, width_mult=0.5, ks_list=(3, 5), expand_list=(3, 4), depth_list=(1, 2),
           resolutions=(30, 32))


@pytest.fixture(scope="module")
def net():
    return OFAMobileNetV3(**NET)


def _table(net, r, seed):
    """Every entry of `net` at r with its own random means: keys shared with the other resolution differ."""
    rng = np.random.default_rng(seed)
    return {layer.key: {"mean": float(rng.uniform(0.1, 2.0)), "count": 5, "var": 0.0}
            for layer in table_layers(net, [r], overhead=False)}


@pytest.fixture(scope="module")
def tables(net, tmp_path_factory):
    folder = tmp_path_factory.mktemp("per_resolution")
    out = {}
    for r, seed in ((30, 1), (32, 2)):
        out[r] = _table(net, r, seed)
        (folder / f"{r}_lookup_table.yaml").write_text(yaml.safe_dump(out[r]))
    return folder, out


def test_shared_keys_conflict_and_merging_refuses_them(tables):
    folder, entries = tables
    shared = sorted(set(entries[30]) & set(entries[32]))
    assert len(shared) > 20 and any(entries[30][k]["mean"] != entries[32][k]["mean"] for k in shared)
    paths = [folder / "30_lookup_table.yaml", folder / "32_lookup_table.yaml"]
    with pytest.raises(ValueError, match=r"30_lookup_table.yaml and .*32_lookup_table.yaml both hold"):
        LatencyTable.merge(paths)
    with pytest.raises(ValueError, match="both hold"):
        LatencyTableModel.from_files(paths, network_shape(OFAMobileNetV3(**NET)))


def test_each_resolution_uses_its_own_table(net, tables):
    folder, entries = tables
    shape = network_shape(net)
    predictor = LatencyPredictor.from_files([folder / "32_lookup_table.yaml", folder / "30_lookup_table.yaml"], shape)
    assert predictor.resolutions == (30, 32) and [t.resolutions for t in predictor.tables] == [(32,), (30,)]
    rng = np.random.default_rng(0)
    configs = [net.search_space.sample(rng).with_resolution(r) for r in (30, 32) * 40]
    expected = [sum(entries[c.r][key]["mean"] for key in latency_table_keys(shape, c)) for c in configs]
    np.testing.assert_allclose(predictor.predict(configs), expected, rtol=1e-12)
    np.testing.assert_allclose(predictor.predict_sum(configs), expected, rtol=1e-12)
    # Each table alone predicts its own resolution the same way.
    alone = LatencyPredictor.from_files(folder / "30_lookup_table.yaml", shape)
    at_30 = [c for c in configs if c.r == 30]
    np.testing.assert_allclose(alone.predict(at_30), predictor.predict(at_30), rtol=0)


def test_resolution_errors_name_the_tables(net, tables, tmp_path):
    folder, entries = tables
    shape = network_shape(net)
    predictor = LatencyPredictor.from_files([folder / "30_lookup_table.yaml", folder / "32_lookup_table.yaml"], shape)
    with pytest.raises(ValueError, match="no table measured at r=31: its tables cover 30, 32"):
        predictor.predict(net.search_space.min_config(r=31))
    (tmp_path / "again.yaml").write_text(yaml.safe_dump(entries[30]))
    with pytest.raises(ValueError, match=r"30_lookup_table.yaml and .*again.yaml both cover r=30"):
        LatencyPredictor.from_files([folder / "30_lookup_table.yaml", tmp_path / "again.yaml"], shape)
    headless = {k: v for k, v in entries[30].items() if not k.startswith("Conv-")}
    (tmp_path / "headless.yaml").write_text(yaml.safe_dump(headless))
    with pytest.raises(ValueError, match="headless.yaml does not say which resolution"):
        LatencyPredictor.from_files([folder / "32_lookup_table.yaml", tmp_path / "headless.yaml"], shape)


def test_own_tables_keep_their_calibration_and_overhead(net, tables, tmp_path):
    """`android-bench lut` tables (header: resolutions, statistic, calibration) of two resolutions, used together."""
    folder, entries = tables
    shape = network_shape(net)
    overhead = {30: 0.05, 32: 0.02}
    calibrations = {30: Calibration("scale", 1.25, 0.0, 5), 32: Calibration("linear", 0.9, 0.3, 5)}
    paths = []
    for r in (30, 32):
        table = dict(entries[r], **{"Overhead-input:1x1x1-output:1x1x1": {"mean": overhead[r], "count": 5}})
        header = {"net_id": "test", "resolutions": [r], "statistic": "mean",
                  "calibration": calibrations[r].to_dict()}
        LatencyTable(header, table).save(tmp_path / f"own_{r}.yaml")
        paths.append(tmp_path / f"own_{r}.yaml")
    predictor = LatencyPredictor.from_files(paths, shape)
    rng = np.random.default_rng(1)
    configs = [net.search_space.sample(rng).with_resolution(r) for r in (30, 32) * 10]
    uncalibrated_ms = predictor.predict_uncalibrated(configs)
    for config, value, uncalibrated in zip(configs, predictor.predict(configs), uncalibrated_ms):
        keys = latency_table_keys(shape, config)
        o = overhead[config.r]
        raw = o + sum(max(entries[config.r][k]["mean"] - o, 0.0) for k in keys)
        assert uncalibrated == pytest.approx(raw, rel=1e-12)
        assert value == pytest.approx(calibrations[config.r].apply(raw), rel=1e-12)
    # One calibration fitted on measured subnets replaces both.
    refit = predictor.calibrated(configs[:4], 2.0 * predictor.predict_uncalibrated(configs[:4]))
    np.testing.assert_allclose(refit.predict(configs), 2.0 * predictor.predict_uncalibrated(configs), rtol=1e-12)


# --- the reference's released Note10 tables, against the tutorial's formula ---

_W12 = dict(stem=24, widths=(32, 48, 96, 136, 192), strides=(2, 2, 2, 1, 2), se=(0, 1, 0, 1, 1), hs=(0, 0, 1, 1, 1))


def tutorial_latency(tables: dict, spec: dict) -> float:
    """`LatencyEstimator.predict_network_latency_given_spec` of ofa/tutorial/latency_table.py, written out for the w1.2
    network and the table of `spec["r"][0]` (the tutorial's `LatencyTable.predict_efficiency`)."""
    lut = tables[spec["r"][0]]

    def query(*parts):
        return lut["-".join(parts)]["mean"]

    size = spec["r"][0]
    f = (size + 1) // 2
    total = query("Conv", f"input:{size}x{size}x3", f"output:{f}x{f}x24")
    total += query("expanded_conv", f"input:{f}x{f}x24", f"output:{f}x{f}x24", "expand:24", "kernel:3", "stride:1",
                   "idskip:1", "se:0", "hs:0")
    in_channels = 24
    for i in range(20):
        stage = i // 4
        if i % 4 + 1 > spec["d"][stage]:
            continue
        stride, idskip = (_W12["strides"][stage], 0) if i % 4 == 0 else (1, 1)
        out = int((f - 1) / stride + 1)
        width = _W12["widths"][stage]
        total += query("expanded_conv", f"input:{f}x{f}x{in_channels}", f"output:{out}x{out}x{width}",
                       f"expand:{round(in_channels * spec['e'][i])}", f"kernel:{spec['ks'][i]}", f"stride:{stride}",
                       f"idskip:{idskip}", f"se:{_W12['se'][stage]}", f"hs:{_W12['hs'][stage]}")
        f, in_channels = out, width
    total += query("Conv_1", f"input:{f}x{f}x192", f"output:{f}x{f}x1152")
    total += query("AvgPool2D", f"input:{f}x{f}x1152", "output:1x1x1152")
    total += query("Conv_2", "input:1x1x1152", "output:1x1x1536")
    return total + query("Logits", "input:1x1x1536", "output:1000")


@pytest.fixture(scope="module")
def note10(shared):
    folder = shared / "reference" / "released" / "note10"
    return {r: folder / f"{r}_lookup_table.yaml" for r in NOTE10}


def test_note10_tables_predict_as_the_tutorial(note10):
    shape = network_shape(OFAMobileNetV3(width_mult=1.2, resolutions=NOTE10))
    predictor = LatencyPredictor.from_files(list(note10.values()), shape)
    assert predictor.resolutions == NOTE10 and predictor.granularity == "layer"
    tables = {r: yaml.safe_load(path.read_text()) for r, path in note10.items()}
    rng = np.random.default_rng(2024)
    specs = [{"ks": rng.choice([3, 5, 7], 20).tolist(), "e": rng.choice([3, 4, 6], 20).tolist(),
              "d": rng.choice([2, 3, 4], 5).tolist(), "r": [int(rng.choice(NOTE10))]} for _ in range(300)]
    expected = np.array([tutorial_latency(tables, spec) for spec in specs])
    predicted = predictor.predict([SubnetConfig.from_dict(spec) for spec in specs])
    assert np.abs(predicted / expected - 1).max() < 1e-9
    # The smallest subnet at each resolution (the 9.9 ms floor at 160 px).
    smallest = predictor.predict([SubnetConfig([3] * 20, [3] * 20, [2] * 5, r) for r in NOTE10])
    np.testing.assert_allclose(smallest, [tutorial_latency(tables, {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5,
                                                                    "r": [r]}) for r in NOTE10], rtol=1e-12)
    assert smallest[0] == pytest.approx(9.8903, abs=1e-4) and np.all(np.diff(smallest) > 0)
