"""Specialization: budget parsing, device resolution (LUT / MACs fallback), constrained search, export + report."""
import json

import numpy as np
import pytest
import yaml

from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import Constraint
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import InfeasibleConstraintError
from ofa_tf.nas import MacsLatencyModel
from ofa_tf.nas import MacsModel
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import ParamsModel
from ofa_tf.nas import count_macs
from tools.specialize import Budget
from tools.specialize import budget_constraint
from tools.specialize import parse_constraint
from tools.specialize import parse_devices
from tools.specialize import parse_luts
from tools.specialize import resolve_devices
from tools.specialize import search_subnet
from tools.specialize import specialize
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.zoo import ofa_net

NET_ID = "ofa_mbv3_small_d234_e346_k357_w0.5"
FAST = dict(evolution=EvolutionConfig(n_generations=40), nsga2=NSGA2Config(n_generations=20))


@pytest.fixture(scope="module")
def net():
    return ofa_net(NET_ID, n_classes=10, dropout_rate=0.0)


@pytest.fixture(scope="module")
def predictor(net):
    return AccuracyPredictor(net.search_space, seed=1)


@pytest.fixture(scope="module")
def lut_file(net, tmp_path_factory):
    """A LUT with every entry of the space: a deterministic made-up ms per key (the format is what is tested)."""
    keys = [layer.key for layer in table_layers(net, overhead=False)]
    rng = np.random.default_rng(0)
    entries = {k: {"mean": float(rng.uniform(0.05, 1.0)), "count": 10, "var": 0.0} for k in keys}
    path = tmp_path_factory.mktemp("lut") / "phone.yaml"
    LatencyTable({"device": "phone"}, entries).save(path)
    return path


@pytest.mark.parametrize(
    "text, metric, value",
    [("macs=300M", "macs", 300.0), ("macs=0.3G", "macs", 300.0), ("MACS=300000000", "macs", 300.0),
     ("params=5M", "params", 5.0), ("params=500k", "params", 0.5), ("latency=20ms", "latency", 20.0),
     ("latency=1.5s", "latency", 1500.0), ("latency=500us", "latency", 0.5)],
)
def test_parse_constraint(text, metric, value):
    budget = parse_constraint(text)
    assert budget.metric == metric
    assert budget.value == pytest.approx(value)


