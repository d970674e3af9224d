"""Latency-constrained search on the reference's released files, ofa_tf beside the reference, in one run.

    python benchmarks/note10_search.py [--bounds 15,20,25,30] [--seeds 5] [--first-seed 0] [--json out.json]

Both sides search `ofa_mbv3_d234_e346_k357_w1.2` for the best subnet under a Samsung Note10 latency bound with the
same files from `$OFA_TF_SHARED/reference/released/` (default ../shared): the tutorial's accuracy predictor
`acc_predictor.pth` and the five tables `note10/<r>_lookup_table.yaml`, population 100, 500 generations.

- reference: the tutorial's `EvolutionFinder` (`ofa/tutorial/evolution_finder.py`) with its `LatencyTable`
  (`ofa/tutorial/latency_table.py`, one table per resolution) and `AccuracyPredictor`
  (`ofa/tutorial/accuracy_predictor.py`) on the CPU, from the PyPI package `ofa` (`_ofa_reference.py`). The
  tables are read with `yaml.safe_load` (the tutorial's bare `yaml.load(fp)` needs a Loader in PyYAML 6), and
  PyTorch runs on `--reference-threads` threads (default 1: its fastest here, two threads of a shared machine
  spent 7x longer). Seeds: `random`, `numpy.random` and `torch` as the tutorial seeds them.
- ofa_tf: `evolution_search` with its defaults (the reference's `ofa/nas/search_algorithm/evolution.py`),
  `pretrained_accuracy_predictor(weights=...)` and `LatencyPredictor.from_files` (each table at its resolution).

Each side's time is the search alone (files loaded before), wall clock and CPU time of the process. Prints one line
per search and a summary per bound: mean time, speed-up (wall; CPU in brackets), and the mean predicted top-1 and
latency of the best subnet over the seeds.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")  # the reference's progress bars

import click  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from _ofa_reference import INSTALL  # noqa: E402
from _ofa_reference import reference_available  # noqa: E402
from _ofa_reference import stub_unused_imports  # noqa: E402

import ofa_tf  # noqa: E402
from ofa_tf.shared_data import shared_dir  # noqa: E402
from ofa_tf.latency import LatencyPredictor  # noqa: E402
from ofa_tf.nas import Constraint  # noqa: E402
from ofa_tf.nas import EvolutionConfig  # noqa: E402
from ofa_tf.nas import NetworkShape  # noqa: E402
from ofa_tf.nas import evolution_search  # noqa: E402

NOTE10 = (160, 176, 192, 208, 224)


class Reference:
    """The tutorial's finder, predictor and latency table on the released files."""

    def __init__(self, released: Path, threads: int):
        stub_unused_imports()
        import torch
        from ofa.tutorial.accuracy_predictor import AccuracyPredictor
        from ofa.tutorial.evolution_finder import EvolutionFinder
        from ofa.tutorial.latency_table import LatencyEstimator
        from ofa.tutorial.latency_table import LatencyTable

        torch.set_num_threads(threads)
        self.torch, self.finder = torch, EvolutionFinder
        self.table = LatencyTable.__new__(LatencyTable)  # its __init__ downloads; the same object from local files
        self.table.latency_tables = {}
        for r in NOTE10:
            estimator = LatencyEstimator.__new__(LatencyEstimator)
            estimator.lut = yaml.safe_load((released / "note10" / f"{r}_lookup_table.yaml").read_text())
            self.table.latency_tables[r] = estimator
        self.predictor = AccuracyPredictor(pretrained=False, device="cpu")
        self.predictor.model.load_state_dict(torch.load(released / "acc_predictor.pth", map_location="cpu"))

    def search(self, bound: float, seed: int) -> dict:
        random.seed(seed)
        np.random.seed(seed)
        self.torch.manual_seed(seed)
        finder = self.finder("note10", bound, self.table, self.predictor)  # defaults: 100, 500, 0.25, 0.5, 0.1
        start, cpu = time.perf_counter(), time.process_time()
        _, (accuracy, spec, latency) = finder.run_evolution_search()
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "accuracy": float(accuracy), "latency_ms": float(latency), "r": int(spec["r"][0])}


