"""benchmark_model output formats parsed to exact numbers."""

import pytest
from bench_fakes import TRANSCRIPTS

from android_bench.output_parser import parse_benchmark_output
from android_bench.output_parser import parse_stats_line
from android_bench.output_parser import strip_prefix


def parse(name):
    return parse_benchmark_output((TRANSCRIPTS / name).read_text())


def test_current_format_with_percentiles_and_peak_memory():
    out = parse("bench_current_percentiles.txt")
    assert (out.init_us, out.first_us, out.warmup_avg_us, out.avg_us) == (38512, 41210, 32884.6, 31987.4)
    assert (out.std_us, out.min_us, out.max_us) == (612, 31388, 35102)
    assert (out.p5_us, out.p50_us, out.p95_us) == (31420, 31839, 33215)
    assert (out.count, out.warmup_count) == (50, 10)
    assert out.peak_memory_mb == 39.7109
    assert (out.memory_init_mb, out.memory_overall_mb) == (27.0586, 33.9336)
    assert out.model_size_mb == 21.8763
    assert out.op_profile_ms is None and out.errors == ()


def test_unprefixed_build_without_percentiles_and_old_peak_memory_line():
    out = parse("bench_no_percentiles.txt")
    assert (out.init_us, out.first_us, out.warmup_avg_us, out.avg_us) == (61274, 22871, 15949.2, 15217.8)
    assert (out.std_us, out.min_us, out.max_us, out.count) == (298, 14902, 16544, 50)
    assert (out.p5_us, out.p50_us, out.p95_us) == (None, None, None)
    assert (out.memory_init_mb, out.memory_overall_mb, out.peak_memory_mb) == (35.8281, 44.2305, 44.2305)


def test_old_average_line_and_single_warmup_run():
    out = parse("bench_old_average.txt")
    # "count=1 curr=83235": one warm-up run, so first = avg = 83235.
    assert (out.init_us, out.first_us, out.warmup_avg_us, out.avg_us) == (38467, 83235, 83235, 79760.9)
    assert (out.std_us, out.min_us, out.max_us, out.count, out.warmup_count) == (1929, 77385, 88213, 50, 1)
    assert (out.p50_us, out.p95_us, out.peak_memory_mb) == (None, None, None)


def test_logcat_prefixes():
    out = parse("bench_logcat.txt")
    assert (out.init_us, out.first_us, out.warmup_avg_us, out.avg_us) == (1087420, 52162, 35044.1, 33118.6)
    assert (out.p50_us, out.p95_us, out.std_us) == (33066, 33702, 304)
    assert (out.memory_init_mb, out.memory_overall_mb) == (118.25, 121.863)


def test_op_profiling_uses_the_regular_run_summary_not_the_initialization_one():
    out = parse("bench_op_profiling.txt")
    assert out.op_profile_ms == {
        "CONV_2D": 21.405, "DEPTHWISE_CONV_2D": 6.118, "HARD_SWISH": 2.247, "MUL": 1.019, "ADD": 0.905,
        "MEAN": 0.621, "FULLY_CONNECTED": 0.298, "LOGISTIC": 0.131,
    }
    # "Timings (microseconds): count=50 ..." of the profiler must not replace the benchmark stats.
    assert (out.avg_us, out.std_us, out.count, out.warmup_count) == (32977.2, 640, 50, 10)


def test_op_profiling_space_aligned_with_delegate_node_types():
    out = parse("bench_op_profiling_xnnpack.txt")
    assert out.op_profile_ms == {
        "Convolution (NHWC, QC8) GEMM": 6.844, "Convolution (NHWC, QC8) DWConv": 3.71,
        "Convolution (NHWC, QC8) IGEMM": 0.407, "Add (ND, QS8)": 0.081, "QUANTIZE": 0.203, "DEQUANTIZE": 0.012,
    }
    assert (out.init_us, out.p95_us) == (32163, 16690)


def test_error_output_has_no_timings_and_keeps_error_lines():
    out = parse("bench_error.txt")
    assert not out.has_timings
    assert out.errors[0].startswith("Didn't find op for builtin opcode 'BROADCAST_TO'")
    assert out.errors[-1] == "Benchmarking failed."


def test_regular_phase_cut_short_gives_no_timings():
    out = parse("bench_disconnect_partial.txt")
    assert not out.has_timings
    assert out.avg_us is None and out.count is None


@pytest.mark.parametrize(
    "line, expected",
    [
        ("count=50 curr=1200(all same) p5=1200 median=1200 p95=1200", (50, 1200, 1200, 1200, 0.0, 1200)),
        ("count=1 curr=83235", (1, 83235, 83235, 83235, 0.0, None)),
        ("curr=81350 count=50 min=77385 max=88213 avg=79732 std=1929", (50, 77385, 88213, 79732, 1929, None)),
    ],
)
def test_stats_line_variants(line, expected):
    stats = parse_stats_line(line)
    assert (stats.count, stats.min, stats.max, stats.avg, stats.std, stats.median) == expected


def test_profiler_timings_line_is_not_a_stats_line():
    assert parse_stats_line("Timings (microseconds): count=50 first=1 curr=1 min=1 max=2 avg=1.5 std=0") is None


def test_zero_warmup_runs_give_no_first_inference():
    text = (
        "INFO: Running benchmark for at least 0 iterations and at least 0 seconds\n"
        "INFO: count=0\n"
        "INFO: Running benchmark for at least 5 iterations and at least 0 seconds\n"
        "INFO: count=5 first=10 curr=12 min=10 max=14 avg=12 std=1.41421 p5=10 median=12 p95=14\n"
        "INFO: Inference timings in us: Init: 900, First inference: 0, Warmup (avg): -nan, Inference (avg): 12\n"
    )
    out = parse_benchmark_output(text)
    assert (out.first_us, out.warmup_avg_us, out.warmup_count, out.avg_us, out.init_us) == (None, None, 0, 12, 900)


@pytest.mark.parametrize(
    "raw",
    [
        "INFO: Initialized session in 1.5ms.",
        "11-23 13:05:41.201  8812  8838 I tflite  : Initialized session in 1.5ms.",
        "I/tflite  ( 8812): Initialized session in 1.5ms.",
        "tflite : Initialized session in 1.5ms.",
        "Initialized session in 1.5ms.\r",
    ],
)
def test_strip_prefix(raw):
    assert strip_prefix(raw) == "Initialized session in 1.5ms."
