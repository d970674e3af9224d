"""`android-bench`: android_bench's own commands plus `lut`, which builds latency tables of OFA supernets.

android_bench runs any `.tflite` and knows nothing of OFA, so the `lut` command lives here, on top of both, and is
added to android_bench's click group by this module (the `android-bench` console script).
"""
from __future__ import annotations

import sys

import click

from android_bench.adb import AdbError
from android_bench.cli import EXIT_INTERRUPTED
from android_bench.cli import db_option
from android_bench.cli import main
from android_bench.cli_support import check_outputs_not_inputs
from android_bench.cli_support import check_writable
from android_bench.device import HOST_SERIAL
from android_bench.options import DELEGATES
from android_bench.options import BenchmarkOptions
from android_bench.rounds import RepeatPolicy
from android_bench.session import SessionInterruptedError

from .lut import IncompleteTableError
from .lut import LatencyTableOptions
from .lut import TableMismatchError
from .lut import UnstableTableError
from .lut import build_latency_table
from .lut import describe_checks
from .lut import partial_path


def _parse_resolutions(ctx, param, value):
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers such as 128,160; received {value!r}.") from exc


@click.command()
@click.option("--net", "net_id", required=True, help="Zoo net id, e.g. ofa_mbv3_d234_e346_k357_w1.0.")
@click.option("--serial", required=True, help=f"adb serial of the phone, or '{HOST_SERIAL}' for this machine.")
@click.option("--binary", type=click.Path(dir_okay=False), help="benchmark_model binary (required for phones).")
@click.option("--resolutions", callback=_parse_resolutions,
              help="Comma-separated input sizes, e.g. 128,160 (default: the net's whole search space).")
@click.option("--n-classes", type=int, default=1000, show_default=True, help="Classifier outputs (Logits entry).")
@click.option("--threads", type=int, default=1, show_default=True, help="--num_threads.")
@click.option("--delegate", type=click.Choice(DELEGATES), default="cpu", show_default=True)
@click.option("--warmup", type=int, default=10, show_default=True, help="Exact number of warm-up runs per entry.")
@click.option("--runs", type=int, default=50, show_default=True, help="Exact number of timed runs per entry.")
@click.option("--taskset", help="Hex CPU mask (e.g. f0), or 'none'. Default: the device's big cores.")
@click.option("--granularity", type=click.Choice(("block", "layer")), default="block", show_default=True,
              help="block: stem, whole MBConv blocks, head (what the interpreter runs); layer: the reference's keys.")
@click.option("--statistic", type=click.Choice(("min", "median", "mean")), default="min", show_default=True,
              help="Entry field the table's predictor sums.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Interleaved rounds over all entries; their figures are merged (least min, median of medians).")
@click.option("--calibrate", type=click.IntRange(0), default=5, show_default=True,
              help="Random whole subnets measured to calibrate the table (0: none).")
@click.option("--calibration", "calibration_method", type=click.Choice(("linear", "scale")), default="linear",
              show_default=True, help="How the table is fitted to the measured subnets: measured = scale x table + "
              "offset (linear), or scale x table.")
@click.option("--tolerance", type=click.FloatRange(0, 100, min_open=True, max_open=True), default=5.0,
              show_default=True, help="Percent two rounds of a model may differ by and agree. Every calibration "
              "subnet and a sample of entries are timed in 2+ rounds; disagreeing ones are repeated.")
@click.option("--max-repeats", type=click.IntRange(0), default=3, show_default=True,
              help="Extra rounds for models whose rounds disagree; if they still disagree, no table is written.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Table file (.yaml/.yml/.json); an existing one is completed, not remeasured.")
@click.option("--work-dir", type=click.Path(file_okay=False), help="Where the per-entry .tflite files are kept.")
@db_option
def lut(net_id, serial, binary, resolutions, n_classes, threads, delegate, warmup, runs, taskset, granularity,
        statistic, rounds, calibrate, calibration_method, tolerance, max_repeats, out, work_dir, db) -> None:
    """Build a latency lookup table: time every distinct block of a supernet's search space on a device, check that
    the timings repeat (with the big cores' frequency around every round), then calibrate it on a few whole
    subnets."""
    check_writable(out)
    check_outputs_not_inputs([("--out", out), ("--db", db), ("--work-dir", work_dir)], [("--binary", binary)])
    try:
        options = BenchmarkOptions(threads=threads, delegate=delegate, warmup=warmup, runs=runs, taskset=taskset)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc

    def progress(step) -> None:
        status = f"FAILED: {step.error}" if step.error else f"{step.result.avg_us / 1000:.3f} ms"
        where = "" if step.phase == "measure" else f" ({step.phase})"
        click.echo(f"[{step.done}/{step.total}] {step.key}{where}: {status}", err=True)

    try:
        table_options = LatencyTableOptions(resolutions, granularity, statistic, rounds, calibrate, calibration_method,
                                            repeat=RepeatPolicy(tolerance=tolerance / 100, max_repeats=max_repeats))
        table = build_latency_table(net_id, out, serial, table_options=table_options, options=options, binary=binary,
                                    n_classes=n_classes, work_dir=work_dir, db=db, on_progress=progress)
    except SessionInterruptedError as exc:
        click.echo(f"Error: the device disconnected while building the table ({exc.__cause__ or exc}). Measured "
                   f"entries are kept in {partial_path(out)}; reconnect and rerun the same command to measure the "
                   "rest.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (IncompleteTableError, UnstableTableError) as exc:
        raise click.ClickException(str(exc)) from exc
    except (TableMismatchError, FileNotFoundError, PermissionError, ValueError, AdbError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in describe_checks(table.header):
        click.echo(line)
    calibration = table.header.get("calibration")
    if calibration:
        click.echo(f"calibration: x{calibration['scale']:.3f} + {calibration['offset_ms']:.3f} ms from "
                   f"{calibration['n_subnets']} measured subnets")
    click.echo(f"{len(table.entries)} entries for {table.header['net_id']} on {table.header['device']} "
               f"(resolutions {table.header['resolutions']}) in {out}")


main.add_command(lut)
main.log_packages += ("ofa_tf", __package__)  # `lut` reports through this package's and the library's loggers

if __name__ == "__main__":
    main()
