"""Specialize one trained supernet for many devices: one search per budget, one exported `.tflite` per device.

The pieces, usable on their own:
- `tools.budgets`: `parse_constraint("macs=300M")`, `parse_devices("note8:30ms,pixel1:20ms")`, `budget_constraint`.
- `tools.measure`: `make_evaluate_fn` (top-1 after BN recalibration), `export_tflite`, `HostLatency` (this
  machine: whole subnets, or its calibrated latency table), `tflite_accuracy`.
- `tools.budget_search`: `search_subnet`, evolution search (best subnet) + NSGA-II (Pareto front).
- `tools.specialize_report`: the Markdown report and the Pareto plot.
- `specialize` (here): all of the above per device.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.calibrate import preserved_state
from ofa_tf.latency import LatencyPredictor
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import Constraint
from ofa_tf.nas import EfficiencyModel
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import InfeasibleConstraintError
from ofa_tf.nas import MacsLatencyModel
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import ResolutionError
from ofa_tf.nas import config_key
from ofa_tf.nas import covered_resolutions

from .budget_search import SearchOutcome
from .budget_search import search_subnet
from .budgets import Budget
from .budgets import budget_constraint
from .budgets import check_lut
from .budgets import efficiency_models
from .budgets import has_block_tables
from .budgets import lut_latency_model
from .budgets import parse_constraint
from .budgets import parse_devices
from .budgets import parse_luts
from .measure import HOST
from .measure import HostLatency
from .measure import export_tflite
from .measure import make_evaluate_fn
from .measure import tflite_accuracy
from .specialize_report import plot_fronts
from .specialize_report import report_markdown

__all__ = [
    "Budget", "DeviceResult", "DeviceTarget", "HostLatency", "SearchOutcome", "SpecializeOptions", "SpecializeReport",
    "budget_constraint", "budget_latency_model", "covered_space", "describe_latency_model", "describe_resolutions",
    "efficiency_models", "lut_latency_model", "make_evaluate_fn", "parse_constraint", "parse_devices", "parse_luts",
    "resolve_devices", "search_subnet", "specialize",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class DeviceTarget:
    """One device: its budget, the model that predicts the budget's metric, and how it was obtained."""

    name: str
    budget: Budget
    constraint: Constraint
    source: str
    note: str = ""
    space: object = None  # narrowed to what the latency model covers, for the note (the search intersects itself)


def covered_space(space, model: EfficiencyModel):
    """`space` narrowed to the resolutions `model` covers (`ofa_tf.nas.covered_resolutions`: a latency table's, those
    it was measured at), when it covers only some of them; otherwise `space` (the search then names both sides if
    none is common)."""
    covered = None if space is None else covered_resolutions(model)
    if covered is None:
        return space
    kept = tuple(r for r in space.resolutions if r in covered)
    if not kept or kept == tuple(space.resolutions):
        return space
    return dataclasses.replace(space, resolutions=kept)


def _at_resolutions(space, narrowed) -> str:
    if narrowed is space:
        return ""
    return f"; searched at the table's resolution(s) {', '.join(str(r) for r in narrowed.resolutions)}"


def describe_resolutions(outcome: SearchOutcome, requested) -> str:
    """One line on the resolutions a search drew from and why."""
    why = "--resolutions" if requested else "those of the search space every model covers"
    return f"{', '.join(str(r) for r in outcome.resolutions)} ({why})"


def describe_latency_model(model: EfficiencyModel) -> str:
    """One line on how a host latency model predicts."""
    if isinstance(model, LatencyPredictor):
        tables = f"{len(model.tables)} tables, " if len(model.tables) > 1 else ""
        text = (f"this host's {model.granularity} latency table ({tables}{sum(len(t.entries) for t in model.tables)} "
                f"entries, statistic {model.statistic})")
        c = model.calibration
        if c is not None:
            text += (f", calibrated x{c.scale:.3f}" + (f" + {c.offset_ms:.3f} ms" if c.offset_ms else "")
                     + f" on {c.n_subnets} measured subnets")
        return text
    if isinstance(model, MacsLatencyModel):
        return (f"latency predicted from MACs by a line fitted to host measurements ({model.intercept_ms:.3f} ms + "
                f"{model.ms_per_mmac:.4f} ms/M MACs)")
    return f"{type(model).__name__} {model.name!r}"