@pytest.mark.parametrize(
    "text, message",
    [("macs300M", "expected METRIC=VALUE"), ("flops=300M", "METRIC one of macs, params, latency"),
     ("latency=20", "needs a unit"), ("macs=300X", "Invalid unit 'X'"), ("latency=20M", "latency takes ms, us or s"),
     ("macs=-3M", "expected a positive number"), ("params=0M", "must be positive")],
)
def test_parse_constraint_errors_name_the_bad_value(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_constraint(text)
    assert repr(text.partition("=")[2]) in str(info.value) or repr(text) in str(info.value)


def test_parse_devices():
    devices = parse_devices("note8:30ms, pixel1:20ms,host:macs=20M")
    assert devices == [("note8", Budget("latency", 30.0)), ("pixel1", Budget("latency", 20.0)),
                       ("host", Budget("macs", 20.0))]
    with pytest.raises(ValueError, match="given twice"):
        parse_devices("note8:30ms,note8:20ms")
    with pytest.raises(ValueError, match="expected NAME:BUDGET"):
        parse_devices("note8")
    with pytest.raises(ValueError, match="needs a unit"):
        parse_devices("note8:30")


def test_parse_luts(lut_file):
    assert parse_luts([f"note8={lut_file}"], ["note8"]) == {"note8": [lut_file]}
    with pytest.raises(ValueError, match="Unknown device 'pixel9'.*the devices are note8"):
        parse_luts([f"pixel9={lut_file}"], ["note8"])
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        parse_luts(["note8=missing.yaml"], ["note8"])
    with pytest.raises(ValueError, match="expected DEVICE=FILE"):
        parse_luts([str(lut_file)], ["note8"])


def test_macs_latency_model_fits_a_line_and_ranks_like_macs(net):
    shape = network_shape(net)
    rng = np.random.default_rng(0)
    configs = [net.search_space.sample(rng).with_resolution(int(rng.choice([24, 28, 32]))) for _ in range(20)]
    macs = count_macs(shape, configs) / 1e6
    model = MacsLatencyModel.fit(shape, configs, 0.2 + 0.05 * macs)
    assert model.intercept_ms == pytest.approx(0.2)
    assert model.ms_per_mmac == pytest.approx(0.05)
    assert np.array_equal(np.argsort(model.predict(configs)), np.argsort(macs))
    with pytest.raises(ValueError, match="two distinct MACs"):
        MacsLatencyModel.fit(shape, configs[:1] * 3, [1.0, 2.0, 3.0])


def test_resolve_devices_uses_the_lut_and_falls_back_to_macs_with_a_note(net, lut_file):
    shape = network_shape(net)
    fitted = MacsLatencyModel(shape, 0.1, 0.02, name="host_latency")
    calls = []

    def host_model():
        calls.append(1)
        return fitted

    targets = resolve_devices(parse_devices("note8:3ms,pixel1:2ms,host:1ms,tiny:macs=10M"), shape,
                              {"note8": [lut_file]}, host_model)
    by_name = {t.name: t for t in targets}
    assert isinstance(by_name["note8"].constraint.model, LatencyPredictor)
    assert by_name["note8"].source.startswith("LUT")
    assert by_name["pixel1"].source == "MACs fallback"
    assert "no LUT for pixel1" in by_name["pixel1"].note and "--lut pixel1=FILE" in by_name["pixel1"].note
    assert by_name["host"].source == "host fit"
    assert isinstance(by_name["tiny"].constraint.model, MacsModel)
    assert len(calls) == 1  # one host fit shared by every device that needs it
    config = net.search_space.max_config(r=32)
    assert by_name["pixel1"].constraint.model.predict(config)[0] == pytest.approx(fitted.predict(config)[0])
    with pytest.raises(ValueError, match="Device 'pixel1' has a latency budget but no lookup table"):
        resolve_devices(parse_devices("pixel1:2ms"), shape, {}, None)
    with pytest.raises(ValueError, match="Unknown device 'pixel9'"):
        resolve_devices(parse_devices("pixel1:2ms"), shape, {"pixel9": [lut_file]}, host_model)


def test_search_respects_every_constraint(net, predictor, lut_file):
    shape = network_shape(net)
    lut = LatencyPredictor.from_files(lut_file, shape, name="phone_latency")
    space = net.search_space
    mid = space.sample(np.random.default_rng(3)).with_resolution(28)
    bounds = {"macs": float(MacsModel(shape).predict(mid)[0]), "params": float(ParamsModel(shape).predict(mid)[0]),
              "phone_latency": float(lut.predict(mid)[0])}
    constraints = [Constraint(MacsModel(shape), bounds["macs"]), Constraint(ParamsModel(shape), bounds["params"]),
                   Constraint(lut, bounds["phone_latency"])]
    outcome = search_subnet(predictor, constraints, **FAST, seed=0)
    for constraint in constraints:
        assert constraint.model.predict(outcome.config)[0] <= constraint.bound
        assert outcome.efficiency[constraint.model.name] <= constraint.bound
        front_values = constraint.model.predict(list(outcome.front.configs))
        assert (front_values <= constraint.bound).all()
    assert outcome.predicted_accuracy == pytest.approx(predictor.predict(outcome.config)[0])
    # the chosen subnet is at least as good as every subnet of the final front
    assert outcome.predicted_accuracy >= outcome.front.accuracy.max() - 1e-6


def test_budget_below_the_smallest_subnet_is_infeasible(net, predictor):
    shape = network_shape(net)
    smallest = float(MacsModel(shape).predict(net.search_space.min_config(r=24))[0])
    constraint = budget_constraint(Budget("macs", smallest * 0.9), shape)
    with pytest.raises(InfeasibleConstraintError, match=rf"macs <= .* is infeasible: the smallest subnet gives "
                                                        rf"{smallest:.6g} M at r=24"):
        search_subnet(predictor, [constraint], evolution=EvolutionConfig(n_generations=2, max_sampling_rounds=3),
                      nsga2=None)
    with pytest.raises(ValueError, match="needs a latency model"):
        budget_constraint(Budget("latency", 5.0), shape)


def test_specialize_exports_one_tflite_per_device_and_writes_the_report(net, predictor, lut_file, tmp_path):
    shape = network_shape(net)
    space = net.search_space
    macs_mid = float(np.mean(count_macs(shape, [space.min_config(r=24), space.max_config(r=32)]))) / 1e6
    lut = LatencyPredictor.from_files(lut_file, shape)
    ms_mid = float(np.mean(lut.predict([space.min_config(r=24), space.max_config(r=32)])))
    report = specialize(net, predictor, f"phone:{ms_mid:.4f}ms,small:macs={macs_mid:.4f}M", tmp_path,
                        luts={"phone": [lut_file]}, measure_host=False, **FAST)
    assert [r.device for r in report.results] == ["phone", "small"]
    phone, small = report.results
    assert phone.outcome.efficiency["phone_latency"] <= ms_mid
    assert small.outcome.efficiency["macs"] <= macs_mid
    for r in report.results:
        config = SubnetConfig.load(r.config_path)
        assert config == r.outcome.config
        assert r.tflite_bytes > 10_000 and r.tflite_path.endswith(f"{r.device}.tflite")
        assert r.top1 is None and r.measured_host_ms is None  # no data, no host
    payload = json.loads(report.json_path.read_text())
    assert [d["device"] for d in payload["devices"]] == ["phone", "small"]
    assert payload["devices"][1]["outcome"]["pareto_front"]
    text = report.markdown_path.read_text()
    assert "| phone |" in text and "| small |" in text and "pareto.png" in text
    assert report.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InfeasibleConstraintError, match="Device 'tiny'"):
        specialize(net, predictor, "tiny:macs=0.001M", tmp_path / "x", measure_host=False, **FAST)


