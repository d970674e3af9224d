"""Measuring subnets: top-1 after BN recalibration, `.tflite` export, latency on this host (whole subnets or the
host's latency table), top-1 of the `.tflite`."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ofa_tf.calibrate import preserved_state
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import network_shape
from ofa_tf.nas import MacsLatencyModel
from ofa_tf.nas import config_key
from ofa_tf.families.mbconv.config import SubnetConfig

HOST = "host"
HOST_REPEAT = {"tolerance": 0.10, "max_repeats": 5}
"""The host table's repeatability check (`android_bench.rounds.RepeatPolicy`): the demo's pieces take 10-100 us, and
with the CI setting's 10 timed runs one round against its retest differed by 32% at the 95th percentile (of 96
pieces; median 0.4%): a looser tolerance and more repeats than `android-bench lut`'s 5% and 3 for phones."""


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

    A measurement is the least of `runs` timed runs of the invoking thread's CPU time (one thread;
    `android_bench.HostInterpreterTarget(clock="thread_cpu")`): time other jobs hold the core is not counted, so
    the figure is stable on a shared machine; the host latency table uses the same clock and statistic.

    Args:
        supernet: the supernet whose subnets are measured.
        workdir: where the measured `.tflite` files (and the host latency table) go.
        threads, warmup, runs: android_bench options.
        quantize: export mode of the measured models.
        repeat: when the host table's rounds agree (`android_bench.rounds.RepeatPolicy`; default `HOST_REPEAT`).
    """

    statistic = "min"

    def __init__(self, supernet, workdir: str | Path, threads: int = 1, warmup: int = 5, runs: int = 30,
                 quantize: str = "none", repeat=None):
        from android_bench import BenchmarkOptions
        from android_bench import HostInterpreterTarget
        from android_bench.rounds import RepeatPolicy

        self.supernet = supernet
        self.target = HostInterpreterTarget(clock="thread_cpu" if threads == 1 else "wall")
        self.workdir = Path(workdir)
        self.table_models_dir = self.workdir / "host_latency_table_models"  # `tools.lut.convert_entry_models` fills it
        self.options = BenchmarkOptions(threads=threads, warmup=warmup, runs=runs)
        self.quantize = quantize
        self.repeat = repeat or RepeatPolicy(**HOST_REPEAT)
        self.cache: dict[str, float] = {}

    def measure_file(self, path: str | Path) -> float:
        """Latency (ms, least of the timed runs) of a `.tflite` file on the host."""
        from android_bench import benchmark

        (result,) = benchmark([Path(path)], self.target, options=self.options, db=None)
        if not result.ok or result.min_us is None:
            raise RuntimeError(f"Host benchmark of {path} failed: {result.error or result.status}")
        return result.min_us / 1000.0

    def table_model(self, calibrate: int = 5, rounds: int = 3, seed: int = 0, on_progress=None,
                    name: str = "host_latency", resolutions=None) -> LatencyPredictor:
        """The host's block latency table of the supernet's search space at `resolutions` (default: all),
        calibrated on `calibrate` measured whole subnets: built in `workdir/host_latency_table.yaml` (a rerun
        reuses it)."""
        from .lut import build_latency_table

        table = build_latency_table(self.supernet, self.workdir / "host_latency_table.yaml", self.target,
                                    resolutions=resolutions,
                                    options=self.options, granularity="block", statistic=self.statistic,
                                    rounds=rounds, calibrate=calibrate, seed=seed, db=None, repeat=self.repeat,
                                    work_dir=self.table_models_dir, on_progress=on_progress)
        return LatencyPredictor(table, network_shape(self.supernet), name=name)

    def macs_line_model(self, n_points: int = 5, seed: int = 0,
                        name: str = "host_latency") -> tuple[MacsLatencyModel, list[tuple[SubnetConfig, float]]]:
        """For supernets without block tables (OFA-ResNets, ProxylessNAS): a `MacsLatencyModel` (intercept >= 0,
        slope > 0) fitted to `n_points` measured subnets spanning the space (smallest, largest, random ones
        between). Returns the model and the measurements."""
        from .budgets import efficiency_models

        if n_points < 2:
            raise ValueError(f"`n_points` must be >= 2 to fit a line; received n_points={n_points}.")
        space = self.supernet.search_space
        rng = np.random.default_rng(seed)
        configs = [space.min_config(r=min(space.resolutions)), space.max_config(r=max(space.resolutions))]
        configs += [space.sample(rng).with_resolution(int(rng.choice(space.resolutions)))
                    for _ in range(n_points - 2)]
        points = [(c, self(c)) for c in configs]
        macs = efficiency_models(self.supernet)[0]
        return MacsLatencyModel.fit(macs, [c for c, _ in points], [ms for _, ms in points], name), points

    def model(self, calibrate: int = 5, rounds: int = 3, seed: int = 0, on_progress=None,
              name: str = "host_latency", resolutions=None) -> LatencyPredictor | MacsLatencyModel:
        """This host's latency model: the calibrated block table (`table_model`, at `resolutions`) where block
        tables apply, else the line in MACs (`macs_line_model`, fitted to max(`calibrate`, 2) measured subnets)."""
        from .budgets import has_block_tables

        if has_block_tables(self.supernet):
            return self.table_model(calibrate, rounds, seed, on_progress, name, resolutions)
        return self.macs_line_model(max(calibrate, 2), seed, name)[0]

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
