"""Per-device latency lookup tables of an OFA supernet's search space, measured with ``benchmark``.

Each distinct layer (stem ``Conv``, every ``expanded_conv`` shape, ``Conv_1``, ``AvgPool2D``, ``Conv_2``,
``Logits``, plus a near-empty ``Overhead`` model) is built from the same stock Keras layers as exported subnets
(``ofa_tf.materialize.materialize_part``), converted to a float32 builtin-ops ``.tflite`` and timed on the target.
The table file is rewritten after every measured entry, so an interrupted build keeps what it measured and a
rerun with the same arguments measures only the missing entries.

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

IDENTITY_FIELDS = ("format", "net_id", "n_classes", "device_fingerprint", "serial", "tool_version", "flags")
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


def _header(supernet, target: Target, options: BenchmarkOptions, taskset: str | None, resolutions) -> dict:
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
                f"{path} was measured with {field}={existing[field]!r}, but this run has {field}={fresh[field]!r}. "
                "Write to another --out file (or delete this one) to start a new table."
            )
    merged = {**fresh, "created": existing.get("created", fresh["created"])}
    merged["resolutions"] = sorted(set(existing.get("resolutions", [])) | set(fresh["resolutions"]))
    return merged


def build_latency_table(
    net,
    out: str | Path,
    target: str | Target = "host",
    *,
    binary: str | Path | None = None,
    resolutions: Iterable[int] | None = None,
    options: BenchmarkOptions | None = None,
    n_classes: int = 1000,
    work_dir: str | Path | None = None,
    db: str | Path | ResultStore | None = DEFAULT_DB,
    adb: Adb | None = None,
    on_progress: Callable[[LutProgress], None] | None = None,
):
    """Measures every distinct layer of `net`'s search space at `resolutions` into the table file `out`.

    Args:
        net: a zoo net id (built with random weights, `n_classes` outputs) or an `OFAMobileNetV3`.
        out: table file (`.yaml`, `.yml` or `.json`); if it exists, its entries are kept and only missing ones
            are measured (its header must name the same net, device, tool and flags).
        target: 'host', an adb serial, or a ready target (`android_bench.make_target`).
        binary: `benchmark_model` (required for phones; optional for the host).
        resolutions: input sizes (default: all of the search space).
        options: benchmark settings (threads, delegate, warm-up and timed runs, taskset).
        work_dir: where the per-entry `.tflite` files are kept (default: `<out stem>_models/` next to `out`);
            reused by reruns.
        db: results store for the raw measurements (None: in memory).
        on_progress: called after every entry.

    Returns:
        The `ofa_tf.latency.LatencyTable` (also written to `out`).

    Raises:
        IncompleteTableError: some entries failed (the others are in the table; rerun to retry).
        SessionInterruptedError: the phone disconnected (measured entries are in the table; rerun to finish).
        TableMismatchError: `out` holds a table of another net, device, tool or flags.
    """
    from ofa_tf.latency import LatencyTable
    from ofa_tf.latency import check_resolutions
    from ofa_tf.run_folder import load_supernet
    from ofa_tf.latency import entry_from_timings
    from ofa_tf.latency import table_layers

    options = options or BenchmarkOptions()
    out = Path(out)
    if out.suffix not in STRUCTURED_SUFFIXES:
        raise ValueError(f"Unsupported table file {out}: use a .yaml, .yml or .json suffix.")
    supernet = load_supernet(net, n_classes=n_classes) if isinstance(net, str) else net
    resolutions = check_resolutions(supernet, resolutions)
    runner = target if not isinstance(target, str) else make_target(target, binary, adb)
    taskset = resolve_taskset(runner, options)
    header = _header(supernet, runner, options, taskset, resolutions)
    if out.exists():
        table = LatencyTable.load(out)
        table.header = _merge_header(table.header, header, out)
    else:
        table = LatencyTable(header, {})
    layers = table_layers(supernet, resolutions)
    pending = [layer for layer in layers if layer.key not in table.entries]
    done = len(layers) - len(pending)
    table.save(out)
    if not pending:
        return table

    models_dir = Path(work_dir) if work_dir else out.with_name(f"{out.stem}_models")
    models_dir.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    paths: dict[str, str] = {}
    for layer in pending:
        path = models_dir / model_filename(layer.key)
        if not path.is_file():
            try:
                data = convert_to_tflite(layer.build(supernet))
            except Exception as exc:  # the converter raises several types; all mean "no model for this entry"
                failed[layer.key] = f"conversion failed: {exc}"
                if on_progress is not None:
                    on_progress(LutProgress(layer.key, None, done, len(layers), failed[layer.key]))
                continue
            write_atomic(path, data)
        paths[str(path.resolve())] = layer.key

    def record(result: Result) -> None:
        nonlocal done
        key = paths[result.model_path]
        if result.ok:
            ms = 1e-3
            median = result.p50_us * ms if result.p50_us is not None else None
            least = result.min_us * ms if result.min_us is not None else None
            table.entries[key] = entry_from_timings(result.avg_us * ms, result.count or options.runs,
                                                    (result.std_us or 0.0) * ms, median, least)
            table.header["updated"] = now_iso()
            table.save(out)
            done += 1
        else:
            failed[key] = result.error or "failed"
        if on_progress is not None:
            on_progress(LutProgress(key, result, done, len(layers), failed.get(key)))

    if paths:
        benchmark(list(paths), runner, options=options, db=db, on_result=record)
    if failed:
        listing = "; ".join(f"{key}: {error}" for key, error in failed.items())
        raise IncompleteTableError(
            f"{len(failed)} of {len(layers)} entries failed ({listing}). The other {done} are in {out}; "
            "rerun the same command to retry the missing ones.", table, failed,
        )
    return table
