"""Parse ``benchmark_model`` output (stdout, stderr or logcat) of current and older TFLite builds."""

from __future__ import annotations

import dataclasses
import math
import re

_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf"
_KEY_VALUE = re.compile(rf"(\w+)=({_NUMBER})", re.IGNORECASE)
# Log prefixes: TFLITE_LOG ("INFO: "), logcat threadtime, logcat brief, bare tag.
_PREFIXES = (
    re.compile(r"^\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+tflite\s*:\s?"),
    re.compile(r"^[VDIWEF]/tflite\s*\(\s*\d+\):\s?"),
    re.compile(r"^tflite\s*:\s"),
    re.compile(r"^(?:INFO|WARN|WARNING|VERBOSE): "),
)
_TIMINGS = re.compile(r"(?:Average )?[Ii]nference timings in us: (.*)$")
_TIMING_KEYS = {
    "init": "init_us",
    "first inference": "first_us",
    "warmup (avg)": "warmup_avg_us",
    "warmup": "warmup_avg_us",
    "inference (avg)": "avg_us",
    "inference": "avg_us",
}
_DELTA_MEMORY = re.compile(rf"Memory footprint delta from the start of the tool \(MB\): init=({_NUMBER}) overall=({_NUMBER})")
_PEAK_MONITOR = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: ({_NUMBER})")
_PEAK_OLD = re.compile(rf"Peak memory footprint \(MB\): init=({_NUMBER}) overall=({_NUMBER})")
_MODEL_SIZE = re.compile(rf"The input model file size \(MB\): ({_NUMBER})")
_RUN_PHASE = "Running benchmark for at least"
_REGULAR_PROFILE = "Operator-wise Profiling Info for Regular Benchmark Runs"
_SUMMARY_BY_TYPE = "Summary by node type"


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else value


@dataclasses.dataclass(frozen=True)
class RunStats:
    """One ``count=... first=... curr=...`` line (microseconds); older builds print no percentiles."""

    count: int
    first: float | None
    curr: float | None
    min: float | None
    max: float | None
    avg: float | None
    std: float | None
    p5: float | None = None
    median: float | None = None
    p95: float | None = None


