"""`tools.specialize.SpecializeOptions` (the settings of `specialize` and `ofa-tf specialize`) and
`budget_latency_model` (the latency model of `ofa-tf search`'s budgets)."""
import json

import pytest

from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import table_layers
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import NSGA2Config
from ofa_tf.zoo import ofa_net
from tools.specialize import Budget
from tools.specialize import SpecializeOptions
from tools.specialize import budget_latency_model
from tools.specialize import specialize

NET_ID = "ofa_mbv3_small_d234_e346_k357_w0.5"


@pytest.fixture(scope="module")
def net():
    return ofa_net(NET_ID, n_classes=10, dropout_rate=0.0)


def _table(net, path, net_id):
    keys = [layer.key for layer in table_layers(net, overhead=False)]
    entries = {k: {"mean": 0.5, "count": 1, "var": 0.0} for k in keys}
    LatencyTable({"device": "phone", "net_id": net_id}, entries).save(path)
    return path


def test_latency_constraints_are_per_device():
    with pytest.raises(ValueError, match=r"Latency constraints are per device \(--devices NAME:20ms\)"):
        SpecializeOptions(constraints=[Budget("macs", 5.0), Budget("latency", 20.0)])
    options = SpecializeOptions(constraints=[Budget("macs", 5.0)], resolutions=[24, 32])
    assert options.constraints == (Budget("macs", 5.0),) and options.resolutions == (24, 32)


def test_specialize_takes_options_and_keyword_overrides(net, tmp_path):
    options = SpecializeOptions(title="Options title", measure_host=False, seed=5,
                                evolution=EvolutionConfig(n_generations=10), nsga2=NSGA2Config(n_generations=5))
    report = specialize(net, AccuracyPredictor(net.search_space, seed=1), "small:macs=8M", tmp_path, options=options,
                        nsga2=None)
    payload = json.loads(report.json_path.read_text())
    assert payload["title"] == "Options title" and payload["quantize"] == "none"
    (small,) = report.results
    assert small.outcome.front is None and small.outcome.efficiency["macs"] <= 8.0 and small.measured_host_ms is None


def test_budget_latency_model_reads_the_tables_or_needs_the_host(net, tmp_path):
    assert budget_latency_model(net, [Budget("macs", 5.0)]) == (None, None)
    latency = [Budget("latency", 20.0)]
    model, note = budget_latency_model(net, latency, [_table(net, tmp_path / "mine.yaml", NET_ID)])
    assert isinstance(model, LatencyPredictor) and note is None
    with pytest.raises(ValueError, match="A latency constraint needs --lut FILE, or --weights to measure this host"):
        budget_latency_model(net, latency)
    other = _table(net, tmp_path / "other.yaml", "ofa_mbv3_d234_e346_k357_w1.0")
    with pytest.raises(ValueError, match=f"measured for ofa_mbv3_d234_e346_k357_w1.0, not {NET_ID}"):
        budget_latency_model(net, latency, [other])
