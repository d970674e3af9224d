"""Budgets from text (`macs=300M`, `params=5M`, `latency=20ms`, `note8:30ms,...`) and their search constraints."""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path

from ofa_tf.latency import LatencyPredictor
from ofa_tf.nas import Constraint
from ofa_tf.nas import EfficiencyModel

METRICS = ("macs", "params", "latency")
HOST = "host"
_COUNT_SCALE = {"": 1e-6, "k": 1e-3, "m": 1.0, "g": 1e3}  # to millions
_TIME_SCALE = {"ms": 1.0, "us": 1e-3, "s": 1e3}  # to milliseconds
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_BUDGET_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$", re.IGNORECASE)


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



def efficiency_models(shape) -> tuple[EfficiencyModel, EfficiencyModel]:
    """The exact MACs and params models (millions) of `shape`: a `NetworkShape`, or a supernet of any family
    (`efficiency_models()`; OFA-ResNets count with `ResNetMacsModel` / `ResNetParamsModel`)."""
    return shape.efficiency_models()


def has_block_tables(supernet) -> bool:
    """Whether latency tables can time `supernet` (`supernet.latency_tables`): they key MobileNetV3 (MBConv) blocks,
    so not OFA-ResNets, nor ProxylessNAS (no final expand layer; see `ofa_tf.latency`)."""
    return supernet.latency_tables


def lut_latency_model(files: Sequence[str | Path], shape, name: str = "latency") -> LatencyPredictor:
    """A `LatencyPredictor` from lookup-table files; the tables time MBConv blocks, so an OFA-ResNet is refused."""
    return LatencyPredictor.from_files(list(files), shape.latency_shape(), name=name)


def check_lut(path: str | Path, supernet) -> None:
    """A latency table built for another supernet (its header's net id) is refused, naming both."""
    from ofa_tf.latency import LatencyTable

    built_for = LatencyTable.load(path).header.get("net_id")
    if built_for and supernet.net_id and built_for != supernet.net_id:
        raise ValueError(f"The latency table {path} was measured for {built_for}, not {supernet.net_id}: build one "
                         f"with `android-bench lut --net {supernet.net_id}`.")


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