@dataclasses.dataclass
class BenchmarkFigures:
    """The figures of one ``benchmark_model`` run (timings in microseconds, memory in MB, the op-type profile in ms);
    ``None`` where the output has none. The one list of them: `BenchmarkOutput` adds what else the run printed, the
    stored `android_bench.result.Result` what was measured where."""

    init_us: float | None = None
    first_us: float | None = None
    warmup_avg_us: float | None = None
    avg_us: float | None = None
    std_us: float | None = None
    min_us: float | None = None
    max_us: float | None = None
    p5_us: float | None = None
    p50_us: float | None = None
    p95_us: float | None = None
    count: int | None = None
    warmup_count: int | None = None
    peak_memory_mb: float | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    op_profile_ms: dict[str, float] | None = None

    def figures(self) -> dict:
        """The `BenchmarkFigures` fields of this object by name."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(BenchmarkFigures)}


@dataclasses.dataclass
class BenchmarkOutput(BenchmarkFigures):
    """Figures found in one ``benchmark_model`` run, the model file's size it printed (not stored: a `Result` names
    the file by its sha256) and the errors it printed."""

    model_size_mb: float | None = None
    errors: tuple[str, ...] = ()

    @property
    def has_timings(self) -> bool:
        return self.avg_us is not None


def strip_prefix(line: str) -> str:
    """Remove a logcat and/or TFLITE_LOG prefix from one line."""
    line = line.rstrip("\r\n")
    for pattern in _PREFIXES:
        line = pattern.sub("", line, count=1)
    return line


def parse_stats_line(line: str) -> RunStats | None:
    """Parse ``count=N first=.. curr=.. min=.. max=.. avg=.. std=.. [p5=.. median=.. p95=..]``.

    ``count=N curr=T[(all same)]`` (every run equal) gives min = max = avg = T and std = 0.
    """
    text = line.strip()
    if not (text.startswith("count=") or text.startswith("curr=")):
        return None
    values = {key.lower(): _number(value) for key, value in _KEY_VALUE.findall(text)}
    if "count" not in values or values["count"] is None:
        return None
    count = int(values["count"])
    if count == 0:
        return RunStats(0, None, None, None, None, None, None)
    if "avg" not in values:
        curr = values.get("curr")
        return RunStats(count, curr, curr, curr, curr, curr, 0.0 if curr is not None else None,
                        values.get("p5"), values.get("median"), values.get("p95"))
    return RunStats(
        count=count, first=values.get("first", values.get("curr")), curr=values.get("curr"), min=values.get("min"),
        max=values.get("max"), avg=values.get("avg"), std=values.get("std"),
        p5=values.get("p5"), median=values.get("median"), p95=values.get("p95"),
    )


def _parse_timings(rest: str) -> dict[str, float | None]:
    timings = {}
    for item in rest.split(","):
        key, _, value = item.partition(":")
        field = _TIMING_KEYS.get(key.strip().lower())
        if field and value.strip():
            timings[field] = _number(value.strip())
    return timings


def parse_op_summary(lines: list[str], start: int) -> dict[str, float]:
    """Parse the 'Summary by node type' table whose title is ``lines[start]`` into {node type: avg ms}."""
    header_index = next((i for i in range(start + 1, len(lines)) if "[" in lines[i]), None)
    if header_index is None:
        return {}
    columns = [name.strip().lower() for name in re.findall(r"\[([^\]]+)\]", lines[header_index])]
    if "avg ms" not in columns:
        return {}
    n_values = len(columns) - 1
    avg_index = columns.index("avg ms") - 1
    summary: dict[str, float] = {}
    for line in lines[header_index + 1:]:
        tokens = line.split()
        if not tokens:
            break
        if len(tokens) <= n_values:
            break
        values = tokens[-n_values:]
        try:
            avg_ms = float(values[avg_index])
        except ValueError:
            break
        name = " ".join(tokens[:-n_values])
        summary[name] = summary.get(name, 0.0) + avg_ms
    return summary


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """Extract timings, run statistics, memory and op-type profile from ``benchmark_model`` output.

    Handles the current ``Inference timings in us: Init: .., First inference: .., Warmup (avg): ..,
    Inference (avg): ..`` line, the older ``Average inference timings in us: Warmup: .., Init: ..,
    Inference: ..`` line, stats lines with and without percentiles (the last one is the regular run,
    the one before it the warm-up), the three memory report formats, ``INFO: `` and logcat ``tflite :``
    prefixes, and the op-profiling "Summary by node type" table of the regular runs.
    """
    raw_lines = text.splitlines()
    lines = [strip_prefix(line) for line in raw_lines]
    fields: dict = {}
    stats: list[RunStats] = []
    errors = []
    op_summary_starts = []
    regular_profile_at = None
    phases_started = 0
    for index, (raw, line) in enumerate(zip(raw_lines, lines)):
        if raw.lstrip().startswith("ERROR:") or " E tflite" in raw or raw.startswith("E/tflite"):
            errors.append(line.strip().removeprefix("ERROR:").strip())
            continue
        parsed_stats = parse_stats_line(line)
        if parsed_stats is not None:
            stats.append(parsed_stats)
            continue
        if _RUN_PHASE in line:
            phases_started += 1
        elif (match := _TIMINGS.search(line)) is not None:
            fields.update(_parse_timings(match.group(1)))
        elif (match := _DELTA_MEMORY.search(line)) is not None:
            fields["memory_init_mb"], fields["memory_overall_mb"] = _number(match.group(1)), _number(match.group(2))
        elif (match := _PEAK_MONITOR.search(line)) is not None:
            fields["peak_memory_mb"] = _number(match.group(1))
        elif (match := _PEAK_OLD.search(line)) is not None:
            fields["memory_init_mb"], fields["memory_overall_mb"] = _number(match.group(1)), _number(match.group(2))
            fields.setdefault("peak_memory_mb", fields["memory_overall_mb"])
        elif (match := _MODEL_SIZE.search(line)) is not None:
            fields["model_size_mb"] = _number(match.group(1))
        elif _REGULAR_PROFILE in line:
            regular_profile_at = index
        elif _SUMMARY_BY_TYPE in line:
            op_summary_starts.append(index)

    # Each phase (warm-up, regular) announces itself, then prints its stats line when done; a
    # regular phase that started but printed nothing was cut short (crash, disconnect).
    if stats and not (phases_started >= 2 and len(stats) < 2):
        regular = stats[-1]
        warmup = stats[-2] if len(stats) > 1 else None
        fields.update(
            count=regular.count, std_us=regular.std, min_us=regular.min, max_us=regular.max,
            p5_us=regular.p5, p50_us=regular.median, p95_us=regular.p95,
        )
        fields.setdefault("avg_us", regular.avg)
        if warmup is not None:
            fields["warmup_count"] = warmup.count
            fields.setdefault("warmup_avg_us", warmup.avg)
            if fields.get("first_us") is None or warmup.count == 0:
                fields["first_us"] = warmup.first
        if fields.get("avg_us") is None:
            fields["avg_us"] = regular.avg
    if op_summary_starts:
        after_regular = [i for i in op_summary_starts if regular_profile_at is None or i > regular_profile_at]
        if after_regular:
            fields["op_profile_ms"] = parse_op_summary(lines, after_regular[0])
    return BenchmarkOutput(errors=tuple(errors), **fields)
