"""The specialization report: Markdown table, JSON payload and the Pareto plot of every device."""
from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from ofa_tf.nas import FrontPanel
from ofa_tf.nas import config_key
from ofa_tf.nas import plot_panels


def plot_fronts(results: Sequence, path: str | Path, title: str) -> Path:
    """One panel per device (`DeviceResult`): predicted accuracy vs the budget's metric on the Pareto front,
    the budget line and the chosen subnet (one of the front's candidates, so on or under it)."""
    panels = []
    for result in results:
        outcome = result.outcome
        metric = next(iter(outcome.efficiency))
        panels.append(FrontPanel(outcome.front, metric, outcome.units[metric], f"{result.device}: {result.budget}",
                                 (outcome.efficiency[metric], outcome.predicted_accuracy), result.bound))
    return plot_panels(panels, path, title)


def _fmt(value, spec: str = ".2f", scale: float = 1.0) -> str:
    if value is None:
        return "—"
    return format(value, spec) if scale == 1.0 else format(value * scale, spec)


def predicted_top1(accuracy: float, informative: bool = True) -> str:
    """A predicted top-1 in percent: two decimals, or whole points (`~97`) from a predictor that does not beat the
    mean."""
    return f"{100 * accuracy:.2f}" if informative else f"~{100 * accuracy:.0f}"


def report_markdown(results: Sequence, title: str, host_latency: Mapping | None = None,
                    extra: Mapping | None = None) -> str:
    """The Markdown report of `DeviceResult`s; `host_latency` says what predicted host budgets.

    `extra` may hold `summary_markdown` (after the title) and `predictor_warning` (before it, for a predictor that
    does not beat the mean; predicted top-1 is then shown to whole points, `~97`)."""
    extra = extra or {}
    lines = [f"# {title}", ""]
    warning = extra.get("predictor_warning")
    if warning:
        lines += [warning, ""]
    summary = extra.get("summary_markdown")
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
            f"| {predicted_top1(o.predicted_accuracy, not warning)} | {_fmt(r.top1, '.2f', 100)} | {_fmt(r.tflite_top1, '.2f', 100)} "
            f"| {o.efficiency[metric]:.4g} {o.units[metric]} | {o.efficiency['macs']:.3f} "
            f"| {o.efficiency['params']:.3f} | {_fmt(r.measured_host_ms, '.3f')} "
            f"| {Path(r.tflite_path).name if r.tflite_path else '—'} ({_fmt(r.tflite_bytes, ',d')} B) |"
        )
    notes = [f"- **{r.device}**: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", "Notes:", *notes]
    if host_latency:
        lines += ["", f"Host latency predicted by {host_latency['description']} (android_bench host target)."]
    lines += [
        "",
        "top-1: the subnet on the supernet after BN recalibration, on the validation split; .tflite top-1: the "
        "exported file run with the LiteRT interpreter on the same images. Host latency: the exported file on "
        "this machine (android_bench host target, least of the timed runs).",
        "",
        "![Pareto fronts](pareto.png)",
        "",
    ]
    return "\n".join(lines)