def test_lut_yaml_of_the_reference_format_is_accepted(net, lut_file, tmp_path):
    """A bare `key -> {mean, count, var}` file (the reference's) works like a table written by `LatencyTable`."""
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(LatencyTable.load(lut_file).entries))
    shape = network_shape(net)
    targets = resolve_devices(parse_devices("note10:5ms"), shape, {"note10": [bare]}, None)
    config = net.search_space.max_config(r=32)
    expected = LatencyPredictor.from_files(lut_file, shape).predict(config)
    assert targets[0].constraint.model.predict(config) == pytest.approx(expected)


def test_chosen_subnet_is_on_the_front_it_is_plotted_with(net, predictor, tmp_path):
    # A short NSGA-II and a long evolution: the evolution's subnet is better than NSGA-II's front alone, so the
    # front is drawn from both searches' candidates and the chosen subnet lies on it (never above it).
    shape = network_shape(net)
    space = net.search_space
    bound = float(np.mean(MacsModel(shape).predict([space.min_config(r=24), space.max_config(r=32)])))
    constraint = Constraint(MacsModel(shape), bound)
    outcome = search_subnet(predictor, [constraint], evolution=EvolutionConfig(n_generations=60),
                            nsga2=NSGA2Config(population_size=8, n_generations=1), seed=1)
    x, y = outcome.efficiency["macs"], outcome.predicted_accuracy
    front = outcome.front
    assert ((front.efficiency["macs"] <= x + 1e-9) & (front.accuracy >= y - 1e-12)).any()
    assert y == pytest.approx(front.accuracy.max())
    assert (front.efficiency["macs"] <= bound).all()


