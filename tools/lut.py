"""Per-device latency lookup tables of an OFA supernet's search space, measured with ``benchmark``.

Each distinct entry (granularity ``block``, the default: ``stem``, every ``mbconv`` block shape, ``head``; or
``layer``, the reference's: ``Conv``, ``expanded_conv``, ``Conv_1``, ``AvgPool2D``, ``Conv_2``, ``Logits``; plus a
near-empty ``Overhead`` model) is built from the same stock Keras layers as exported subnets
(``ofa_tf.materialize.materialize_part``), converted to a float32 builtin-ops ``.tflite`` and timed on the target,
in ``rounds`` interleaved rounds (every entry once per round; a round's figures merge into the entry). The table
file is rewritten after every measured entry, so an interrupted build keeps what it measured and a rerun with the
same arguments measures only the missing entries. With ``calibrate=N``, N random whole subnets are measured in the
same rounds and the table's calibration (``ofa_tf.latency.Calibration``) is fitted on them.

Example:
    >>> from tools.lut import build_latency_table
    >>> table = build_latency_table("ofa_mbv3_d234_e346_k357_w1.0", "host_128.yaml", "host",
    ...                             resolutions=[128])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from android_bench.adb import Adb
from android_bench.options import BenchmarkOptions
from android_bench.result import Result
from android_bench.session import benchmark
from android_bench.session import make_target
from android_bench.store import DEFAULT_DB
from android_bench.store import ResultStore
from android_bench.store import now_iso
from android_bench.target import Target
from android_bench.target import resolve_taskset
from ofa_tf.files import STRUCTURED_SUFFIXES
from ofa_tf.files import write_atomic

logger = logging.getLogger(__name__)

IDENTITY_FIELDS = ("format", "net_id", "n_classes", "device_fingerprint", "serial", "tool_version", "flags",
                   "granularity")
"""Header fields that must match for a rerun to add entries to an existing table."""


class TableMismatchError(ValueError):
    """The existing table file was measured with another net, device, tool or flags."""


class IncompleteTableError(RuntimeError):
    """Some entries failed to build or measure; the table holds the rest and a rerun retries them."""

    def __init__(self, message: str, table, failed: dict[str, str]):
        super().__init__(message)
        self.table = table
        self.failed = failed


@dataclasses.dataclass(frozen=True)
class LutProgress:
    """Reported after every entry: its key, the result (None when conversion failed) and the counts so far."""

    key: str
    result: Result | None
    done: int
    total: int
    error: str | None = None


def convert_to_tflite(model) -> bytes:
    """A float32 TFLite flatbuffer of a fixed-shape Keras model, builtin ops only: the converter of exported
    subnets (`tools.quantize.convert`, mode "none")."""
    from .quantize import QuantizeOptions
    from .quantize import convert

    with contextlib.redirect_stdout(io.StringIO()):  # the Keras export prints its endpoints
        return convert(model, QuantizeOptions("none"))


def model_filename(key: str) -> str:
    """File name of an entry's model: the key's layer type and a hash of the key (keys hold ':' and 'x')."""
    return f"{key.split('-', 1)[0].lower()}_{hashlib.sha1(key.encode()).hexdigest()[:12]}.tflite"


def _header(supernet, target: Target, options: BenchmarkOptions, taskset: str | None, resolutions,
            granularity: str, statistic: str, rounds: int) -> dict:
    from ofa_tf.latency import TABLE_FORMAT
    from ofa_tf.latency import OVERHEAD_KEY

    device = target.device
    space = supernet.search_space
    return {
        "format": TABLE_FORMAT,
        "net_id": supernet.net_id or supernet.name,
        "n_classes": supernet.n_classes,
        "search_space": {"ks": list(space.ks_list), "e": list(space.expand_list), "d": list(space.depth_list)},
        "resolutions": list(resolutions),
        "device": device.model,
        "serial": device.serial,
        "device_fingerprint": device.fingerprint,
        "soc": device.soc,
        "target": target.kind,
        "tool_version": target.tool_version,
        "flags": options.key(taskset),
        "taskset": taskset or "none",
        "threads": options.threads,
        "delegate": options.delegate,
        "warmup": options.warmup,
        "runs": options.runs,
        "rounds": rounds,
        "granularity": granularity,
        "statistic": statistic,
        "units": "ms (var in ms^2)",
        "overhead_key": OVERHEAD_KEY,
        "created": now_iso(),
        "updated": now_iso(),
    }


def _merge_header(existing: dict, fresh: dict, path: Path) -> dict:
    if existing.get("format") != fresh["format"]:
        raise TableMismatchError(
            f"{path} is not a table written by `android-bench lut` (header format {existing.get('format')!r}, "
            f"expected {fresh['format']!r}); write to another --out file."
        )
    for field in IDENTITY_FIELDS:
        if existing.get(field) != fresh[field]:
            raise TableMismatchError(
                f"{path} was measured with {field}={existing.get(field)!r}, but this run has {field}={fresh[field]!r}. "
                "Write to another --out file (or delete this one) to start a new table."
            )
    merged = {**fresh, "created": existing.get("created", fresh["created"])}
    merged["resolutions"] = sorted(set(existing.get("resolutions", [])) | set(fresh["resolutions"]))
    if "calibration" in existing:
        merged["calibration"] = existing["calibration"]
    return merged


def _merge_rounds(results: list[Result], runs: int) -> dict:
    """One entry from the same model's results of several rounds: mean of means (variance by the law of total
    variance), median of medians, least minimum."""
    from ofa_tf.latency import entry_from_timings

    ms = 1e-3
    means = np.array([r.avg_us for r in results]) * ms
    stds = np.array([r.std_us or 0.0 for r in results]) * ms
    medians = [r.p50_us * ms for r in results if r.p50_us is not None]
    minimums = [r.min_us * ms for r in results if r.min_us is not None]
    return entry_from_timings(
        float(means.mean()), sum(r.count or runs for r in results),
        float(np.sqrt(np.mean(stds**2) + np.var(means))),
        float(np.median(medians)) if medians else None, min(minimums) if minimums else None,
    )


def _statistic_ms(results: list[Result], statistic: str) -> float:
    """The whole-subnet figure matching the table's statistic, over rounds."""
    field = {"mean": "avg_us", "median": "p50_us", "min": "min_us"}[statistic]
    values = [getattr(r, field) for r in results if getattr(r, field) is not None]
    if not values:
        raise ValueError(f"The benchmark reported no {statistic!r} for {results[0].model_path}.")
    combine = min if statistic == "min" else np.median
    return float(combine(values)) / 1000.0


