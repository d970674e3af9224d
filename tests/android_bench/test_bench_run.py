"""`run` on phones through the fake adb: exact commands, parsing into the store, failures and resume."""

import json

import pytest
from bench_fakes import NOTE8
from bench_fakes import PIXEL1
from bench_fakes import PIXEL2
from click.testing import CliRunner

from android_bench import BenchmarkOptions
from android_bench import ResultStore
from android_bench import SessionInterruptedError
from android_bench import benchmark
from android_bench.cli import EXIT_INTERRUPTED
from android_bench.cli import main
from android_bench.device import PROBE_COMMAND
from android_bench.session import NothingToResumeError
from android_bench.target import sha256_file

BASE_FLAGS = "--num_threads=1 --warmup_runs=10 --num_runs=50 --min_secs=0 --warmup_min_secs=0 --use_xnnpack=false"


def test_run_pushes_runs_and_cleans_up_with_exact_commands(fake_adb, android_binary, make_model, tmp_path):
    a, b = make_model("model_a.tflite"), make_model("model b.tflite")
    fake_adb.set_bench("model b.tflite", "bench_no_percentiles.txt", stream="stdout")
    results = benchmark([a, b], NOTE8, binary=android_binary, db=tmp_path / "r.sqlite")

    assert fake_adb.calls() == [
        ["devices", "-l"],
        ["-s", NOTE8, "shell", PROBE_COMMAND],
        ["-s", NOTE8, "push", str(android_binary), "/data/local/tmp/benchmark_model"],
        ["-s", NOTE8, "shell", "chmod 755 /data/local/tmp/benchmark_model"],
        ["-s", NOTE8, "push", str(a), "/data/local/tmp/model_a.tflite"],
        ["-s", NOTE8, "shell",
         f"taskset f0 /data/local/tmp/benchmark_model --graph=/data/local/tmp/model_a.tflite {BASE_FLAGS}"],
        ["-s", NOTE8, "shell", "rm -f /data/local/tmp/model_a.tflite"],
        ["-s", NOTE8, "push", str(b), "/data/local/tmp/model b.tflite"],
        ["-s", NOTE8, "shell",
         f"taskset f0 /data/local/tmp/benchmark_model '--graph=/data/local/tmp/model b.tflite' {BASE_FLAGS}"],
        ["-s", NOTE8, "shell", "rm -f '/data/local/tmp/model b.tflite'"],
        ["-s", NOTE8, "shell", "rm -f /data/local/tmp/benchmark_model"],
    ]
    assert fake_adb.device_files(NOTE8) == []
    assert [r.status for r in results] == ["ok", "ok"]
    first, second = results
    assert (first.avg_us, first.p50_us, first.p95_us, first.peak_memory_mb) == (31987.4, 31839, 33215, 39.7109)
    assert (second.avg_us, second.p50_us, second.std_us, second.peak_memory_mb) == (15217.8, None, 298, 44.2305)
    assert first.device == "SM-N950F" and first.serial == NOTE8
    assert first.device_fingerprint.startswith("samsung/greatltexx/greatlte:9/")
    assert first.model_sha256 == sha256_file(a) and second.model_sha256 == sha256_file(b)
    assert first.flags == f"{BASE_FLAGS} taskset=f0"
    assert first.tool_version == f"sha256:{sha256_file(android_binary)}"
    with ResultStore(tmp_path / "r.sqlite") as store:
        stored = store.results()
        assert [(r.model_sha256, r.avg_us) for r in stored] == [(first.model_sha256, 31987.4), (second.model_sha256, 15217.8)]
        assert "Inference timings in us" in stored[0].raw_output
        assert store.session(first.session_id).status == "complete"


def test_explicit_taskset_and_delegate_reach_the_device(fake_adb, android_binary, make_model):
    options = BenchmarkOptions(threads=4, delegate="gpu", warmup=3, runs=20, taskset="0x30")
    benchmark([make_model("m.tflite")], PIXEL2, binary=android_binary, options=options, db=None)
    assert fake_adb.shell_commands(PIXEL2)[2] == (
        "taskset 30 /data/local/tmp/benchmark_model --graph=/data/local/tmp/m.tflite --num_threads=4 --warmup_runs=3 "
        "--num_runs=20 --min_secs=0 --warmup_min_secs=0 --use_gpu=true"
    )


