"""Render stored results as a text table, CSV or JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from android_bench.result import Result

CSV_COLUMNS = (
    "id", "session_id", "created_at", "target", "serial", "device", "device_fingerprint", "model_path",
    "model_sha256", "flags", "tool_version", "status", "error", "init_us", "first_us", "warmup_avg_us", "avg_us",
    "std_us", "min_us", "max_us", "p5_us", "p50_us", "p95_us", "count", "warmup_count", "peak_memory_mb",
    "memory_init_mb", "memory_overall_mb", "op_profile_ms",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.3f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _short_flags(flags: str) -> str:
    """'--num_threads=4 ... --use_gpu=true ... taskset=f0' -> 't4 gpu f0'."""
    parts = dict(item.lstrip("-").split("=", 1) for item in flags.split() if "=" in item)
    delegate = ("gpu" if parts.get("use_gpu") == "true" else "nnapi" if parts.get("use_nnapi") == "true"
                else "cpu" if parts.get("use_xnnpack") == "false" else "xnnpack")
    return f"t{parts.get('num_threads', '?')} {delegate} {parts.get('taskset', 'none')}"


def format_table(results: Sequence[Result]) -> str:
    """Fixed-width table: one line per result, latencies in ms."""
    header = ("device", "serial", "model", "sha256", "setup", "status", "avg_ms", "std_ms", "p50_ms", "p95_ms",
              "init_ms", "peak_MB")
    rows = [
        (r.device, r.serial, Path(r.model_path).name, r.model_sha256[:10], _short_flags(r.flags), r.status,
         _ms(r.avg_us), _ms(r.std_us), _ms(r.p50_us), _ms(r.p95_us), _ms(r.init_us), _mb(r.peak_memory_mb))
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def result_record(result: Result) -> dict:
    """JSON-ready dict of one result (no raw output)."""
    return {column: getattr(result, column) for column in CSV_COLUMNS}


def write_csv(results: Sequence[Result], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for result in results:
            record = result_record(result)
            record["op_profile_ms"] = json.dumps(record["op_profile_ms"]) if record["op_profile_ms"] else ""
            writer.writerow({key: "" if value is None else value for key, value in record.items()})


def write_json(results: Sequence[Result], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump([result_record(result) for result in results], handle, indent=2)
        handle.write("\n")


def format_op_profile(results: Sequence[Result]) -> str:
    """Per-op-type average ms (rows) for each result with an op profile (columns: model name and result id)."""
    profiled = [r for r in results if r.op_profile_ms]
    if not profiled:
        return "No op profiles (run with --op-profiling)."
    op_types = sorted({op for r in profiled for op in r.op_profile_ms}, key=lambda op: -max(
        r.op_profile_ms.get(op, 0.0) for r in profiled))
    header = ["op type"] + [f"{Path(r.model_path).name}#{r.id}" for r in profiled]
    rows = [[op] + [f"{r.op_profile_ms[op]:.3f}" if op in r.op_profile_ms else "-" for r in profiled]
            for op in op_types]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [header, *rows])