def build_latency_table(
    net,
    out: str | Path,
    target: str | Target = "host",
    *,
    binary: str | Path | None = None,
    resolutions: Iterable[int] | None = None,
    options: BenchmarkOptions | None = None,
    n_classes: int = 1000,
    granularity: str = "block",
    statistic: str = "min",
    rounds: int = 1,
    calibrate: int = 0,
    calibration_method: str = "scale",
    seed: int = 0,
    work_dir: str | Path | None = None,
    db: str | Path | ResultStore | None = DEFAULT_DB,
    adb: Adb | None = None,
    on_progress: Callable[[LutProgress], None] | None = None,
):
    """Measures every distinct entry of `net`'s search space at `resolutions` into the table file `out`.

    Args:
        net: a zoo net id (built with random weights, `n_classes` outputs) or an `OFAMobileNetV3`.
        out: table file (`.yaml`, `.yml` or `.json`); if it exists, its entries are kept and only missing ones
            are measured (its header must name the same net, device, tool, flags and granularity).
        target: 'host', an adb serial, or a ready target (`android_bench.make_target`).
        binary: `benchmark_model` (required for phones; optional for the host).
        resolutions: input sizes (default: all of the search space).
        options: benchmark settings (threads, delegate, warm-up and timed runs, taskset).
        granularity: 'block' (stem, whole MBConv blocks, head) or 'layer' (the reference's keys).
        statistic: the entry field the table's predictor sums by default ('min', 'median' or 'mean').
        rounds: interleaved rounds over all entries (and calibration subnets); their figures are merged.
        calibrate: whole random subnets measured to fit the table's calibration (0: none; up to 5 is plenty).
        calibration_method: 'scale' or 'linear' (see `ofa_tf.latency.Calibration`).
        seed: seed of the calibration subnets.
        work_dir: where the per-entry `.tflite` files are kept (default: `<out stem>_models/` next to `out`);
            reused by reruns.
        db: results store for the raw measurements (None: in memory).
        on_progress: called after every entry.

    Returns:
        The `ofa_tf.latency.LatencyTable` (also written to `out`).

    Raises:
        IncompleteTableError: some entries failed (the others are in the table; rerun to retry).
        SessionInterruptedError: the phone disconnected (measured entries are in the table; rerun to finish).
        TableMismatchError: `out` holds a table of another net, device, tool, flags or granularity.
    """
    from ofa_tf.latency import STATISTICS
    from ofa_tf.latency import LatencyTable
    from ofa_tf.latency import check_resolutions
    from ofa_tf.run_folder import load_supernet
    from ofa_tf.latency import table_layers

    options = options or BenchmarkOptions()
    out = Path(out)
    if out.suffix not in STRUCTURED_SUFFIXES:
        raise ValueError(f"Unsupported table file {out}: use a .yaml, .yml or .json suffix.")
    if statistic not in STATISTICS:
        raise ValueError(f"Unknown statistic {statistic!r}: expected one of {', '.join(STATISTICS)}.")
    if rounds < 1 or calibrate < 0:
        raise ValueError(f"Invalid rounds={rounds} or calibrate={calibrate}: expected rounds >= 1 and calibrate >= 0.")
    supernet = load_supernet(net, n_classes=n_classes) if isinstance(net, str) else net
    resolutions = check_resolutions(supernet, resolutions)
    layers = table_layers(supernet, resolutions, granularity=granularity)
    runner = target if not isinstance(target, str) else make_target(target, binary, adb)
    taskset = resolve_taskset(runner, options)
    header = _header(supernet, runner, options, taskset, resolutions, granularity, statistic, rounds)
    if out.exists():
        table = LatencyTable.load(out)
        table.header = _merge_header(table.header, header, out)
    else:
        table = LatencyTable(header, {})
    pending = [layer for layer in layers if layer.key not in table.entries]
    subnets = _calibration_subnets(supernet, resolutions, calibrate, seed) \
        if calibrate and len(table.header.get("calibration", {}).get("subnets", [])) != calibrate else []
    done = len(layers) - len(pending)
    table.save(out)
    if not pending and not subnets:
        return table

    models_dir = Path(work_dir) if work_dir else out.with_name(f"{out.stem}_models")
    models_dir.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    paths: dict[str, str] = {}
    for layer in pending:
        path = models_dir / model_filename(layer.key)
        if not path.is_file():
            try:
                _write_model(path, layer.build(supernet))
            except Exception as exc:  # the converter raises several types; all mean "no model for this entry"
                failed[layer.key] = f"conversion failed: {exc}"
                if on_progress is not None:
                    on_progress(LutProgress(layer.key, None, done, len(layers), failed[layer.key]))
                continue
        paths[str(path.resolve())] = layer.key
    subnet_paths = {}
    for config in subnets:
        name, build = _subnet_model(supernet, config)
        path = models_dir / name
        if not path.is_file():
            _write_model(path, build())
        subnet_paths[str(path.resolve())] = config

    measured: dict[str, list[Result]] = {}

    def record(result: Result) -> None:
        nonlocal done
        if result.model_path in subnet_paths:
            if not result.ok:
                failed[f"subnet {config_name(subnet_paths[result.model_path])}"] = result.error or "failed"
            measured.setdefault(result.model_path, []).append(result)
            return
        key = paths[result.model_path]
        if result.ok:
            first = key not in measured
            measured.setdefault(key, []).append(result)
            table.entries[key] = _merge_rounds(measured[key], options.runs)
            table.header["updated"] = now_iso()
            table.save(out)
            done += first
        else:
            failed[key] = result.error or "failed"
        if on_progress is not None:
            on_progress(LutProgress(key, result, done, len(layers), failed.get(key)))

    for _ in range(rounds):
        models = [p for p, key in paths.items() if key not in failed] + list(subnet_paths)
        if models:
            benchmark(models, runner, options=options, db=db, on_result=record)
    if failed:
        listing = "; ".join(f"{key}: {error}" for key, error in failed.items())
        raise IncompleteTableError(
            f"{len(failed)} of {len(layers) + len(subnets)} entries failed ({listing}). The other {done} are in "
            f"{out}; rerun the same command to retry the missing ones.", table, failed,
        )
    if subnets:
        _calibrate(table, supernet, {p: subnet_paths[p] for p in subnet_paths}, measured, calibration_method)
        table.save(out)
    return table