@pytest.mark.parametrize(
    "options, expected_flags",
    [
        (BenchmarkOptions(), BASE_FLAGS),
        (BenchmarkOptions(threads=2, delegate="xnnpack", warmup=0, runs=5),
         "--num_threads=2 --warmup_runs=0 --num_runs=5 --min_secs=0 --warmup_min_secs=0 --use_xnnpack=true"),
        (BenchmarkOptions(delegate="nnapi", op_profiling=True, peak_memory=True),
         "--num_threads=1 --warmup_runs=10 --num_runs=50 --min_secs=0 --warmup_min_secs=0 --use_nnapi=true "
         "--enable_op_profiling=true --report_peak_memory_footprint=true"),
    ],
)
def test_benchmark_model_flags(options, expected_flags):
    assert " ".join(options.flags()) == expected_flags


def test_taskset_none_runs_unpinned(fake_adb, android_binary, make_model):
    [result] = benchmark([make_model("m.tflite")], PIXEL2, binary=android_binary, db=None,
                         options=BenchmarkOptions(taskset="none"))
    assert fake_adb.shell_commands(PIXEL2)[2].startswith("/data/local/tmp/benchmark_model --graph=")
    assert result.flags.endswith("taskset=none")


def test_op_profile_is_stored(fake_adb, android_binary, make_model, tmp_path):
    fake_adb.set_bench("m.tflite", "bench_op_profiling.txt")
    options = BenchmarkOptions(op_profiling=True)
    [result] = benchmark([make_model("m.tflite")], NOTE8, binary=android_binary, options=options, db=tmp_path / "r.db")
    with ResultStore(tmp_path / "r.db") as store:
        [stored] = store.results()
    assert stored.op_profile_ms == result.op_profile_ms
    assert stored.op_profile_ms["CONV_2D"] == 21.405 and stored.op_profile_ms["LOGISTIC"] == 0.131
    report = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "r.db"), "--ops"]).output.splitlines()
    ops_header = report.index(next(line for line in report if line.startswith("op type")))
    assert report[ops_header].split() == ["op", "type", f"m.tflite#{stored.id}"]
    assert report[ops_header + 1].split() == ["CONV_2D", "21.405"]
    assert report[-1].split() == ["LOGISTIC", "0.131"]


def test_default_taskset_from_profile_when_sysfs_is_unreadable(fake_adb, android_binary, make_model):
    [result] = benchmark([make_model("m.tflite")], PIXEL1, binary=android_binary, db=None)
    assert result.flags.endswith("taskset=c")
    assert any(cmd.startswith("taskset c /data/local/tmp/benchmark_model") for cmd in fake_adb.shell_commands(PIXEL1))


def test_failing_model_is_recorded_and_the_rest_still_runs(fake_adb, android_binary, make_model, tmp_path):
    fake_adb.set_bench("broken.tflite", "bench_error.txt", exit_code=1)
    models = [make_model("broken.tflite"), make_model("ok.tflite")]
    results = benchmark(models, NOTE8, binary=android_binary, db=tmp_path / "r.db")
    assert [r.status for r in results] == ["failed", "ok"]
    assert "BROADCAST_TO" in results[0].error and results[0].avg_us is None
    assert "Registration failed" in results[0].raw_output
    assert fake_adb.device_files(NOTE8) == []
    with ResultStore(tmp_path / "r.db") as store:
        assert store.session(results[0].session_id).status == "incomplete"
    # The failed model is retried by --resume; the measured one is not.
    fake_adb.set_bench("broken.tflite", "bench_old_average.txt")
    fake_adb.clear_log()
    retried = benchmark(models, NOTE8, binary=android_binary, db=tmp_path / "r.db", resume=True)
    assert [r.status for r in retried] == ["ok", "ok"] and retried[1].id == results[1].id
    pushed = [call[3] for call in fake_adb.calls() if call[2:3] == ["push"]]
    assert pushed == [str(android_binary), str(models[0])]


