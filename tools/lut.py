"""Per-device latency lookup tables of an OFA supernet's search space, measured with ``benchmark``.

Each distinct entry (granularity ``block``, the default: ``stem``, every ``mbconv`` block shape, ``head``; or
``layer``, the reference's: ``Conv``, ``expanded_conv``, ``Conv_1``, ``AvgPool2D``, ``Conv_2``, ``Logits``; plus a
near-empty ``Overhead`` model) is built from the same stock Keras layers as exported subnets
(``ofa_tf.families.mobilenet_v3.materialize.materialize_part``), converted to a float32 builtin-ops ``.tflite`` and timed on the target,
in ``rounds`` rounds (every entry once per round, in a shuffled order; a round's figures merge into the entry).
With ``calibrate=N``, N random whole subnets are measured in the same rounds and the table's calibration
(``ofa_tf.latency.Calibration``) is fitted on them.

No single measurement decides the table (``android_bench.rounds``): every calibration subnet, and a sample of the
entries, is timed in at least two separated rounds, models whose rounds disagree are repeated, and a build whose
timings do not repeat writes no table (``UnstableTableError``). The header records the spread achieved
(``repeatability``) and every round (``round_log``, with the cores' frequency where the device exposes it).
Measured entries are kept in ``partial_path(out)`` after every one, so an interrupted build keeps them and a rerun
with the same arguments measures only the missing ones; ``out`` is written when the table is complete and checked.

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
from android_bench.rounds import RepeatPolicy
from android_bench.rounds import RepeatedRounds
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
    """Reported after every measured entry: its key, the result (None when conversion failed), the counts so far
    and the kind of round."""

    key: str
    result: Result | None
    done: int
    total: int
    error: str | None = None
    phase: str = "measure"  # or "check" / "repeat": a second round of an entry already measured


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
    for field in ("calibration", "repeatability", "round_log"):  # a build that adds entries checks them anew
        if field in existing:
            merged[field] = existing[field]
    return merged


def _merge_rounds(results: list[Result], runs: int, prior: dict | None = None) -> dict:
    """One entry from the same model's results of several rounds (and an entry measured before, `prior`): mean of
    means (variance by the law of total variance), median of medians, median of minima (each round's least run;
    the median over rounds, as `android_bench.rounds` takes it: the least of them follows the machine's fastest
    moment)."""
    from ofa_tf.latency import entry_from_timings

    ms = 1e-3
    rounds = [(r.avg_us * ms, (r.std_us or 0.0) * ms, r.p50_us and r.p50_us * ms, r.min_us and r.min_us * ms,
               r.count or runs) for r in results]
    if prior:
        rounds.insert(0, (prior["mean"], float(np.sqrt(prior.get("var", 0.0))), prior.get("median"), prior.get("min"),
                          int(prior.get("count", runs))))
    means = np.array([r[0] for r in rounds])
    stds = np.array([r[1] for r in rounds])
    medians = [r[2] for r in rounds if r[2] is not None]
    minimums = [r[3] for r in rounds if r[3] is not None]
    return entry_from_timings(
        float(means.mean()), sum(r[4] for r in rounds), float(np.sqrt(np.mean(stds**2) + np.var(means))),
        float(np.median(medians)) if medians else None, float(np.median(minimums)) if minimums else None,
    )


CHECK_SAMPLE = (8, 0.15)
"""Entries re-timed in a second round when `rounds=1`: at least 8, or 15% of the entries."""
ESCALATE = 0.0
"""With `rounds=1`, when more than this share of the sampled entries disagree with their retest, every entry gets
a second round: a disturbance of a few seconds (seen on a shared 2-core VM: every model ~40% slower) hits a run of
entries, and the unsampled ones are as likely to be off. Any disagreement escalates: with a 15% threshold, 2 of 14
sampled entries off (51% at worst) let a table through that put only 90% of 30 held-out subnets within ±10%
(docs/latency_tables.md), while the extra round costs about as long as the first (5-12 s at 128 px)."""


class UnstableTableError(RuntimeError):
    """Timings did not repeat within the tolerance after the allowed repeats; no table was written."""


def partial_path(out: str | Path) -> Path:
    """Where a build keeps what it measured until the table is complete and checked: `<stem>.partial<suffix>`."""
    out = Path(out)
    return out.with_name(f"{out.stem}.partial{out.suffix}")


@dataclasses.dataclass(frozen=True)
class LatencyTableOptions:
    """What a latency table holds and how its timings are checked (`build_latency_table`, `android-bench lut`).

    Args:
        resolutions: input sizes (default: all of the search space).
        granularity: 'block' (stem, whole MBConv blocks, head) or 'layer' (the reference's keys).
        statistic: the entry field the table's predictor sums by default ('min', 'median' or 'mean').
        rounds: rounds over all entries (and calibration subnets); their figures are merged.
        calibrate: whole random subnets measured to fit the table's calibration (0: none; up to 5 is plenty).
        calibration_method: 'linear' (scale and offset; 'scale' with a single calibration subnet) or 'scale'
            (see `ofa_tf.latency.Calibration`; docs/latency_tables.md compares them).
        seed: seed of the calibration subnets, the checked sample and the rounds' orders.
        repeat: agreement tolerance, repeats and throttling threshold (`android_bench.rounds.RepeatPolicy`).
    """

    resolutions: tuple[int, ...] | None = None
    granularity: str = "block"
    statistic: str = "min"
    rounds: int = 1
    calibrate: int = 0
    calibration_method: str = "linear"
    seed: int = 0
    repeat: RepeatPolicy = dataclasses.field(default_factory=RepeatPolicy)

    def __post_init__(self):
        from ofa_tf.latency import CALIBRATION_METHODS
        from ofa_tf.latency import STATISTICS
        from ofa_tf.latency.keys import check_granularity

        if self.resolutions is not None:
            object.__setattr__(self, "resolutions", tuple(self.resolutions))
        if self.repeat is None:
            object.__setattr__(self, "repeat", RepeatPolicy())
        check_granularity(self.granularity)
        if self.statistic not in STATISTICS:
            raise ValueError(f"Unknown statistic {self.statistic!r}: expected one of {', '.join(STATISTICS)}.")
        if self.rounds < 1 or self.calibrate < 0:
            raise ValueError(f"Invalid rounds={self.rounds} or calibrate={self.calibrate}: expected rounds >= 1 and "
                             "calibrate >= 0.")
        if self.calibration_method not in CALIBRATION_METHODS:
            raise ValueError(f"Unknown calibration method {self.calibration_method!r}: expected one of "
                             f"{', '.join(CALIBRATION_METHODS)}.")


def build_latency_table(net, out: str | Path, target: str | Target = "host", *,
                        table_options: LatencyTableOptions | None = None, options: BenchmarkOptions | None = None,
                        binary: str | Path | None = None, n_classes: int = 1000, work_dir: str | Path | None = None,
                        db: str | Path | ResultStore | None = DEFAULT_DB, adb: Adb | None = None,
                        on_progress: Callable[[LutProgress], None] | None = None, **overrides):
    """Measures every distinct entry of `net`'s search space at `resolutions` into the table file `out`.

    Every entry is timed in `rounds` rounds (a shuffled order each, the calibration subnets among the entries);
    then every calibration subnet, and with `rounds=1` a sample of the entries (`CHECK_SAMPLE`), get a second
    round, and models with no two rounds within `repeat.tolerance` are repeated
    (`android_bench.rounds`). The header's `repeatability` records the spread achieved and `round_log` every
    round (with the cores' frequency before and after it where the device exposes it). Until the table is
    complete and checked, measured entries are kept in `partial_path(out)`; `out` is written once, at the end.

    Args:
        net: a zoo net id (built with random weights, `n_classes` outputs) or an `OFAMobileNetV3`.
        out: table file (`.yaml`, `.yml` or `.json`); if it exists, its entries are kept and only missing ones
            are measured (its header must name the same net, device, tool, flags and granularity).
        target: 'host', an adb serial, or a ready target (`android_bench.make_target`).
        table_options: what the table holds and how its timings are checked (`LatencyTableOptions`).
        options: benchmark settings (threads, delegate, warm-up and timed runs, taskset).
        binary: `benchmark_model` (required for phones; optional for the host).
        work_dir: where the per-entry `.tflite` files are kept (default: `<out stem>_models/` next to `out`);
            reused by reruns.
        db: results store for the raw measurements (None: in memory).
        on_progress: called after every measured entry (`LutProgress.phase` says which kind of round).
        **overrides: fields of `LatencyTableOptions` (`resolutions=[128]`, `rounds=2`, ...), replacing those of
            `table_options`.

    Returns:
        The `ofa_tf.latency.LatencyTable` (also written to `out`).

    Raises:
        IncompleteTableError: some entries failed (the others are kept; rerun to retry).
        UnstableTableError: timings did not repeat within the tolerance (`out` not written; entries kept).
        SessionInterruptedError: the phone disconnected (measured entries are kept; rerun to finish).
        TableMismatchError: `out` holds a table of another net, device, tool, flags or granularity.
    """
    settings = dataclasses.replace(table_options or LatencyTableOptions(), **overrides)
    out = Path(out)
    if out.suffix not in STRUCTURED_SUFFIXES:
        raise ValueError(f"Unsupported table file {out}: use a .yaml, .yml or .json suffix.")
    runner_of = (lambda: target) if not isinstance(target, str) else (lambda: make_target(target, binary, adb))
    build = _prepare(net, out, runner_of, settings, options or BenchmarkOptions(), n_classes, work_dir, on_progress)
    if build.complete:
        return build.table  # complete, checked and calibrated
    measuring = _write_entry_models(build, build.pending)
    _write_subnet_models(build)
    build.engine = RepeatedRounds(build.runner, build.benchmark, settings.repeat, settings.statistic, db=db,
                                  seed=settings.seed, on_result=build.record)
    sample, unstable, escalated = _measure(build, measuring)
    return _finish(build, sample, unstable, escalated)


@dataclasses.dataclass
class _Build:
    """One run of `build_latency_table`: the table it fills, the models it times and what became of them."""

    supernet: object
    settings: LatencyTableOptions
    benchmark: BenchmarkOptions
    runner: Target
    out: Path
    table: object  # the ofa_tf.latency.LatencyTable being filled (kept in `partial` until checked)
    layers: list  # every entry of the table (ofa_tf.latency.TableLayer), in network order
    pending: list  # the entries an earlier run did not measure
    subnets: list  # calibration subnets still to measure
    models_dir: Path
    on_progress: Callable[[LutProgress], None] | None
    done: int = 0
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # entry key (or "subnet <id>") -> error
    paths: dict[str, str] = dataclasses.field(default_factory=dict)  # entry model path -> entry key
    subnet_paths: dict = dataclasses.field(default_factory=dict)  # calibration model path -> config
    earlier: dict[str, dict] = dataclasses.field(default_factory=dict)  # entries of an earlier run re-timed here
    engine: RepeatedRounds | None = None
    complete: bool = False

    @property
    def partial(self) -> Path:
        return partial_path(self.out)

    def progress(self, key: str, result: Result | None, purpose: str = "measure") -> None:
        if self.on_progress is not None:
            self.on_progress(LutProgress(key, result, self.done, len(self.layers), self.failed.get(key),
                                         purpose.split(",")[0].split(":")[0]))

    def record(self, result: Result, purpose: str) -> None:
        """Merges a result into the table (kept in `partial` after every entry), or notes the failure."""
        if result.model_path in self.subnet_paths:
            if not result.ok:
                self.failed[f"subnet {config_name(self.subnet_paths[result.model_path])}"] = result.error or "failed"
            return
        key = self.paths[result.model_path]
        if result.ok:
            first = purpose == "measure" and key not in self.table.entries
            self.table.entries[key] = _merge_rounds(self.engine.measured(result.model_path), self.benchmark.runs,
                                                    self.earlier.get(key))
            self.table.header["updated"] = now_iso()
            self.table.save(self.partial)
            self.done += first
        else:
            self.failed[key] = result.error or "failed"
        self.progress(key, result, purpose)

    def raise_if_failed(self) -> None:
        if self.failed:
            _raise_incomplete(self.failed, self.layers, self.subnets, self.done, self.partial, self.table)


def _prepare(net, out: Path, runner_of, settings: LatencyTableOptions, benchmark: BenchmarkOptions, n_classes: int,
             work_dir, on_progress) -> _Build:
    """The supernet, its entries and the table so far (`out`, or the partial file of an interrupted build, whose
    header must match), marked partial until this run completes it."""
    from ofa_tf.latency import PARTIAL
    from ofa_tf.latency import LatencyTable
    from ofa_tf.latency import check_resolutions
    from ofa_tf.latency import table_layers
    from ofa_tf.run_folder import load_supernet

    supernet = load_supernet(net, n_classes=n_classes) if isinstance(net, str) else net
    resolutions = check_resolutions(supernet, settings.resolutions)
    layers = table_layers(supernet, resolutions, granularity=settings.granularity)
    runner = runner_of()
    taskset = resolve_taskset(runner, benchmark)
    header = _header(supernet, runner, benchmark, taskset, resolutions, settings.granularity, settings.statistic,
                     settings.rounds)
    partial = partial_path(out)
    source = partial if partial.exists() else out if out.exists() else None
    if source is not None:
        table = LatencyTable.load(source, partial=True)
        table.header = _merge_header(table.header, header, source)
    else:
        table = LatencyTable(header, {})
    pending = [layer for layer in layers if layer.key not in table.entries]
    calibrated = len(table.header.get("calibration", {}).get("subnets", [])) == settings.calibrate
    subnets = _calibration_subnets(supernet, resolutions, settings.calibrate, settings.seed) \
        if settings.calibrate and not calibrated else []
    build = _Build(supernet, settings, benchmark, runner, out, table, layers, pending, subnets,
                   Path(work_dir) if work_dir else out.with_name(f"{out.stem}_models"), on_progress,
                   done=len(layers) - len(pending), complete=source == out and not pending and not subnets)
    if not build.complete:
        table.header["status"] = PARTIAL
        table.save(partial)
    return build


def _write_models(models_dir: Path, builds: Iterable[tuple[str, Callable[[], object]]],
                  on_error: Callable[[str, Exception], None] | None = None) -> dict[str, Path]:
    """Writes the `.tflite` of every (file name, Keras model builder) of `builds` that `models_dir` lacks; returns
    file name -> path of every model now there. A model that fails to build or convert is left out and passed to
    `on_error(name, exc)`, or raises without `on_error`."""
    models_dir.mkdir(parents=True, exist_ok=True)
    ready = {}
    for name, build in builds:
        path = models_dir / name
        if not path.is_file():
            try:
                _write_model(path, build())
            except Exception as exc:  # the converter raises several types; all mean "no model for this entry"
                if on_error is None:
                    raise
                on_error(name, exc)
                continue
        ready[name] = path
    return ready


def _write_entry_models(build: _Build, layers: list) -> list[str]:
    """The model paths of `layers` (written where missing; a failure is recorded and reported)."""
    keys = {model_filename(layer.key): layer.key for layer in layers}

    def failed(name: str, exc: Exception) -> None:
        build.failed[keys[name]] = f"conversion failed: {exc}"
        build.progress(keys[name], None)

    ready = _write_models(build.models_dir, [(name, lambda layer=layer: layer.build(build.supernet))
                                             for name, layer in zip(keys, layers)], failed)
    found = {str(ready[name].resolve()): keys[name] for name in keys if name in ready}
    build.paths.update(found)
    return list(found)


def _write_subnet_models(build: _Build) -> None:
    builds = [_subnet_model(build.supernet, config) for config in build.subnets]
    ready = _write_models(build.models_dir, builds)
    build.subnet_paths.update((str(ready[name].resolve()), config) for (name, _), config in zip(builds, build.subnets))


def _measure(build: _Build, measuring: list[str]) -> tuple[list[str], list[str], bool]:
    """`rounds` rounds over the entries and calibration subnets, then the check (`_check`): returns the checked
    entries, the models still disagreeing and whether every entry got a second round."""
    settings, engine = build.settings, build.engine
    for _ in range(settings.rounds):
        models = [p for p in measuring if build.paths[p] not in build.failed] + list(build.subnet_paths)
        if models:
            engine.run_round(models, "measure")
    build.raise_if_failed()
    # The check: every calibration subnet and a sample of entries (all of them after 2+ rounds) in 2+ rounds.
    sample = list(measuring) if settings.rounds >= 2 else _check_sample(build, measuring)
    checked = _check(engine, sample, list(build.subnet_paths), measuring, escalate=settings.rounds == 1)
    build.raise_if_failed()
    return checked


def _check_sample(build: _Build, measuring: list[str]) -> list[str]:
    """With one round: `CHECK_SAMPLE` of the measured entries (seeded); one measured by an earlier run has its
    stored figure as its first round."""
    candidates = [layer for layer in build.layers if layer.key in build.table.entries]
    n = min(len(candidates), max(CHECK_SAMPLE[0], int(np.ceil(CHECK_SAMPLE[1] * len(build.layers)))))
    sample = []
    for i in sorted(np.random.default_rng(build.settings.seed).choice(len(candidates), size=n, replace=False).tolist()):
        layer = candidates[i]
        known = layer.key in build.paths.values()
        paths = [_path_of(build.paths, layer.key)] if known else _write_entry_models(build, [layer])
        if not paths:
            continue
        path = paths[0]
        if path not in measuring:  # measured by an earlier run: its stored figure is the first round
            build.earlier[layer.key] = dict(build.table.entries[layer.key])
            if build.earlier[layer.key].get(build.settings.statistic) is not None:
                build.engine.add_prior(path, build.earlier[layer.key][build.settings.statistic])
        sample.append(path)
    return sample


def _finish(build: _Build, sample: list[str], unstable: list[str], escalated: bool):
    """Records the check; unless unstable, merges every entry's rounds, calibrates and writes `out` (in network
    order), removing the partial file."""
    engine, table, paths = build.engine, build.table, build.paths
    summary = {**engine.summary(sample + list(build.subnet_paths)), "checked_entries": len(sample),
               "checked_subnets": len(build.subnet_paths), "entries": len(build.layers), "escalated": escalated}
    table.header["round_log"] = engine.round_log()
    if unstable:
        table.header["repeatability"] = summary
        table.save(build.partial)
        raise UnstableTableError(_unstable_message(engine, unstable, paths, build.subnet_paths,
                                                   build.settings.repeat, build.partial, build.out))
    for path, key in paths.items():
        if engine.measured(path):
            table.entries[key] = _merge_rounds(engine.measured(path), build.benchmark.runs, build.earlier.get(key))
    order = [layer.key for layer in build.layers] + [key for key in table.entries if key not in paths.values()]
    table.entries = {key: table.entries[key] for key in dict.fromkeys(order) if key in table.entries}  # network order
    table.header["repeatability"] = summary
    if build.subnet_paths:
        _calibrate(table, build.supernet, build.subnet_paths, engine, build.settings.calibration_method)
    table.header["updated"] = now_iso()
    del table.header["status"]
    table.save(build.out)
    build.partial.unlink(missing_ok=True)
    return table


def _mhz(freqs: dict | None) -> str:
    return "/".join(str(khz // 1000) for khz in freqs.values()) if freqs else "?"


def describe_checks(header: dict) -> list[str]:
    """Lines on a table's repeatability check and its rounds (header fields `repeatability`, `round_log`)."""
    check = header.get("repeatability")
    if not check:
        return []
    first, achieved = check.get("first_spread_pct") or {}, check.get("spread_pct") or {}
    line = (f"repeatability: {check['checked_entries']} of {check['entries']} entries and "
            f"{check['checked_subnets']} calibration subnets timed in 2+ rounds; a round against its retest differed "
            f"by {first.get('median', 0):.1f}% (median), {first.get('max', 0):.1f}% (max); after repeats "
            f"({check['repeated']} models) two rounds of each agree within {achieved.get('max', 0):.1f}% "
            f"(tolerance {check['tolerance_pct']:g}%)")
    if check.get("escalated"):
        line += "; every entry was timed twice, as the sample did not repeat"
    lines = [line]
    for r in header.get("round_log", []):
        freqs = ""
        if r["cpu_khz_before"] or r["cpu_khz_after"]:
            freqs = f", cores at {_mhz(r['cpu_khz_before'])} MHz before, {_mhz(r['cpu_khz_after'])} after"
        flag = ""
        if r["throttled"]:
            flag = " THROTTLED (" + ("replaced by the next round)" if r["replaced"] else "kept)")
        lines.append(f"  round {r['index'] + 1}: {r['purpose']}, {r['models']} models, {r['seconds']:.0f} s"
                     f"{freqs}{flag}")
    return lines


def _check(engine: RepeatedRounds, sample: list[str], subnets: list[str], measured: list[str], escalate: bool):
    """A second round for the sample and the calibration subnets; with `escalate`, every entry `measured` by this
    run gets one too when more than `ESCALATE` of the sample disagreed with its retest; then repeats. Returns the
    checked entries, the models still disagreeing and whether it escalated."""
    once = [p for p in sample + subnets if p not in engine.failed and len(engine.figures(p)) < 2]
    if once:
        engine.run_round(once, "check")
    escalated = False
    if escalate and sample:
        off = sum(engine.first_agree(p) is False for p in sample)
        if off > ESCALATE * len(sample):
            escalated = True
            rest = [p for p in measured if p not in sample]
            logger.info("%d of %d sampled entries disagreed with their retest: timing every entry a second time.",
                        off, len(sample))
            if rest:
                engine.run_round(rest, "measure: the sample did not repeat")
            sample = sample + rest
    return sample, engine.check(sample + subnets), escalated


def _path_of(paths: dict[str, str], key: str) -> str:
    return next(path for path, k in paths.items() if k == key)


def _raise_incomplete(failed, layers, subnets, done, partial, table):
    listing = "; ".join(f"{key}: {error}" for key, error in failed.items())
    raise IncompleteTableError(
        f"{len(failed)} of {len(layers) + len(subnets)} entries failed ({listing}). The other {done} are kept in "
        f"{partial}; rerun the same command to retry the missing ones.", table, failed,
    )


def _unstable_message(engine, unstable, paths, subnet_paths, repeat, partial, out) -> str:
    def name(path):
        return f"subnet {config_name(subnet_paths[path])}" if path in subnet_paths else paths[path]

    worst = max(unstable, key=lambda p: engine.spread(p) or 0.0)
    rounds = ", ".join(f"{v:.4g}" for v in engine.figures(worst))
    repeats = f"{repeat.max_repeats} repeat round{'' if repeat.max_repeats == 1 else 's'}"
    return (f"Timings did not repeat within {100 * repeat.tolerance:g}%: after {repeats}, "
            f"{len(unstable)} of the checked models still have no two rounds that agree (worst: {name(worst)}, "
            f"{rounds} ms, the closest {100 * engine.spread(worst):.1f}% apart), so {out} was not written; the "
            f"measured entries are kept in {partial}. Rerun when the device is idle and cool, or allow a larger "
            "tolerance.")


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
    builds = [(model_filename(layer.key), lambda layer=layer: layer.build(supernet))
              for layer in table_layers(supernet, resolutions, granularity=granularity)]
    builds += [_subnet_model(supernet, c) for c in _calibration_subnets(supernet, resolutions, calibrate, seed)]
    missing = {name for name, _ in builds if not (models_dir / name).is_file()}
    # build_latency_table retries and reports the entries that fail here
    ready = _write_models(models_dir, builds, lambda name, exc: logger.debug("No model for %s: %s", name, exc))
    return len(missing & set(ready))


def config_name(config) -> str:
    """A file-name-safe id of a subnet config."""
    from ofa_tf.nas import config_key

    return hashlib.sha1(config_key(config).encode()).hexdigest()[:12]


def _subnet_model(supernet, config) -> tuple[str, Callable[[], object]]:
    """File name and builder (the materialized subnet, batch 1) of a calibration subnet's model."""
    from ofa_tf.families.mobilenet_v3.materialize import materialize

    return model_filename(f"subnet-{config_name(config)}"), lambda: materialize(supernet, config, config.r,
                                                                                  batch_size=1)


def _write_model(path: Path, model) -> None:
    write_atomic(path, convert_to_tflite(model))


def _calibration_subnets(supernet, resolutions, n: int, seed: int) -> list:
    """`n` random subnets of the search space at the table's resolutions (seeded)."""
    rng = np.random.default_rng(seed)
    space = supernet.search_space
    return [space.sample(rng).with_resolution(int(resolutions[i % len(resolutions)])) for i in range(n)]


def _calibrate(table, supernet, subnet_paths: dict, engine: RepeatedRounds, method: str) -> None:
    """Fits the table's calibration on the calibration subnets' figures (each stable over 2+ rounds)."""
    from ofa_tf.latency import Calibration
    from ofa_tf.latency import LatencyPredictor
    from ofa_tf.latency import network_shape

    configs = list(subnet_paths.values())
    whole = [engine.figure(path) for path in subnet_paths]
    predictor = LatencyPredictor(table, network_shape(supernet), calibration=False)
    table_ms = predictor.predict_uncalibrated(configs)
    if method == "linear" and len(np.unique(table_ms)) < 2:  # a line needs two subnets of different latency
        method = "scale"
    calibration = Calibration.fit(table_ms, whole, method)
    table.header["calibration"] = {**calibration.to_dict(), "subnets": [
        {"config": config.to_dict(), "measured_ms": ms, "table_ms": float(pred),
         "rounds_ms": engine.figures(path)}
        for config, ms, pred, path in zip(configs, whole, table_ms, subnet_paths)
    ]}