def _macs_line(model: EfficiencyModel, shape, space, name: str, n: int = 64) -> MacsLatencyModel:
    """`model` (a host latency model) as a line in the MACs of `shape` (a `NetworkShape` or a supernet of either
    family), fitted to its predictions on random subnets of `space`."""
    if isinstance(model, MacsLatencyModel):
        return MacsLatencyModel(model.macs, model.intercept_ms, model.ms_per_mmac, name=name)
    macs = efficiency_models(shape)[0]
    space = covered_space(space, model)
    rng = np.random.default_rng(0)
    configs = [space.sample(rng).with_resolution(int(rng.choice(space.resolutions))) for _ in range(n)]
    line = MacsLatencyModel.fit(macs, configs, model.predict(configs))
    return MacsLatencyModel(macs, line.intercept_ms, line.ms_per_mmac, name=name)


def resolve_devices(
    devices: Sequence[tuple[str, Budget]],
    shape,
    luts: Mapping[str, Sequence[str | Path]] | None = None,
    host_model: Callable[[], EfficiencyModel] | None = None,
    space=None,
) -> list[DeviceTarget]:
    """Picks each device's latency model: its LUT if given; otherwise (latency budgets) the host's model from
    `host_model()` (by default this host's calibrated latency table), as the host's own model or, for other
    devices, as a MACs fallback with a note (a line in MACs fitted to the host model on random subnets of
    `space`). MACs / params budgets need no latency model."""
    luts = dict(luts or {})
    names = [n for n, _ in devices]
    unknown = sorted(set(luts) - set(names))
    if unknown:
        raise ValueError(f"Unknown device {unknown[0]!r} in --lut; the devices are {', '.join(names)}.")
    targets = []
    host = None
    for name, budget in devices:
        if budget.metric != "latency":
            targets.append(DeviceTarget(name, budget, budget_constraint(budget, shape), budget.metric))
            continue
        if name in luts:
            model = lut_latency_model(luts[name], shape, name=f"{name}_latency")
            files = ", ".join(str(p) for p in luts[name])
            narrowed = covered_space(space, model)
            targets.append(DeviceTarget(name, budget, Constraint(model, budget.value), f"LUT ({files})",
                                        _at_resolutions(space, narrowed).lstrip("; "), narrowed))
            continue
        if host_model is None:
            raise ValueError(
                f"Device {name!r} has a latency budget but no lookup table: pass --lut {name}=FILE, give a MACs "
                f"budget ({name}:macs=300M), or allow measuring the host."
            )
        if host is None:
            host = host_model()
        kind = "host LUT" if isinstance(host, LatencyPredictor) else "host fit"
        if name == HOST:
            narrowed = covered_space(space, host)
            targets.append(DeviceTarget(name, budget, Constraint(host, budget.value), kind,
                                        describe_latency_model(host) + _at_resolutions(space, narrowed), narrowed))
        else:
            model = _macs_line(host, shape, space, f"{name}_latency")
            targets.append(DeviceTarget(
                name, budget, Constraint(model, budget.value), "MACs fallback",
                f"no LUT for {name}: searched by MACs, with milliseconds from a line in MACs "
                f"({model.intercept_ms:.3f} ms + {model.ms_per_mmac:.4f} ms/M MACs) fitted to {describe_latency_model(host)}; "
                f"the real {name} latency differs. Pass --lut {name}=FILE for a prediction of {name} itself.",
            ))
    return targets


def budget_latency_model(supernet, budgets: Sequence[Budget], luts: Sequence[str | Path] = (),
                         host_dir: str | Path | None = None) -> tuple[EfficiencyModel | None, str | None]:
    """The latency model of the latency budgets among `budgets` (None without one) and a note on it: the lookup
    tables `luts` (each checked to be the supernet's), else this host's (`HostLatency.model`, measured in
    `host_dir`: its block latency table, or a line in MACs for supernets without block tables)."""
    if not any(b.metric == "latency" for b in budgets):
        return None, None
    if luts:
        for path in luts:
            check_lut(path, supernet)
        return lut_latency_model(luts, supernet, name="latency"), None
    if host_dir is None:
        raise ValueError("A latency constraint needs --lut FILE, or --weights to measure this host.")
    calibrate = 5
    model = HostLatency(supernet, host_dir).model(calibrate, name="host_latency")
    if isinstance(model, MacsLatencyModel):
        how = (f"predicted from MACs by a linear fit to {max(calibrate, 2)} measured subnets ({model.intercept_ms:.3f} "
               f"ms + {model.ms_per_mmac:.4f} ms/M MACs)")
    else:
        how = f"predicted by {describe_latency_model(model)}"
    return model, f"no --lut; latency is this host's, {how}."


