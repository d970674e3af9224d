"""`tools.demo_budgets`: the demo's budgets bind (issue 26: a host budget above the largest subnet's latency left the search
unconstrained), and a predictor that does not beat the mean is called out in the report's first lines."""
import numpy as np
import pytest

from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.nas import CrossValidationReport
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import MacsModel
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import PredictorReport
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.zoo import ofa_net
from tools.budget_search import search_subnet
from tools.budgets import budget_constraint
from tools.demo import DemoSettings
from tools.demo_budgets import demo_budgets
from tools.demo import predictor_warning
from tools.specialize import covered_space
from tools.specialize_report import report_markdown

NET_ID = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
NSGA2 = NSGA2Config(n_generations=30)


class PeakedPredictor:
    """Predicted top-1 peaks at `peak` M MACs and falls on both sides: the most accurate subnet is mid-sized, as
    the demo's predictors fitted to a few dozen subnets often rank them."""

    def __init__(self, shape, peak: float):
        self.macs = MacsModel(shape)
        self.peak = peak

    def predict_batch(self, batch):
        return 0.95 - 0.01 * np.abs(self.macs.predict_batch(batch) - self.peak)

    def predict(self, configs):
        return self.predict_batch(ConfigBatch.coerce(configs))


@pytest.fixture(scope="module")
def tiny():
    supernet = ofa_net(NET_ID, n_classes=10)
    shape = network_shape(supernet)
    space = supernet.search_space
    r_max = max(space.resolutions)
    # a host table at the largest resolution (as the demo builds it) with seeded entries: latency ranks the subnets
    # otherwise than MACs do
    rng = np.random.default_rng(0)
    entries = {}
    for layer in table_layers(supernet, [r_max], granularity="block"):
        ms = 0.01 * (layer.kernel_size or 1) ** 1.5 * (layer.expand_ratio or 1) * rng.uniform(0.9, 1.1)
        entries[layer.key] = {"mean": ms, "count": 1, "var": 0.0, "min": ms}
    header = {"net_id": NET_ID, "resolutions": [r_max], "granularity": "block", "statistic": "min"}
    host_model = LatencyPredictor(LatencyTable(header, entries), shape, name="host_latency")
    macs = MacsModel(shape)
    smallest, largest = space.min_config(r=min(space.resolutions)), space.max_config(r=r_max)
    low, high = macs.predict([smallest, largest])
    predictor = PeakedPredictor(shape, low + 0.6 * (high - low))
    return supernet, shape, space, host_model, predictor


def test_budgets_bind_below_the_fronts_best_and_the_largest_subnet(tiny):
    supernet, shape, space, host_model, predictor = tiny
    macs_budget, host_budget = demo_budgets(predictor, shape, space, host_model, (0.5, 0.5), NSGA2, seed=0)
    assert (macs_budget.device, macs_budget.budget.metric) == ("macs_budget", "macs")
    assert (host_budget.device, host_budget.budget.metric) == ("host", "latency")
    r_max = max(space.resolutions)
    largest_ms = float(host_model.predict([space.max_config(r=r_max)])[0])
    assert host_budget.largest_value == pytest.approx(largest_ms)
    chosen = {}
    for b in (macs_budget, host_budget):
        # the median of the unconstrained front, strictly below its most accurate subnet and the largest subnet
        assert b.front_size >= 3 and b.front_range[0] <= b.budget.value < b.best_value <= b.front_range[1]
        assert b.budget.value < b.largest_value and b.binds
        model = host_model if b.budget.metric == "latency" else None
        search_space = covered_space(space, host_model) if model else space  # the demo's: r_max for the latency
        outcome = search_subnet(predictor, [budget_constraint(b.budget, shape, model)], nsga2=NSGA2Config(
            n_generations=30), evolution=EvolutionConfig(n_generations=30), seed=0, space=search_space)
        metric = next(iter(outcome.efficiency))
        # constrained: the chosen subnet is under the budget, so less accurate than the unconstrained best
        assert outcome.efficiency[metric] <= b.budget.value < b.best_value
        assert outcome.predicted_accuracy < b.best_accuracy
        chosen[b.device] = outcome.config
    assert chosen["macs_budget"] != chosen["host"]
    text = host_budget.describe()
    assert text.startswith(f"host: latency<={host_budget.budget.value:g}ms, the median of the ")
    assert "does not bind" not in text
    # the front's median itself (rounded down to the budget's decimals), not raised toward random subnets
    values = host_budget.front_range
    assert "raised" not in text and values[0] <= host_budget.budget.value <= values[1]


def test_budget_quantiles_are_checked():
    with pytest.raises(ValueError, match=r"`budget_quantiles` must be two values in \(0, 1\); received \[0.5, 1\]"):
        DemoSettings(budget_quantiles=(0.5, 1))


def _cv(rmse: float, baseline: float) -> CrossValidationReport:
    return CrossValidationReport(tuple(PredictorReport(32, 8, 0.005, rmse, baseline, 0.1, 0.1) for _ in range(5)))


def test_a_predictor_that_does_not_beat_the_mean_is_said_first_and_rounded():
    from tools.budget_search import SearchOutcome
    from tools.specialize import DeviceResult

    assert predictor_warning(_cv(0.0075, 0.0086)) is None
    warning = predictor_warning(_cv(0.0086, 0.0075))
    assert "does not beat the mean" in warning and "RMSE is 0.86 points, against 0.75" in warning
    config = ConfigBatch.coerce(ofa_net(NET_ID, n_classes=10).search_space.max_config(r=16)).to_configs()[0]
    outcome = SearchOutcome(config, 0.97512, {"macs": 1.5, "params": 0.2}, {"macs": "M", "params": "M"}, None, 0.1)
    result = DeviceResult("host", "latency<=0.3ms", "host LUT", "", outcome, "host.json", measured_host_ms=0.2)
    text = report_markdown([result], "Demo", extra={"summary_markdown": "Summary.", "predictor_warning": warning})
    lines = text.splitlines()
    assert lines[0] == "# Demo" and lines[2] == warning and lines[4] == "Summary."
    assert "| ~98 |" in text and "97.51" not in text
    plain = report_markdown([result], "Demo", extra={"summary_markdown": "Summary."})
    assert "| 97.51 |" in plain and "does not beat the mean" not in plain