def test_disconnect_mid_run_keeps_finished_results_and_resume_finishes(fake_adb, android_binary, make_model, tmp_path):
    db = tmp_path / "r.db"
    models = [make_model("model_a.tflite"), make_model("model_b.tflite"), make_model("model_c.tflite")]
    fake_adb.disconnect_on("model_b.tflite")
    with pytest.raises(SessionInterruptedError, match="--resume") as info:
        benchmark(models, NOTE8, binary=android_binary, db=db)
    assert [(r.model_path, r.status) for r in info.value.results] == [(str(models[0]), "ok"), (str(models[1]), "failed")]
    with ResultStore(db) as store:
        stored = store.results()
        assert [r.status for r in stored] == ["ok", "failed"]
        assert "count=10 first=40881" in stored[1].raw_output  # the partial output is kept
        assert store.session(info.value.session_id).status == "interrupted"
    assert not any("model_c" in " ".join(call) for call in fake_adb.calls())

    fake_adb.reconnect(NOTE8)
    fake_adb.disconnect_on(None)
    fake_adb.clear_log()
    resumed = benchmark(models, NOTE8, binary=android_binary, db=db, resume=True)
    assert [r.status for r in resumed] == ["ok", "ok", "ok"]
    assert resumed[0].id == info.value.results[0].id  # not re-measured
    runs = [cmd for cmd in fake_adb.shell_commands(NOTE8) if "--graph=" in cmd]
    assert [cmd.split("--graph=")[1].split()[0] for cmd in runs] == [
        "/data/local/tmp/model_b.tflite", "/data/local/tmp/model_c.tflite"]
    assert fake_adb.device_files(NOTE8) == []
    with ResultStore(db) as store:
        assert store.session(info.value.session_id).status == "complete"
        assert [r.status for r in store.results(session_id=info.value.session_id)] == ["ok", "failed", "ok", "ok"]


def test_disconnect_reported_by_adb_during_push(fake_adb, android_binary, make_model, tmp_path):
    fake_adb.disconnect_on_push("model_b.tflite")
    models = [make_model("model_a.tflite"), make_model("model_b.tflite")]
    with pytest.raises(SessionInterruptedError) as info:
        benchmark(models, NOTE8, binary=android_binary, db=tmp_path / "r.db")
    assert "not found" in str(info.value)
    assert [r.status for r in info.value.results] == ["ok", "failed"]


def test_resume_without_interrupted_session_is_an_error(fake_adb, android_binary, make_model):
    with pytest.raises(NothingToResumeError, match=NOTE8):
        benchmark([make_model("m.tflite")], NOTE8, binary=android_binary, db=None, resume=True)


def test_cli_run_json_lines_and_interrupted_exit_code(fake_adb, android_binary, make_model, tmp_path):
    db = str(tmp_path / "r.db")
    a, b = make_model("model_a.tflite"), make_model("model_b.tflite")
    fake_adb.disconnect_on("model_b.tflite")
    args = ["run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(a), str(b), "--json", "--db", db]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_INTERRUPTED
    assert "--resume" in result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["status"] for line in lines] == ["ok", "failed"]
    required = {"init_us", "first_us", "warmup_avg_us", "avg_us", "std_us", "min_us", "max_us", "p50_us", "p95_us",
                "peak_memory_mb", "device", "model_sha256"}
    assert required <= set(lines[0])
    assert (lines[0]["init_us"], lines[0]["p95_us"], lines[0]["device"]) == (38512, 33215, "SM-N950F")
    assert lines[1]["avg_us"] is None

    fake_adb.reconnect(NOTE8)
    fake_adb.disconnect_on(None)
    # Without --model, --resume finishes the interrupted session's own model list.
    no_models = ["run", "--serial", NOTE8, "--binary", str(android_binary), "--json", "--db", db, "--resume"]
    resumed = CliRunner().invoke(main, no_models)
    assert resumed.exit_code == 0, resumed.output
    lines = [json.loads(line) for line in resumed.output.splitlines() if line.startswith("{")]
    assert [(line["model_path"], line["status"]) for line in lines] == [(str(b), "ok")]


def test_disconnect_while_pushing_the_binary(fake_adb, android_binary, make_model, tmp_path):
    fake_adb.disconnect_on_push("benchmark_model")
    with pytest.raises(SessionInterruptedError, match="Nothing was measured") as info:
        benchmark([make_model("m.tflite")], NOTE8, binary=android_binary, db=tmp_path / "r.db")
    with ResultStore(tmp_path / "r.db") as store:
        assert store.session(info.value.session_id).status == "interrupted"
