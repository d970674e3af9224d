"""The 'host' target: a host benchmark_model binary via subprocess, and the ai_edge_litert interpreter end to end."""

import json
import os

import pytest
from bench_fakes import TRANSCRIPTS
from bench_fakes import write_executable
from click.testing import CliRunner

from android_bench import BenchmarkOptions
from android_bench import HostInterpreterTarget
from android_bench import ResultStore
from android_bench import benchmark
from android_bench.cli import main
from android_bench.host_target import run_stats

FAKE_HOST_BENCHMARK = """
import json, os, sys
with open(os.environ["FAKE_BM_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "cpus": sorted(os.sched_getaffinity(0))}) + "\\n")
sys.stderr.write(open(os.environ["FAKE_BM_TRANSCRIPT"]).read())
sys.exit(int(os.environ.get("FAKE_BM_EXIT", "0")))
"""


@pytest.fixture
def host_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_BM_LOG", str(tmp_path / "bm_log.jsonl"))
    monkeypatch.setenv("FAKE_BM_TRANSCRIPT", str(TRANSCRIPTS / "bench_current_percentiles.txt"))
    return write_executable(tmp_path / "linux_x86-64_benchmark_model", FAKE_HOST_BENCHMARK)


def test_host_binary_runs_via_subprocess_with_affinity(host_binary, make_model, tmp_path):
    model = make_model("m.tflite")
    result = CliRunner().invoke(main, [
        "run", "--serial", "host", "--binary", str(host_binary), "--model", str(model), "--threads", "2",
        "--delegate", "xnnpack", "--taskset", "1", "--json", "--db", str(tmp_path / "r.db"),
    ])
    assert result.exit_code == 0, result.output
    [call] = [json.loads(line) for line in (tmp_path / "bm_log.jsonl").read_text().splitlines()]
    assert call["argv"] == [f"--graph={model}", "--num_threads=2", "--warmup_runs=10", "--num_runs=50", "--min_secs=0",
                            "--warmup_min_secs=0", "--use_xnnpack=true"]
    assert call["cpus"] == [0]
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (record["target"], record["serial"], record["avg_us"], record["p50_us"]) == ("host-binary", "host", 31987.4, 31839)
    assert record["flags"].endswith("--use_xnnpack=true taskset=1")


def test_host_binary_failure_is_recorded(host_binary, make_model, monkeypatch):
    monkeypatch.setenv("FAKE_BM_TRANSCRIPT", str(TRANSCRIPTS / "bench_error.txt"))
    monkeypatch.setenv("FAKE_BM_EXIT", "1")
    [result] = benchmark([make_model("m.tflite")], "host", binary=host_binary, db=None)
    assert result.status == "failed" and "BROADCAST_TO" in result.error


def test_run_stats_match_benchmark_model_definitions():
    stats = run_stats([10.0, 30.0, 20.0, 40.0])
    assert (stats.count, stats.first, stats.curr, stats.min, stats.max, stats.avg) == (4, 10, 40, 10, 40, 25)
    assert stats.std == pytest.approx(125 ** 0.5)  # population std, as benchmark_model prints
    assert (stats.p5, stats.median, stats.p95) == (10, 30, 40)  # sorted[n * p // 100]


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4)(x)
    path = tmp_path_factory.mktemp("host_e2e") / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs)).convert())
    return path