@dataclasses.dataclass
class DeviceResult:
    """What `specialize` produced for one device."""

    device: str
    budget: str
    source: str
    note: str
    outcome: SearchOutcome
    config_path: str
    tflite_path: str | None = None
    tflite_bytes: int | None = None
    measured_host_ms: float | None = None
    top1: float | None = None
    tflite_top1: float | None = None
    bound: float | None = None
    finetune_dir: str | None = None  # the fine-tuning run of the exported model (`finetune_epochs`)
    extracted_top1: float | None = None  # top-1 of the subnet as extracted, before fine-tuning

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["outcome"] = self.outcome.to_dict()
        return out


@dataclasses.dataclass
class SpecializeReport:
    results: list[DeviceResult]
    markdown_path: Path
    json_path: Path
    plot_path: Path
    extra: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SpecializeOptions:
    """How `specialize` searches, exports and measures (`ofa-tf specialize` builds them; `specialize` also takes them
    as keywords).

    Args:
        quantize: export mode, one of `tools.quantize.POST_TRAINING_MODES`.
        constraints: budgets every device must also meet (e.g. params; latency budgets are per device).
        measure_host: measure every exported model on this machine (and build the host table where needed).
        host_calibration_subnets, host_rounds: calibration subnets and interleaved rounds of the host table.
        host_runs: timed runs per host measurement (table entries and exported models).
        calibration_images: BN recalibration images.
        evolution, nsga2: search settings (nsga2=None skips the Pareto front).
        seed: search seed.
        title: report title.
        resolutions: the resolutions every device's search draws from (default: those of the search space that the
            predictor and the device's latency model cover; `ofa_tf.nas.search_resolutions`).
        finetune_epochs: fine-tune each device's subnet for this many epochs on the data before its export
            (`ofa_tf.finetune` into `out/<device>_finetune/`; the `.tflite` is the fine-tuned model and `top1` its
            accuracy, `extracted_top1` the subnet's before); 0 exports the subnet as extracted.
        finetune_options: more `ofa_tf.finetune` options (lr, teacher, batch_size, ...).
    """

    quantize: str = "none"
    constraints: tuple[Budget, ...] = ()
    measure_host: bool = True
    host_calibration_subnets: int = 5
    host_rounds: int = 3
    host_runs: int = 30
    calibration_images: int = 2000
    evolution: EvolutionConfig = EvolutionConfig()
    nsga2: NSGA2Config | None = NSGA2Config()
    seed: int = 0
    title: str = "OFA specialization"
    resolutions: tuple[int, ...] | None = None
    finetune_epochs: int = 0
    finetune_options: Mapping | None = None

    def __post_init__(self):
        object.__setattr__(self, "constraints", tuple(self.constraints))
        if self.resolutions is not None:
            object.__setattr__(self, "resolutions", tuple(self.resolutions))
        if any(b.metric == "latency" for b in self.constraints):
            raise ValueError("Latency constraints are per device (--devices NAME:20ms), not common constraints.")


