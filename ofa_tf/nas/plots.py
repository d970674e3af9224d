"""Pareto-front plots: predicted accuracy against one efficiency metric, one panel per search."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.nas.nsga2 import ParetoFront


@dataclasses.dataclass(frozen=True)
class FrontPanel:
    """One panel: a front (or None), the metric on the x axis, and optionally the chosen subnet and the budget."""

    front: ParetoFront | None
    metric: str
    unit: str
    title: str
    chosen: tuple[float, float] | None = None
    budget: float | None = None


def plot_panels(panels: Sequence[FrontPanel], path: str | Path, title: str | None = None) -> Path:
    """Writes a PNG with one panel per `FrontPanel` (accuracy in %); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = max(1, len(panels))
    figure = Figure(figsize=(4.2 * n, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    for i, panel in enumerate(panels):
        axes = figure.add_subplot(1, n, i + 1)
        if panel.front is not None and len(panel.front):
            if panel.metric not in panel.front.efficiency:
                raise ValueError(f"Unknown metric {panel.metric!r}; the front has {list(panel.front.efficiency)}.")
            x = panel.front.efficiency[panel.metric]
            order = np.argsort(x, kind="stable")
            axes.plot(x[order], 100 * panel.front.accuracy[order], "o-", ms=3,
                      label=f"Pareto front ({len(panel.front)})")
        if panel.chosen is not None:
            axes.plot([panel.chosen[0]], [100 * panel.chosen[1]], "r*", ms=12, label="chosen")
        if panel.budget is not None:
            axes.axvline(panel.budget, color="gray", ls="--", lw=1, label="budget")
        axes.set_xlabel(f"{panel.metric} ({panel.unit})")
        axes.set_ylabel("predicted top-1 (%)")
        axes.set_title(panel.title, fontsize=9)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def pareto_plot(front: ParetoFront, path: str | Path, metric: str | None = None, title: str | None = None) -> Path:
    """Writes a PNG of accuracy vs `metric` (default: the first) for the front; returns the path."""
    metric = next(iter(front.efficiency)) if metric is None else metric
    if metric not in front.efficiency:
        raise ValueError(f"Unknown metric {metric!r}; the front has {list(front.efficiency)}.")
    panel = FrontPanel(front, metric, front.units[metric], title or f"Pareto front ({len(front)} subnets)")
    return plot_panels([panel], path)
