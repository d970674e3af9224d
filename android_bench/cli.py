"""``android-bench``: list devices, benchmark .tflite models on phones or the host, report stored results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from android_bench.adb import Adb
from android_bench.adb import AdbError
from android_bench.cli_support import QuietGroup
from android_bench.cli_support import check_outputs_not_inputs
from android_bench.cli_support import check_writable
from android_bench.cli_support import one_line_errors
from android_bench.device import HOST_SERIAL
from android_bench.device import host_device
from android_bench.device import probe_device
from android_bench.options import DELEGATES
from android_bench.options import BenchmarkOptions
from android_bench.report import format_op_profile
from android_bench.report import format_table
from android_bench.report import result_record
from android_bench.report import write_csv
from android_bench.report import write_json
from android_bench.result import Result
from android_bench.session import NothingToResumeError
from android_bench.session import SessionInterruptedError
from android_bench.session import benchmark
from android_bench.store import DEFAULT_DB
from android_bench.store import ResultStore

EXIT_INTERRUPTED = 3
db_option = click.option(
    "--db", type=click.Path(dir_okay=False), default=str(DEFAULT_DB), show_default=True,
    help="SQLite results store.",
)


@click.group(cls=QuietGroup)
def main(verbose: bool) -> None:
    """Benchmark TFLite models on Android phones (adb + benchmark_model) or on this host."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per device per line.")
def devices(as_json: bool) -> None:
    """List attached devices with model, SoC, ABI, Android version and CPU core layout."""
    try:
        adb = Adb()
        rows = []
        for entry in adb.devices():
            info = probe_device(adb, entry.serial).to_dict() if entry.state == "device" else {"serial": entry.serial}
            rows.append({"state": entry.state, **info})
    except (AdbError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("No devices attached.")
        return
    columns = ("serial", "state", "model", "soc", "abi", "android_version", "cores", "big_mask", "little_mask",
               "cpu_source")
    table = [columns] + [tuple(str(row.get(column) or "-") for column in columns) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


@main.command()
@click.option("--serial", required=True, help=f"adb serial of the phone, or '{HOST_SERIAL}' for this machine.")
@click.option("--binary", type=click.Path(dir_okay=False), help="benchmark_model binary (required for phones).")
@click.option("--model", "models", multiple=True, type=click.Path(dir_okay=False), help=".tflite file(s).")
@click.argument("extra_models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--threads", type=int, default=1, show_default=True, help="--num_threads.")
@click.option("--delegate", type=click.Choice(DELEGATES), default="cpu", show_default=True)
@click.option("--warmup", type=int, default=10, show_default=True, help="Exact number of warm-up runs.")
@click.option("--runs", type=int, default=50, show_default=True, help="Exact number of timed runs.")
@click.option("--taskset", help="Hex CPU mask (e.g. f0), or 'none'. Default: the device's big cores.")
@click.option("--op-profiling", is_flag=True, help="--enable_op_profiling=true; stores per-op-type times.")
@click.option("--peak-memory", is_flag=True, help="--report_peak_memory_footprint=true.")
@click.option("--resume", is_flag=True, help="Finish the interrupted session with the same device and flags.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model per line.")
@db_option
def run(serial, binary, models, extra_models, threads, delegate, warmup, runs, taskset, op_profiling, peak_memory,
        resume, as_json, db) -> None:
    """Benchmark models: `run --serial SERIAL|host --binary PATH --model FILE...`."""
    models = list(models) + list(extra_models)
    if not models and not resume:
        raise click.UsageError("Missing option '--model': give at least one .tflite file.")
    check_outputs_not_inputs([("--db", db)],
                             [*(("--model", model) for model in models), ("--binary", binary)])
    try:
        options = BenchmarkOptions(threads=threads, delegate=delegate, warmup=warmup, runs=runs, taskset=taskset,
                                   op_profiling=op_profiling, peak_memory=peak_memory)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc

    def emit(result: Result) -> None:
        if as_json:
            click.echo(json.dumps(result_record(result)))
        else:
            figure = f"avg {result.avg_us / 1000:.3f} ms" if result.ok else f"FAILED: {result.error}"
            click.echo(f"{result.device} {result.model_path}: {figure}", err=True)

    try:
        results = benchmark(models, serial, binary=binary, options=options, db=db, resume=resume, on_result=emit)
    except SessionInterruptedError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (NothingToResumeError, FileNotFoundError, PermissionError, ValueError, AdbError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not as_json:
        click.echo(format_table(results))
    where = f"{Path(db).expanduser()}" + (", the default store (--db chooses another; `android-bench report` lists "
                                          "it)" if db == str(DEFAULT_DB) else "")
    click.echo(f"Stored {len(results)} result(s) in {where}.", err=True)
    failed = [result for result in results if not result.ok]
    if failed:
        from android_bench.session import model_load_error

        broken = {r.model_path for r in failed if model_load_error(r.model_path)}
        advice = "rerun with --resume to retry them"
        if broken:
            advice = (f"{', '.join(sorted(broken))} cannot be loaded by a TFLite interpreter (a broken file): "
                      "export it again" + ("" if len(broken) == len(failed) else f"; then {advice}"))
        raise click.ClickException(f"{len(failed)} of {len(results)} model(s) failed; {advice}.")


@main.command()
@db_option
@click.option("--serial", help="Only this device.")
@click.option("--session", "session_id", help="Only this session id.")
@click.option("--status", type=click.Choice(["ok", "failed"]), help="Only results with this status.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Also write the results as CSV.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results as JSON.")
@click.option("--ops", is_flag=True, help="Also print per-op-type average ms of op-profiled results.")
@one_line_errors
def report(db, serial, session_id, status, csv_path, json_path, ops) -> None:
    """Print stored results as a table; optionally write CSV and/or JSON."""
    for path, option in ((csv_path, "--csv"), (json_path, "--json")):
        if path:
            check_writable(path, option)
    check_outputs_not_inputs([("--csv", csv_path), ("--json", json_path)], [("--db", db)])
    with ResultStore(db, read_only=True) as store:
        results = store.results(serial=serial, session_id=session_id, status=status)
    if not results:
        click.echo(f"No results in {db}" + (" matching the filters." if serial or session_id or status else "."))
    else:
        click.echo(format_table(results))
        if ops:
            click.echo("")
            click.echo(format_op_profile(results))
    if csv_path:
        write_csv(results, csv_path)
        click.echo(f"Wrote {len(results)} result(s) to {csv_path}", err=True)
    if json_path:
        write_json(results, json_path)
        click.echo(f"Wrote {len(results)} result(s) to {json_path}", err=True)


@main.command()
def host() -> None:
    """Describe this machine as the 'host' target."""
    click.echo(json.dumps(host_device().to_dict(), indent=2))