def specialize(
    supernet,
    predictor: AccuracyPredictor,
    devices: str | Sequence[tuple[str, Budget]],
    out: str | Path,
    *,
    luts: Mapping[str, Sequence[str | Path]] | None = None,
    data=None,
    host_model: EfficiencyModel | None = None,
    extra: Mapping | None = None,
    options: SpecializeOptions | None = None,
    **overrides,
) -> SpecializeReport:
    """One search per device budget, one exported `.tflite` per device, and a report in `out`.

    For every device: evolution search of the predicted accuracy under the budget (plus the common
    `constraints`), the Pareto front (NSGA-II, with the chosen subnet among its candidates), the chosen subnet's
    config JSON (`<device>.json`, the input of `ofa-tf export`), its `.tflite` (BN recalibrated on `data`'s
    calibration subset when `data` is given), its latency measured on the host, and, with `data`, its top-1 on the
    validation split (supernet after BN recalibration, and the `.tflite` itself). Writes `report.md`,
    `report.json` and `pareto.png`.

    A latency budget without a LUT is predicted by this host's block latency table (`HostLatency.table_model`:
    built once in `out/host_measurements/`, calibrated on `host_calibration_subnets` measured subnets); supernets
    without block tables (OFA-ResNets, ProxylessNAS) use a line in MACs fitted to that many measured subnets.

    Args:
        supernet: trained `OFAMobileNetV3` or `OFAResNets` (its weights are left unchanged).
        predictor: accuracy predictor over the supernet's search space.
        devices: `"note8:30ms,pixel1:20ms"` or `parse_devices` output.
        out: output folder.
        luts: per device lookup-table files (`{"note8": ["note8_lut.yaml"]}`).
        data: an `ImageData` for BN recalibration, int8 export and accuracy; None skips accuracy.
        host_model: a ready host latency model (e.g. `HostLatency.table_model()`); skips building one.
        extra: more entries for the JSON report (e.g. the demo's training summary).
        options: a `SpecializeOptions`; `overrides` are its fields as keywords (`quantize="int8", seed=1`).
    """
    options = dataclasses.replace(options, **overrides) if options else SpecializeOptions(**overrides)
    if options.finetune_epochs and data is None:
        raise ValueError(f"finetune_epochs={options.finetune_epochs} fine-tunes on data: pass data (--data).")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device_list = parse_devices(devices) if isinstance(devices, str) else list(devices)
    _check_predictor(predictor, supernet.search_space)
    host = HostLatency(supernet, out / "host_measurements", runs=options.host_runs, quantize=options.quantize) \
        if options.measure_host else None
    host_latency = _HostModel(supernet, host, options, host_model)
    shape = supernet  # MACs / params / host-fit models of its family (`efficiency_models`)
    targets = resolve_devices(device_list, shape, luts, host_latency if host_latency.available else None,
                              supernet.search_space)
    run = _Specialization(supernet, predictor, out, data, options, host,
                          [budget_constraint(b, shape) for b in options.constraints], list(efficiency_models(shape)))
    results = [run.device_result(target) for target in targets]
    return _write_report(results, out, options, getattr(supernet, "net_id", None), host_latency.model, extra)


def _check_predictor(predictor: AccuracyPredictor, space) -> None:
    """The predictor must score subnets of the supernet's own search space."""
    if (predictor.space.kind != space.kind or predictor.space.n_blocks != space.n_blocks
            or predictor.space.n_stages != space.n_stages):
        raise ValueError("The predictor's search space does not match the supernet's (family / blocks / stages "
                         "differ).")


class _HostModel:
    """This host's latency model: the one given, else built on first use (`HostLatency.model`)."""

    def __init__(self, supernet, host: HostLatency | None, options: SpecializeOptions,
                 model: EfficiencyModel | None = None):
        self.supernet, self.host, self.options, self.model = supernet, host, options, model
        self.available = host is not None or model is not None

    def __call__(self) -> EfficiencyModel:
        if self.model is None:
            what = "latency table" if has_block_tables(self.supernet) else "latency line over MACs"
            n = self.options.host_calibration_subnets
            logger.info("Building this host's %s (%d calibration subnets).", what, n)
            self.model = self.host.model(n, self.options.host_rounds, self.options.seed)
            logger.info("Host latency: %s.", describe_latency_model(self.model))
        return self.model


