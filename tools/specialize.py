"""Specialize one trained supernet for many devices: one search per budget, one exported `.tflite` per device.

The pieces, usable on their own:
- `parse_constraint("macs=300M")`, `parse_devices("note8:30ms,pixel1:20ms")`: budgets from text.
- `make_evaluate_fn(supernet, data)`: top-1 of a subnet after BN recalibration (the accuracy dataset's measure).
- `HostLatency`: export + run on this machine (android_bench host target); `calibrated_model` fits
  latency against MACs for budgets that have no lookup table.
- `search_subnet`: evolution search (best subnet) + NSGA-II (Pareto front) under constraints.
- `specialize`: all of the above per device, plus export, measurement and a Markdown/JSON/PNG report.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.calibrate import preserved_state
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import Constraint
from ofa_tf.nas import EfficiencyModel
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import InfeasibleConstraintError
from ofa_tf.nas import MacsLatencyModel
from ofa_tf.nas import MacsModel
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import network_shape
from ofa_tf.nas import NetworkShape
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import ParamsModel
from ofa_tf.nas import ParetoFront
from ofa_tf.nas import config_key
from ofa_tf.nas import evolution_search
from ofa_tf.nas import nsga2_search
from ofa_tf.nas.resnet_search import ResNetMacsModel
from ofa_tf.nas.resnet_search import ResNetParamsModel
from ofa_tf.resnet.space import ResNetSearchSpace
from ofa_tf.subnet_config import SearchSpace
from ofa_tf.subnet_config import SubnetConfig

logger = logging.getLogger(__name__)

METRICS = ("macs", "params", "latency")
HOST = "host"
_COUNT_SCALE = {"": 1e-6, "k": 1e-3, "m": 1.0, "g": 1e3}  # to millions
_TIME_SCALE = {"ms": 1.0, "us": 1e-3, "s": 1e3}  # to milliseconds
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_BUDGET_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$", re.IGNORECASE)


# === Budgets ===


@dataclasses.dataclass(frozen=True)
class Budget:
    """An upper bound on one metric: MACs and params in millions, latency in milliseconds."""

    metric: str
    value: float

    @property
    def unit(self) -> str:
        return "ms" if self.metric == "latency" else "M"

    def __str__(self) -> str:
        return f"{self.metric}<={self.value:g}{self.unit}"


def _parse_value(metric: str, text: str, where: str) -> float:
    match = _BUDGET_RE.match(text)
    if not match:
        raise ValueError(f"Invalid {where} {text!r}: expected a positive number with a unit, e.g. "
                         f"{_EXAMPLES[metric]}.")
    number, unit = float(match.group(1)), match.group(3).lower()
    if metric == "latency" and not unit:
        raise ValueError(f"Latency {where} {text!r} needs a unit (ms, us or s), e.g. latency=20ms.")
    if metric == "latency":
        scale = _TIME_SCALE.get(unit)
        allowed = "ms, us or s"
    else:
        scale = _COUNT_SCALE.get(unit)
        allowed = "K, M, G or none (an exact count)"
    if scale is None:
        raise ValueError(f"Invalid unit {match.group(3)!r} in {where} {text!r}: {metric} takes {allowed}, e.g. "
                         f"{_EXAMPLES[metric]}.")
    value = number * scale
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"Invalid {where} {text!r}: the bound must be positive.")
    return value


_EXAMPLES = {"macs": "macs=300M", "params": "params=5M", "latency": "latency=20ms"}


def parse_constraint(text: str) -> Budget:
    """`macs=300M`, `params=5M` or `latency=20ms` (units: K/M/G or a bare count; ms/us/s)."""
    metric, sep, value = str(text).partition("=")
    metric = metric.strip().lower()
    if not sep or metric not in METRICS:
        raise ValueError(
            f"Invalid constraint {text!r}: expected METRIC=VALUE with METRIC one of {', '.join(METRICS)}, "
            "e.g. macs=300M, params=5M, latency=20ms."
        )
    return Budget(metric, _parse_value(metric, value.strip(), "constraint"))


def parse_device_budget(text: str) -> Budget:
    """A device budget: `30ms` (latency) or `macs=300M` / `params=5M` / `latency=30ms`."""
    text = str(text).strip()
    if "=" in text:
        return parse_constraint(text)
    return Budget("latency", _parse_value("latency", text, "device budget"))


def parse_devices(spec: str | Sequence[str]) -> list[tuple[str, Budget]]:
    """`"note8:30ms,pixel1:20ms,host:macs=20M"` → `[(name, Budget), ...]` (names unique)."""
    items = [s for s in (spec.split(",") if isinstance(spec, str) else spec) if str(s).strip()]
    if not items:
        raise ValueError(f"No devices given; expected e.g. 'note8:30ms,pixel1:20ms'. Received {spec!r}.")
    out, seen = [], set()
    for item in items:
        name, sep, budget = str(item).partition(":")
        name = name.strip()
        if not sep or not name or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(
                f"Invalid device {item!r}: expected NAME:BUDGET with NAME of letters, digits, '_', '-', '.', "
                "e.g. note8:30ms or host:macs=20M."
            )
        if name in seen:
            raise ValueError(f"Device {name!r} is given twice in {spec!r}; give each device one budget.")
        seen.add(name)
        out.append((name, parse_device_budget(budget)))
    return out


def parse_luts(items: Sequence[str], devices: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """`["note8=a.yaml", "note8=b.yaml", "pixel1=c.json"]` → `{device: [files]}` (files must exist)."""
    out: dict[str, list[Path]] = {}
    for item in items:
        name, sep, path = str(item).partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise ValueError(f"Invalid --lut {item!r}: expected DEVICE=FILE, e.g. note8=note8_lut.yaml.")
        if devices is not None and name not in devices:
            raise ValueError(f"Unknown device {name!r} in --lut {item!r}; the devices are {', '.join(devices)}.")
        if not Path(path).is_file():
            raise FileNotFoundError(f"Latency table not found: {path} (from --lut {item!r}).")
        out.setdefault(name, []).append(Path(path))
    return out


# === Evaluation and measurement ===


def make_evaluate_fn(
    supernet, data, calibration_images: int = 2000, batch_size: int = 200
) -> Callable[[SubnetConfig], float]:
    """`config -> top-1` on the validation split of `data`, after BN recalibration on its calibration subset.

    Uses `ofa_tf.training.evaluate` (which restores the supernet's BN statistics afterwards). `config.r` must be set.
    """
    from ofa_tf.training import evaluate

    def evaluate_fn(config: SubnetConfig) -> float:
        if config.r is None:
            raise ValueError(f"Config {config_key(config)} has no resolution; the accuracy depends on it.")
        (result,) = evaluate(supernet, data, [config], calibrate_bn=calibration_images, batch_size=batch_size)
        return float(result.top1)

    return evaluate_fn


def export_tflite(
    supernet, config: SubnetConfig, path: str | Path, *, quantize: str = "none", data=None,
    calibration_images: int = 2000,
) -> Path:
    """Exports `config` (BN recalibrated on `data` when given) to `path` with `tools.export_subnet`."""
    from .export import export_subnet

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    calibrate = calibration_images if data is not None else 0
    export_subnet(supernet, config, path, quantize=quantize, data=data, calibrate_bn=calibrate)
    return path


class HostLatency:
    """Latency of subnets on this machine: export to TFLite, run with android_bench's host target.

    Args:
        supernet: the supernet whose subnets are measured.
        workdir: where the measured `.tflite` files go (one per distinct subnet).
        threads, warmup, runs: android_bench options.
        quantize: export mode of the measured models.
    """

    def __init__(self, supernet, workdir: str | Path, threads: int = 1, warmup: int = 5, runs: int = 30,
                 quantize: str = "none"):
        from android_bench import BenchmarkOptions

        self.supernet = supernet
        self.workdir = Path(workdir)
        self.options = BenchmarkOptions(threads=threads, warmup=warmup, runs=runs)
        self.quantize = quantize
        self.cache: dict[str, float] = {}

    def measure_file(self, path: str | Path) -> float:
        """Average latency (ms) of a `.tflite` file on the host."""
        from android_bench import benchmark

        (result,) = benchmark([Path(path)], HOST, options=self.options, db=None)
        if not result.ok or result.avg_us is None:
            raise RuntimeError(f"Host benchmark of {path} failed: {result.error or result.status}")
        return result.avg_us / 1000.0

    def __call__(self, config: SubnetConfig) -> float:
        key = f"{config_key(config)}|{self.quantize}"
        if key not in self.cache:
            name = hashlib.sha1(key.encode()).hexdigest()[:12]
            path = self.workdir / f"{name}.tflite"
            if not path.exists():
                with preserved_state(self.supernet):
                    export_tflite(self.supernet, config, path, quantize=self.quantize)
            self.cache[key] = self.measure_file(path)
        return self.cache[key]

    def calibrated_model(
        self, space: SearchSpace | ResNetSearchSpace, shape, n_points: int = 5, seed: int = 0,
        name: str = "host_latency",
    ) -> tuple[MacsLatencyModel, list[tuple[SubnetConfig, float]]]:
        """A `MacsLatencyModel` fitted to `n_points` measured subnets spanning the space (smallest, largest,
        random ones between). Returns the model and the measurements."""
        if n_points < 2:
            raise ValueError(f"`n_points` must be >= 2 to fit a line; received n_points={n_points}.")
        rng = np.random.default_rng(seed)
        r_min, r_max = min(space.resolutions), max(space.resolutions)
        configs = [space.min_config(r=r_min), space.max_config(r=r_max)]
        configs += [space.sample(rng).with_resolution(int(rng.choice(space.resolutions)))
                    for _ in range(n_points - 2)]
        points = [(c, self(c)) for c in configs]
        macs = efficiency_models(shape)[0]
        model = MacsLatencyModel.fit(macs, [c for c, _ in points], [ms for _, ms in points], name)
        return model, points


# === Search ===


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """The best subnet under the constraints, its predictions, and the Pareto front."""

    config: SubnetConfig
    predicted_accuracy: float
    efficiency: dict[str, float]
    units: dict[str, str]
    front: ParetoFront | None
    seconds: float

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "predicted_accuracy": self.predicted_accuracy,
            "efficiency": self.efficiency,
            "units": self.units,
            "pareto_front": None if self.front is None else front_to_dict(self.front),
            "search_seconds": self.seconds,
        }


def front_to_dict(front: ParetoFront) -> list[dict]:
    return [
        {"config": c.to_dict(), "predicted_accuracy": float(front.accuracy[i]),
         **{name: float(values[i]) for name, values in front.efficiency.items()}}
        for i, c in enumerate(front.configs)
    ]


def search_subnet(
    predictor: AccuracyPredictor,
    constraints: Sequence[Constraint],
    *,
    report_models: Sequence[EfficiencyModel] = (),
    pareto_metric: EfficiencyModel | None = None,
    evolution: EvolutionConfig = EvolutionConfig(),
    nsga2: NSGA2Config | None = NSGA2Config(),
    seed: int = 0,
) -> SearchOutcome:
    """Evolution search for the most accurate subnet under `constraints`; NSGA-II for the front of accuracy vs
    `pareto_metric` (default: the first constraint's model) under the same constraints.

    `report_models` are evaluated on the chosen subnet too (e.g. MACs and params next to a latency bound).
    """
    start = time.perf_counter()
    space = predictor.space
    result = evolution_search(predictor.predict_batch, space, constraints, evolution, seed)
    front = None
    metric = pareto_metric or (constraints[0].model if constraints else None)
    if nsga2 is not None and metric is not None:
        front = nsga2_search(predictor.predict_batch, [metric], space, constraints, nsga2, seed)
    models = {c.model.name: c.model for c in constraints}
    for model in report_models:
        models.setdefault(model.name, model)
    efficiency = {name: float(model.predict(result.config)[0]) for name, model in models.items()}
    return SearchOutcome(
        config=result.config,
        predicted_accuracy=float(result.score),
        efficiency=efficiency,
        units={name: model.unit for name, model in models.items()},
        front=front,
        seconds=time.perf_counter() - start,
    )


def efficiency_models(shape) -> tuple[EfficiencyModel, EfficiencyModel]:
    """The exact MACs and params models (millions) of `shape`: a `NetworkShape`, or a supernet of either family
    (OFA-ResNets count with `ResNetMacsModel` / `ResNetParamsModel`)."""
    if isinstance(shape, NetworkShape):
        return MacsModel(shape), ParamsModel(shape)
    family_models = _FAMILY_MODELS.get(type(shape.search_space))
    return family_models(shape) if family_models else efficiency_models(network_shape(shape))


_FAMILY_MODELS = {ResNetSearchSpace: lambda net: (ResNetMacsModel(net), ResNetParamsModel(net))}


def lut_latency_model(files: Sequence[str | Path], shape, name: str = "latency") -> LatencyPredictor:
    """A `LatencyPredictor` from lookup-table files; the tables time MBConv blocks, so an OFA-ResNet is refused."""
    if not isinstance(shape, NetworkShape):
        if type(shape.search_space) in _FAMILY_MODELS:
            raise ValueError(
                f"Latency lookup tables time MobileNet (MBConv) blocks; {getattr(shape, 'net_id', None)} is an "
                f"OFA-ResNet supernet: use a macs=/params= budget, or no table to measure this host's latency."
            )
        shape = network_shape(shape)
    return LatencyPredictor.from_files(list(files), shape, name=name)


def budget_constraint(budget: Budget, shape, latency_model: EfficiencyModel | None = None) -> Constraint:
    """The `Constraint` of a budget on `shape` (a `NetworkShape` or a supernet of either family); latency needs
    `latency_model` (a LUT, a measured or a fitted model)."""
    if budget.metric in ("macs", "params"):
        macs, params = efficiency_models(shape)
        return Constraint(macs if budget.metric == "macs" else params, budget.value)
    if latency_model is None:
        raise ValueError(f"The budget {budget} needs a latency model: pass a lookup table (--lut) or measure the "
                         "host.")
    return Constraint(latency_model, budget.value)


# === Specialize ===


@dataclasses.dataclass
class DeviceTarget:
    """One device: its budget, the model that predicts the budget's metric, and how it was obtained."""

    name: str
    budget: Budget
    constraint: Constraint
    source: str
    note: str = ""


def resolve_devices(
    devices: Sequence[tuple[str, Budget]],
    shape,
    luts: Mapping[str, Sequence[str | Path]] | None = None,
    host_model: Callable[[], EfficiencyModel] | None = None,
) -> list[DeviceTarget]:
    """Picks each device's latency model: its LUT if given; otherwise (latency budgets) the host's MACs-fitted
    linear model from `host_model()`, as the host's own model or, for other devices, as a MACs fallback with a
    note. MACs / params budgets need no latency model."""
    luts = dict(luts or {})
    names = [n for n, _ in devices]
    unknown = sorted(set(luts) - set(names))
    if unknown:
        raise ValueError(f"Unknown device {unknown[0]!r} in --lut; the devices are {', '.join(names)}.")
    targets = []
    fitted = None
    for name, budget in devices:
        if budget.metric != "latency":
            targets.append(DeviceTarget(name, budget, budget_constraint(budget, shape), budget.metric))
            continue
        if name in luts:
            model = lut_latency_model(luts[name], shape, name=f"{name}_latency")
            files = ", ".join(str(p) for p in luts[name])
            targets.append(DeviceTarget(name, budget, Constraint(model, budget.value), f"LUT ({files})"))
            continue
        if host_model is None:
            raise ValueError(
                f"Device {name!r} has a latency budget but no lookup table: pass --lut {name}=FILE, give a MACs "
                f"budget ({name}:macs=300M), or allow measuring the host to fit latency against MACs."
            )
        if fitted is None:
            fitted = host_model()
        if name == HOST:
            targets.append(DeviceTarget(name, budget, Constraint(fitted, budget.value), "host fit",
                                        f"latency predicted from MACs by a linear fit to host measurements "
                                        f"({fitted.intercept_ms:.3f} ms + {fitted.ms_per_mmac:.4f} ms/M MACs)"))
        else:
            model = MacsLatencyModel(fitted.macs, fitted.intercept_ms, fitted.ms_per_mmac, name=f"{name}_latency")
            targets.append(DeviceTarget(
                name, budget, Constraint(model, budget.value), "MACs fallback",
                f"no LUT for {name}: searched by MACs, with milliseconds from the host's linear fit "
                f"({fitted.intercept_ms:.3f} ms + {fitted.ms_per_mmac:.4f} ms/M MACs); the real {name} latency "
                f"differs. Pass --lut {name}=FILE for a prediction of {name} itself.",
            ))
    return targets


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


def specialize(
    supernet,
    predictor: AccuracyPredictor,
    devices: str | Sequence[tuple[str, Budget]],
    out: str | Path,
    *,
    luts: Mapping[str, Sequence[str | Path]] | None = None,
    data=None,
    quantize: str = "none",
    constraints: Sequence[Budget] = (),
    measure_host: bool = True,
    host_fit: tuple[MacsLatencyModel, list[tuple[SubnetConfig, float]]] | None = None,
    host_points: int = 5,
    host_runs: int = 30,
    calibration_images: int = 2000,
    evolution: EvolutionConfig = EvolutionConfig(),
    nsga2: NSGA2Config | None = NSGA2Config(),
    seed: int = 0,
    title: str = "OFA specialization",
    extra: Mapping | None = None,
) -> SpecializeReport:
    """One search per device budget, one exported `.tflite` per device, and a report in `out`.

    For every device: evolution search of the predicted accuracy under the budget (plus the common
    `constraints`), the Pareto front (NSGA-II), the chosen subnet's config JSON (`<device>.json`, the input of
    `ofa-tf export`), its `.tflite` (BN recalibrated on `data`'s calibration subset when `data` is given),
    its latency measured on the host, and, with `data`, its top-1 on the validation split (supernet after BN
    recalibration, and the `.tflite` itself). Writes `report.md`, `report.json` and `pareto.png`.

    Args:
        supernet: trained `OFAMobileNetV3` or `OFAResNets` (its weights are left unchanged).
        predictor: accuracy predictor over the supernet's search space.
        devices: `"note8:30ms,pixel1:20ms"` or `parse_devices` output.
        out: output folder.
        luts: per device lookup-table files (`{"note8": ["note8_lut.yaml"]}`).
        data: an `ImageData` for BN recalibration, int8 export and accuracy; None skips accuracy.
        quantize: export mode, one of `tools.quantize.POST_TRAINING_MODES`.
        constraints: budgets every device must also meet (e.g. params).
        measure_host: measure every exported model on this machine (and fit host latency where needed).
        host_fit: an already fitted host model and its measurements (`HostLatency.calibrated_model` output).
        host_points: subnets measured for the host's latency-vs-MACs fit.
        host_runs: timed runs per host measurement.
        calibration_images: BN recalibration images.
        evolution, nsga2: search settings (nsga2=None skips the Pareto front).
        seed: search seed.
        title: report title.
        extra: more entries for the JSON report (e.g. the demo's training summary).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device_list = parse_devices(devices) if isinstance(devices, str) else list(devices)
    shape = supernet  # MACs / params / host-fit models of its family (`efficiency_models`)
    space = supernet.search_space
    if (type(predictor.space) is not type(space) or predictor.space.n_blocks != space.n_blocks
            or predictor.space.n_stages != space.n_stages):
        raise ValueError("The predictor's search space does not match the supernet's (family / blocks / stages "
                         "differ).")
    host = HostLatency(supernet, out / "host_measurements", runs=host_runs, quantize=quantize) if measure_host \
        else None
    fit: dict = {} if host_fit is None else {"model": host_fit[0], "points": host_fit[1]}

    def host_model():
        if fit:
            return fit["model"]
        model, points = host.calibrated_model(space, shape, host_points, seed)
        fit.update(model=model, points=points)
        logger.info("Host latency fit: %.3f ms + %.4f ms per M MACs (%d subnets).", model.intercept_ms,
                    model.ms_per_mmac, len(points))
        return model

    targets = resolve_devices(device_list, shape, luts, host_model if (host or fit) else None)
    common = [budget_constraint(b, shape) for b in constraints if b.metric != "latency"]
    if any(b.metric == "latency" for b in constraints):
        raise ValueError("Latency constraints are per device (--devices NAME:20ms), not common constraints.")
    report_models = list(efficiency_models(shape))
    results = []
    for target in targets:
        logger.info("Searching for %s (%s, %s).", target.name, target.budget, target.source)
        try:
            outcome = search_subnet(predictor, [target.constraint, *common], report_models=report_models,
                                    evolution=evolution, nsga2=nsga2, seed=seed)
        except InfeasibleConstraintError as err:
            raise InfeasibleConstraintError(f"Device {target.name!r} ({target.budget}): {err}") from err
        config_path = out / f"{target.name}.json"
        outcome.config.save(config_path)
        result = DeviceResult(target.name, str(target.budget), target.source, target.note, outcome, str(config_path),
                              bound=target.budget.value)
        tflite = out / f"{target.name}.tflite"
        with preserved_state(supernet):
            export_tflite(supernet, outcome.config, tflite, quantize=quantize, data=data,
                          calibration_images=calibration_images)
        result.tflite_path, result.tflite_bytes = str(tflite), tflite.stat().st_size
        if host is not None:
            result.measured_host_ms = host.measure_file(tflite)
        if data is not None:
            result.top1 = make_evaluate_fn(supernet, data, calibration_images)(outcome.config)
            result.tflite_top1 = tflite_accuracy(tflite, data, outcome.config.r)
        results.append(result)
        logger.info("%s: %s, predicted top-1 %.4f, %s.", target.name, config_key(outcome.config),
                    outcome.predicted_accuracy, ", ".join(f"{k} {v:.4g}" for k, v in outcome.efficiency.items()))
    plot_path = plot_fronts(results, out / "pareto.png", title)
    payload = {
        "title": title,
        "net_id": getattr(supernet, "net_id", None),
        "quantize": quantize,
        "devices": [r.to_dict() for r in results],
        "host_fit": None if not fit else {
            "intercept_ms": fit["model"].intercept_ms, "ms_per_mmac": fit["model"].ms_per_mmac,
            "points": [{"config": c.to_dict(), "ms": ms} for c, ms in fit["points"]],
        },
        **dict(extra or {}),
    }
    json_path = out / "report.json"
    json_path.write_text(json.dumps(payload, indent=1) + "\n")
    markdown_path = out / "report.md"
    markdown_path.write_text(report_markdown(results, title, fit, extra))
    return SpecializeReport(results, markdown_path, json_path, plot_path, dict(extra or {}))


def tflite_accuracy(path: str | Path, data, resolution: int) -> float:
    """Top-1 of a `.tflite` classifier on the validation split of `data`, run with `tools.predict` (LiteRT)."""
    from .host_runner import predict

    correct = n = 0
    for images, labels in data.validation(100, resolution).as_numpy_iterator():
        logits = predict(path, images)
        correct += int((logits.argmax(axis=-1) == labels).sum())
        n += len(labels)
    if n == 0:
        raise ValueError("The validation split is empty; cannot measure the .tflite accuracy.")
    return correct / n


# === Report ===


def plot_fronts(results: Sequence[DeviceResult], path: str | Path, title: str) -> Path:
    """One panel per device: predicted accuracy vs the budget's metric on the Pareto front, budget line and the
    chosen subnet."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = max(1, len(results))
    figure = Figure(figsize=(4.2 * n, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    for i, result in enumerate(results):
        axes = figure.add_subplot(1, n, i + 1)
        outcome = result.outcome
        metric = next(iter(outcome.efficiency))
        unit = outcome.units[metric]
        if outcome.front is not None and len(outcome.front):
            x = outcome.front.efficiency[metric]
            order = np.argsort(x, kind="stable")
            axes.plot(x[order], 100 * outcome.front.accuracy[order], "o-", ms=3, label="Pareto front")
        axes.plot([outcome.efficiency[metric]], [100 * outcome.predicted_accuracy], "r*", ms=12, label="chosen")
        if result.bound is not None:
            axes.axvline(result.bound, color="gray", ls="--", lw=1, label="budget")
        axes.set_xlabel(f"{metric} ({unit})")
        axes.set_ylabel("predicted top-1 (%)")
        axes.set_title(f"{result.device}: {result.budget}", fontsize=9)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png")
    return path


def _fmt(value, spec: str = ".2f", scale: float = 1.0) -> str:
    if value is None:
        return "—"
    return format(value, spec) if scale == 1.0 else format(value * scale, spec)


def report_markdown(results: Sequence[DeviceResult], title: str, host_fit: Mapping | None = None,
                    extra: Mapping | None = None) -> str:
    lines = [f"# {title}", ""]
    summary = (extra or {}).get("summary_markdown")
    if summary:
        lines += [summary, ""]
    lines += [
        "| device | budget | predicted by | subnet | r | pred. top-1 (%) | top-1 (%) | .tflite top-1 (%) "
        "| pred. metric | MACs (M) | params (M) | host latency (ms) | .tflite |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o = r.outcome
        metric = next(iter(o.efficiency))
        lines.append(
            f"| {r.device} | {r.budget} | {r.source} | `{config_key(o.config).split('@')[0].replace('|', ' / ')}` | {o.config.r} "
            f"| {100 * o.predicted_accuracy:.2f} | {_fmt(r.top1, '.2f', 100)} | {_fmt(r.tflite_top1, '.2f', 100)} "
            f"| {o.efficiency[metric]:.4g} {o.units[metric]} | {o.efficiency['macs']:.3f} "
            f"| {o.efficiency['params']:.3f} | {_fmt(r.measured_host_ms, '.3f')} "
            f"| {Path(r.tflite_path).name if r.tflite_path else '—'} ({_fmt(r.tflite_bytes, ',d')} B) |"
        )
    notes = [f"- **{r.device}**: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", "Notes:", *notes]
    if host_fit:
        lines += ["", f"Host latency fit (android_bench host target): {host_fit['model'].intercept_ms:.3f} ms + "
                      f"{host_fit['model'].ms_per_mmac:.4f} ms per M MACs, from "
                      f"{len(host_fit['points'])} measured subnets."]
    lines += [
        "",
        "top-1: the subnet on the supernet after BN recalibration, on the validation split; .tflite top-1: the "
        "exported file run with the LiteRT interpreter on the same images. Host latency: the exported file on "
        "this machine (android_bench host target, average).",
        "",
        "![Pareto fronts](pareto.png)",
        "",
    ]
    return "\n".join(lines)