def convert_entry_models(net, work_dir: str | Path, resolutions: Iterable[int] | None = None, *,
                         n_classes: int = 1000, granularity: str = "block", calibrate: int = 0, seed: int = 0) -> int:
    """Writes the `.tflite` file of every entry of `net`'s table at `resolutions`, and of its `calibrate` calibration
    subnets (`seed`), that `work_dir` lacks, under the names `build_latency_table` reuses; returns how many it wrote.

    A float entry's latency depends on its shapes only, so the files of a random-weight supernet (`net` given as a
    zoo id) serve the trained one: `ofa-tf demo` converts them in a second process while it trains. Entries that fail
    to convert are left out; `build_latency_table` retries and reports them.
    """
    from ofa_tf.latency import check_resolutions
    from ofa_tf.latency import table_layers
    from ofa_tf.run_folder import load_supernet

    supernet = load_supernet(net, n_classes=n_classes) if isinstance(net, str) else net
    resolutions = check_resolutions(supernet, resolutions)
    models_dir = Path(work_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    builds = [(model_filename(layer.key), lambda layer=layer: layer.build(supernet))
              for layer in table_layers(supernet, resolutions, granularity=granularity)]
    builds += [_subnet_model(supernet, c) for c in _calibration_subnets(supernet, resolutions, calibrate, seed)]
    written = 0
    for name, build in builds:
        if not (models_dir / name).is_file():
            try:
                _write_model(models_dir / name, build())
            except Exception as exc:  # the converter raises several types; build_latency_table reports them
                logger.debug("No model for %s: %s", name, exc)
                continue
            written += 1
    return written


def config_name(config) -> str:
    """A file-name-safe id of a subnet config."""
    from ofa_tf.nas import config_key

    return hashlib.sha1(config_key(config).encode()).hexdigest()[:12]


def _subnet_model(supernet, config) -> tuple[str, Callable[[], object]]:
    """File name and builder (the materialized subnet, batch 1) of a calibration subnet's model."""
    from ofa_tf.materialize import materialize

    return model_filename(f"subnet-{config_name(config)}"), lambda: materialize(supernet, config, config.r,
                                                                                  batch_size=1)


def _write_model(path: Path, model) -> None:
    write_atomic(path, convert_to_tflite(model))


def _calibration_subnets(supernet, resolutions, n: int, seed: int) -> list:
    """`n` random subnets of the search space at the table's resolutions (seeded)."""
    rng = np.random.default_rng(seed)
    space = supernet.search_space
    return [space.sample(rng).with_resolution(int(resolutions[i % len(resolutions)])) for i in range(n)]


def _calibrate(table, supernet, subnet_paths: dict, measured: dict, method: str) -> None:
    from ofa_tf.latency import Calibration
    from ofa_tf.latency import LatencyPredictor
    from ofa_tf.latency import network_shape

    configs = list(subnet_paths.values())
    whole = [_statistic_ms(measured[path], table.header["statistic"]) for path in subnet_paths]
    predictor = LatencyPredictor(table, network_shape(supernet), calibration=False)
    table_ms = predictor.predict_uncalibrated(configs)
    calibration = Calibration.fit(table_ms, whole, method)
    table.header["calibration"] = {**calibration.to_dict(), "subnets": [
        {"config": config.to_dict(), "measured_ms": ms, "table_ms": float(pred)}
        for config, ms, pred in zip(configs, whole, table_ms)
    ]}
