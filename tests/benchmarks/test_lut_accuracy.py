"""benchmarks/lut_accuracy.py: the test-retest spread of whole subnets, the verdict against the goal, and no
TensorFlow start-up lines. Its figures are timing and live in docs/latency_tables.md, not in assertions."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench_fakes import NOTE8
from bench_fakes import android_binary  # noqa: F401 (fixture)
from bench_fakes import fake_adb  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]
NOISE = ("I0000", "W0000", "E0000", "oneDNN", "cuInit", "absl", "WARNING:")


@pytest.fixture(scope="module")
def lut_accuracy():
    spec = importlib.util.spec_from_file_location("lut_accuracy", REPO / "benchmarks" / "lut_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verdict_asks_99_percent_where_subnets_repeat_within_3_percent(lut_accuracy):
    precise = lut_accuracy.verdict(0.97, {"p95_pct": 2.5, "median_pct": 0.8})
    assert (precise["goal_within_10pct"], precise["met"]) == (0.99, False)
    assert precise["text"] == ("NOT MET: 97% of the held-out subnets within ±10% (goal 99%, as whole subnets repeat "
                               "within 2.5% (95th percentile), under 3%)")
    noisy = lut_accuracy.verdict(0.97, {"p95_pct": 3.5, "median_pct": 1.2})
    assert (noisy["goal_within_10pct"], noisy["met"]) == (0.95, True) and noisy["text"].startswith("MET: 97%")
    assert lut_accuracy.verdict(0.99, {"p95_pct": 1.0})["met"]


def test_whole_subnets_are_measured_until_they_repeat_and_their_retest_spread_reported(lut_accuracy, fake_adb,
                                                                                      android_binary, tmp_path):
    from android_bench import BenchmarkOptions
    from android_bench import make_target
    from android_bench.rounds import RepeatPolicy
    from bench_fakes import TFLITE_HEADER

    paths = []
    for name in ("a.tflite", "b.tflite", "c.tflite"):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(TFLITE_HEADER + name.encode() + b"\0" * 32)
    # b: 35.102 ms, then 31.388 ms twice: its test-retest spread is 11.8%, its figure 31.388
    fake_adb.set_bench_sequence("b.tflite", ["bench_current_percentiles_slower.txt", "bench_current_percentiles.txt"])
    target = make_target(NOTE8, android_binary)
    figures, engine, unstable = lut_accuracy.measure_whole(paths, target, BenchmarkOptions(), 1, RepeatPolicy(), 0)
    assert figures.tolist() == pytest.approx([31.388] * 3) and unstable == []
    assert [r.purpose for r in engine.rounds] == ["measure", "check", "repeat"]
    spread = lut_accuracy.test_retest(engine, paths)
    assert spread["n"] == 3 and spread["repeated"] == 1 and spread["median_pct"] == 0.0
    assert spread["max_pct"] == pytest.approx(100 * (35.102 / 31.388 - 1))


def test_the_benchmark_prints_no_tensorflow_start_up_lines():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "PYTHONWARNINGS"))}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "benchmarks/lut_accuracy.py", "--net", "nope"], capture_output=True,
                            text=True, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    # TensorFlow was imported (main's first step) with its start-up lines hidden; the error is one line
    assert result.stderr.splitlines() == [line for line in result.stderr.splitlines()
                                          if not any(n in line for n in NOISE)]
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: Unknown net_id 'nope'")