@dataclasses.dataclass
class _Specialization:
    """What every device's search, export and measurements share."""

    supernet: object
    predictor: AccuracyPredictor
    out: Path
    data: object
    options: SpecializeOptions
    host: HostLatency | None
    common: list  # the constraints every device meets
    report_models: list  # the efficiency models each outcome reports

    def device_result(self, target: DeviceTarget) -> DeviceResult:
        """Searches, saves, exports (fine-tuning first with `finetune_epochs`) and measures one device's subnet."""
        options, data = self.options, self.data
        logger.info("Searching for %s (%s, %s).", target.name, target.budget, target.source)
        try:
            outcome = search_subnet(self.predictor, [target.constraint, *self.common],
                                    report_models=self.report_models, evolution=options.evolution,
                                    nsga2=options.nsga2, seed=options.seed, resolutions=options.resolutions)
        except (InfeasibleConstraintError, ResolutionError) as err:
            raise type(err)(f"Device {target.name!r} ({target.budget}): {err}") from err
        config_path = self.out / f"{target.name}.json"
        outcome.config.save(config_path)
        result = DeviceResult(target.name, str(target.budget), target.source, target.note, outcome, str(config_path),
                              bound=target.budget.value)
        tflite = self.out / f"{target.name}.tflite"
        self._export(result, tflite)
        result.tflite_path, result.tflite_bytes = str(tflite), tflite.stat().st_size
        if self.host is not None:
            result.measured_host_ms = self.host.measure_file(tflite)
        if data is not None:
            if not options.finetune_epochs:
                result.top1 = make_evaluate_fn(self.supernet, data, options.calibration_images)(outcome.config)
            result.tflite_top1 = tflite_accuracy(tflite, data, outcome.config.r)
        logger.info("%s: %s, predicted top-1 %.4f, %s.", target.name, config_key(outcome.config),
                    outcome.predicted_accuracy, ", ".join(f"{k} {v:.4g}" for k, v in outcome.efficiency.items()))
        return result

    def _export(self, result: DeviceResult, tflite: Path) -> None:
        options = self.options
        if options.finetune_epochs:
            self._finetune_and_export(result, tflite)
            return
        with preserved_state(self.supernet):
            export_tflite(self.supernet, result.outcome.config, tflite, quantize=options.quantize, data=self.data,
                          calibration_images=options.calibration_images)

    def _finetune_and_export(self, result: DeviceResult, tflite: Path) -> None:
        """Fine-tunes the device's subnet (`ofa_tf.finetune`, into `out/<device>_finetune/`) and exports the
        fine-tuned model (`export_finetuned`)."""
        from ofa_tf.training.evaluation import evaluate_model
        from ofa_tf.training.finetuning import finetune

        from .export import export_finetuned

        config, data = result.outcome.config, self.data
        epochs, images = self.options.finetune_epochs, self.options.calibration_images
        result.extracted_top1 = make_evaluate_fn(self.supernet, data, images)(config)
        settings = {"calibrate_bn": images, "verbose": 0, **dict(self.options.finetune_options or {})}
        run = finetune(self.supernet, config, data, self.out / f"{result.device}_finetune", epochs=epochs, **settings)
        export_finetuned(run.model_path, tflite, quantize=self.options.quantize, data=data)
        result.top1 = evaluate_model(run.model, data).top1
        result.finetune_dir = str(run.out_dir)
        note = (f"fine-tuned for {epochs} epochs ({run.out_dir}): top-1 {100 * result.extracted_top1:.2f}% as "
                f"extracted, {100 * result.top1:.2f}% fine-tuned")
        result.note = f"{result.note}; {note}" if result.note else note
        logger.info("%s: %s.", result.device, note)


def _write_report(results: list[DeviceResult], out: Path, options: SpecializeOptions, net_id: str | None,
                  host_model: EfficiencyModel | None, extra: Mapping | None) -> SpecializeReport:
    """`pareto.png`, `report.json` and `report.md` in `out`."""
    plot_path = plot_fronts(results, out / "pareto.png", options.title)
    host_latency = _host_latency_summary(host_model)
    payload = {
        "title": options.title,
        "net_id": net_id,
        "quantize": options.quantize,
        "devices": [r.to_dict() for r in results],
        "host_latency": host_latency,
        **dict(extra or {}),
    }
    json_path = out / "report.json"
    json_path.write_text(json.dumps(payload, indent=1) + "\n")
    markdown_path = out / "report.md"
    markdown_path.write_text(report_markdown(results, options.title, host_latency, extra))
    return SpecializeReport(results, markdown_path, json_path, plot_path, dict(extra or {}))


def _host_latency_summary(model: EfficiencyModel | None) -> dict | None:
    """The host latency model in the JSON report: what predicted the host budget."""
    if model is None:
        return None
    summary = {"model": type(model).__name__, "description": describe_latency_model(model)}
    if isinstance(model, LatencyPredictor):
        summary.update(granularity=model.granularity, entries=len(model.table.entries),
                       statistic=model.statistic, overhead_ms=model.overhead_ms,
                       calibration=model.table.header.get("calibration"))
    elif isinstance(model, MacsLatencyModel):
        summary.update(intercept_ms=model.intercept_ms, ms_per_mmac=model.ms_per_mmac)
    return summary