class Ours:
    def __init__(self, released: Path):
        self.predictor = ofa_tf.pretrained_accuracy_predictor(weights=released / "acc_predictor.pth")
        self.table = LatencyPredictor.from_files([released / "note10" / f"{r}_lookup_table.yaml" for r in NOTE10],
                                                 NetworkShape.mobilenet_v3(1.2), name="note10")

    def search(self, bound: float, seed: int) -> dict:
        start, cpu = time.perf_counter(), time.process_time()
        result = evolution_search(self.predictor, self.predictor.space, [Constraint(self.table, bound)],
                                  EvolutionConfig(), seed=seed)
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "accuracy": result.score,
                "latency_ms": result.efficiency["note10"], "r": result.config.r,
                "resolutions": list(result.resolutions)}


@click.command()
@click.option("--bounds", default="15,20,25,30", show_default=True, help="Latency bounds (ms), comma-separated.")
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(1), help="Searches per bound and side.")
@click.option("--first-seed", default=0, show_default=True, type=int)
@click.option("--reference-threads", default=1, show_default=True, type=click.IntRange(1),
              help="torch.set_num_threads for the reference.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write every search's figures here.")
def main(bounds, seeds, first_seed, reference_threads, json_path):
    released = shared_dir() / "reference" / "released"
    if not (released / "acc_predictor.pth").is_file():
        raise click.ClickException(f"The released files are not in {released}; set OFA_TF_SHARED to the shared/ folder.")
    bounds = [float(b) for b in bounds.split(",") if b.strip()]
    sides = {"ofa_tf": Ours(released)}
    if reference_available():
        sides["reference"] = Reference(released, reference_threads)
    else:
        click.echo(f"Note: the reference is not installed, so only ofa_tf runs; for both sides: {INSTALL}")
    sides["ofa_tf"].search(bounds[0], first_seed)  # first call: NumPy / table set-up, not timed below
    click.echo(f"{len(seeds_range := range(first_seed, first_seed + seeds))} seeds per bound and side; load "
               f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    runs = []
    for bound in bounds:
        for seed in seeds_range:
            for name, side in sides.items():
                figures = {"side": name, "bound_ms": bound, "seed": seed, **side.search(bound, seed)}
                runs.append(figures)
                click.echo(f"  {name:<9} {bound:4g} ms seed {seed}: {figures['seconds']:6.2f} s ({figures['cpu_seconds']:.2f} "
                           f"s CPU), predicted top-1 "
                           f"{100 * figures['accuracy']:.2f}% at {figures['latency_ms']:.2f} ms, r={figures['r']}")
    click.echo(f"\n| bound | ofa_tf s | reference s | speed-up (CPU) | ofa_tf top-1 (mean) | reference top-1 (mean) | "
               "ofa_tf ms | reference ms |\n|---|---|---|---|---|---|---|---|")
    for bound in bounds:
        stats = {}
        for name in sides:
            mine = [run for run in runs if run["side"] == name and run["bound_ms"] == bound]
            stats[name] = {key: statistics.mean(run[key] for run in mine)
                           for key in ("seconds", "cpu_seconds", "accuracy", "latency_ms")}
        ours, ref = stats["ofa_tf"], stats.get("reference")
        cells = [f"{bound:g} ms", f"{ours['seconds']:.2f}", f"{ref['seconds']:.1f}" if ref else "-",
                 f"{ref['seconds'] / ours['seconds']:.1f}x ({ref['cpu_seconds'] / ours['cpu_seconds']:.1f}x)" if ref
                 else "-", f"{100 * ours['accuracy']:.2f}%",
                 f"{100 * ref['accuracy']:.2f}%" if ref else "-", f"{ours['latency_ms']:.2f}",
                 f"{ref['latency_ms']:.2f}" if ref else "-"]
        click.echo("| " + " | ".join(cells) + " |")
    click.echo(f"load {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if json_path:
        Path(json_path).write_text(json.dumps({"seeds": list(seeds_range), "reference_threads": reference_threads,
                                               "runs": runs}, indent=1) + "\n")
        click.echo(f"Wrote {json_path}.")


if __name__ == "__main__":
    main()