def test_host_interpreter_end_to_end(tiny_tflite, tmp_path):
    db = str(tmp_path / "r.db")
    result = CliRunner().invoke(main, ["run", "--serial", "host", "--model", str(tiny_tflite), "--warmup", "3",
                                       "--runs", "15", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (record["target"], record["status"], record["count"], record["warmup_count"]) == ("host-interpreter", "ok", 15, 3)
    for key in ("init_us", "first_us", "warmup_avg_us", "avg_us", "std_us", "peak_memory_mb"):
        assert record[key] is not None and record[key] >= 0, key
    assert record["min_us"] <= record["p50_us"] <= record["p95_us"] <= record["max_us"]
    assert record["min_us"] <= record["avg_us"] <= record["max_us"]
    assert record["peak_memory_mb"] > 1
    assert record["tool_version"].startswith("ai_edge_litert ")
    assert record["p5_us"] is not None and record["memory_init_mb"] is None

    report = CliRunner().invoke(main, ["report", "--db", db, "--json", str(tmp_path / "r.json")])
    assert "tiny.tflite" in report.output
    assert json.loads((tmp_path / "r.json").read_text())[0]["avg_us"] == record["avg_us"]


def test_host_interpreter_python_api_with_affinity_and_xnnpack(tiny_tflite, tmp_path):
    before = os.sched_getaffinity(0)
    options = BenchmarkOptions(threads=1, delegate="xnnpack", warmup=1, runs=5, taskset="1")
    [result] = benchmark([tiny_tflite], "host", options=options, db=tmp_path / "r.db")
    assert result.ok and result.count == 5 and result.flags.endswith("--use_xnnpack=true taskset=1")
    assert os.sched_getaffinity(0) == before
    with ResultStore(tmp_path / "r.db") as store:
        [stored] = store.results()
    assert stored.avg_us == result.avg_us and "runs_us=" in stored.raw_output


def test_host_interpreter_rejects_phone_only_features(tiny_tflite):
    with pytest.raises(ValueError, match=r"Delegate 'gpu' is not available on the host interpreter: expected one of cpu, xnnpack"):
        benchmark([tiny_tflite], "host", options=BenchmarkOptions(delegate="gpu"), db=None)
    with pytest.raises(ValueError, match="--binary"):
        benchmark([tiny_tflite], "host", options=BenchmarkOptions(op_profiling=True), db=None)


def test_host_interpreter_thread_cpu_clock(tiny_tflite, tmp_path):
    target = HostInterpreterTarget(clock="thread_cpu")
    assert target.tool_version == HostInterpreterTarget().tool_version + " (thread_cpu clock)"
    [result] = benchmark([tiny_tflite], target, options=BenchmarkOptions(warmup=1, runs=5), db=tmp_path / "r.db")
    assert result.ok and result.count == 5 and 0 < result.min_us <= result.p50_us <= result.max_us
    assert result.tool_version == target.tool_version  # never mixed with wall-clock results in the store
    with pytest.raises(ValueError, match="thread_cpu clock needs threads=1"):
        benchmark([tiny_tflite], target, options=BenchmarkOptions(threads=2), db=None)
    with pytest.raises(ValueError, match="Unknown clock 'cycles'"):
        HostInterpreterTarget(clock="cycles")


def test_broken_model_is_not_sent_back_to_resume(tiny_tflite, tmp_path):
    """A truncated model (valid header) fails to run; the advice is to export it again, not --resume."""
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(tiny_tflite.read_bytes()[:200])
    result = CliRunner().invoke(main, ["run", "--serial", "host", "--model", str(broken), "--warmup", "1",
                                       "--runs", "2", "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert str(broken.resolve()) in last and "export it again" in last and "--resume" not in last


def test_a_failing_run_prints_no_litert_delegate_line(host_binary, tiny_tflite, tmp_path, monkeypatch):
    """After a failure `run` loads each failed model to tell a broken file from a failing run; that probe must not
    print LiteRT's `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` (C++, on stderr) without -v."""
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("FAKE_BM_TRANSCRIPT", str(TRANSCRIPTS / "bench_error.txt"))
    monkeypatch.setenv("FAKE_BM_EXIT", "1")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, "-m", "android_bench", "run", "--serial", "host", "--binary",
                             str(host_binary), "--model", str(tiny_tflite), "--db", str(tmp_path / "r.db")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "Error: 1 of 1 model(s) failed; rerun with --resume to retry them."
    assert "INFO" not in result.stderr and "delegate" not in result.stderr, result.stderr


def test_run_says_where_it_stored_the_results(host_binary, make_model, tmp_path, monkeypatch):
    """Without --db the results go to a store in the home folder: `run` names it (issue 26)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    model = make_model("m.tflite")
    result = CliRunner().invoke(main, ["run", "--serial", "host", "--binary", str(host_binary), "--model", str(model)])
    store = tmp_path / "home" / ".ofa_tf" / "android_bench.sqlite"
    assert result.exit_code == 0, result.output
    assert (f"Stored 1 result(s) in {store}, the default store (--db chooses another; `android-bench report` lists "
            "it).") in result.output
    assert store.is_file()
    given = CliRunner().invoke(main, ["run", "--serial", "host", "--binary", str(host_binary), "--model", str(model),
                                      "--db", str(tmp_path / "r.db"), "--json"])
    assert given.exit_code == 0 and f"Stored 1 result(s) in {tmp_path / 'r.db'}." in given.output


def test_a_relative_binary_path_is_run_from_the_working_folder(host_binary, make_model, tmp_path, monkeypatch):
    """`--binary benchmark_model` (as Path makes of `./benchmark_model`) was looked up on $PATH."""
    monkeypatch.chdir(host_binary.parent)
    result = CliRunner().invoke(main, ["run", "--serial", "host", "--binary", f"./{host_binary.name}", "--model",
                                       str(make_model("m.tflite")), "--db", str(tmp_path / "r.db"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["avg_us"] == 31987.4


def test_report_refuses_to_write_over_its_store(tmp_path, host_binary, make_model):
    db = tmp_path / "r.db"
    CliRunner().invoke(main, ["run", "--serial", "host", "--binary", str(host_binary), "--model",
                              str(make_model("m.tflite")), "--db", str(db)])
    before = db.read_bytes()
    same = str(tmp_path / "x")
    for args in (["--csv", str(db)], ["--json", str(db)], ["--csv", same, "--json", same]):
        result = CliRunner().invoke(main, ["report", "--db", str(db), *args])
        assert result.exit_code == 2, result.output
        assert "is also the command's input (--db" in result.output or "is also the output of --csv" in result.output
    assert db.read_bytes() == before and not (tmp_path / "x").exists()