def test_host_budget_uses_the_host_latency_table(net, predictor, tmp_path):
    shape = network_shape(net)
    space = net.search_space
    rng = np.random.default_rng(0)
    entries = {key: {"mean": 0.2, "count": 1, "var": 0.0, "min": 0.1 + 0.01 * rng.random()}
               for key in (layer.key for layer in table_layers(net, granularity="block"))}
    header = {"statistic": "min", "granularity": "block",
              "calibration": {"method": "scale", "scale": 1.1, "offset_ms": 0.0, "n_subnets": 5}}
    host = LatencyPredictor(LatencyTable(header, entries), shape, name="host_latency")
    targets = resolve_devices(parse_devices("host:1ms,pixel1:1ms"), shape, {}, lambda: host, space)
    assert targets[0].source == "host LUT" and targets[0].constraint.model is host
    assert "block latency table" in targets[0].note and "x1.100 on 5 measured subnets" in targets[0].note
    assert targets[1].source == "MACs fallback" and isinstance(targets[1].constraint.model, MacsLatencyModel)
    ms = host.predict([space.min_config(r=24), space.max_config(r=32)])
    report = specialize(net, predictor, f"host:{ms.mean():.4f}ms", tmp_path, host_model=host, measure_host=False,
                        **FAST)
    (result,) = report.results
    assert result.source == "host LUT" and result.outcome.efficiency["host_latency"] <= ms.mean()
    payload = json.loads(report.json_path.read_text())
    assert payload["host_latency"]["granularity"] == "block" and payload["host_latency"]["entries"] == len(entries)
    assert "Host latency predicted by this host's block latency table" in report.markdown_path.read_text()


def test_a_table_of_some_resolutions_narrows_that_device_search_to_them(net, predictor, tmp_path):
    shape = network_shape(net)
    space = net.search_space
    r = max(space.resolutions)
    entries = {layer.key: {"mean": 0.2, "count": 1, "var": 0.0, "min": 0.1}
               for layer in table_layers(net, [r], granularity="block")}
    header = {"statistic": "min", "granularity": "block", "resolutions": [r]}
    host = LatencyPredictor(LatencyTable(header, entries), shape, name="host_latency")
    with pytest.raises(KeyError):  # the table has no entries at the other resolutions
        host.predict(space.max_config(r=min(space.resolutions)))
    targets = resolve_devices(parse_devices("host:1ms,pixel1:1ms,tiny:macs=20M"), shape, {}, lambda: host, space)
    assert targets[0].space.resolutions == (r,) and f"searched at the table's resolution(s) {r}" in targets[0].note
    assert targets[1].space is None and targets[2].space is None  # searched by MACs over the whole space
    bound = float(host.predict(space.max_config(r=r))[0])
    report = specialize(net, predictor, f"host:{bound:.4f}ms", tmp_path, host_model=host, measure_host=False,
                        **FAST)
    (result,) = report.results
    assert result.outcome.config.r == r and result.outcome.efficiency["host_latency"] <= bound
    assert {c.r for c in result.outcome.front.configs} == {r}


class _LinearHost:
    """A stand-in for the host's measurements: latency is `0.3 ms + 0.02 ms per M MACs` of the supernet's family."""

    def __init__(self, macs):
        self.macs = macs

    def __call__(self, config):
        return 0.3 + 0.02 * float(self.macs.predict(config)[0])


@pytest.mark.parametrize("net_id", ["ofa_resnet50_tiny", "ofa_proxyless_tiny_d234_e346_k357_w0.5"])
def test_supernets_without_block_tables_get_a_host_line_over_their_macs(net, net_id, tmp_path, monkeypatch):
    from tools.budgets import efficiency_models
    from tools.budgets import has_block_tables
    from tools.measure import HostLatency

    other = ofa_net(net_id, n_classes=10)
    assert has_block_tables(net) and not has_block_tables(other)
    macs = efficiency_models(other)[0]
    host = HostLatency(other, tmp_path)
    monkeypatch.setattr(HostLatency, "__call__", lambda self, config: _LinearHost(macs)(config))
    model = host.model(calibrate=4, seed=1)
    assert isinstance(model, MacsLatencyModel) and type(model.macs) is type(macs)
    assert (model.intercept_ms, model.ms_per_mmac) == (pytest.approx(0.3), pytest.approx(0.02))
    targets = resolve_devices([("host", Budget("latency", 1.0)), ("phone", Budget("latency", 2.0))], other,
                              host_model=lambda: model, space=other.search_space)
    assert [t.source for t in targets] == ["host fit", "MACs fallback"]
    configs = [other.search_space.sample(np.random.default_rng(i)).with_resolution(min(other.search_space.resolutions))
               for i in range(3)]
    np.testing.assert_allclose(targets[1].constraint.model.predict(configs), model.predict(configs))
    assert not list(tmp_path.iterdir())  # nothing built: no block table for this family
