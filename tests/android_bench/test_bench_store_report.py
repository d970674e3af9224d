"""The results store and the `report` command (table, CSV, JSON)."""

import csv
import json

from click.testing import CliRunner

from android_bench.cli import main
from android_bench.result import Result
from android_bench.store import ResultStore


def make_result(session_id, sha, status="ok", avg=1500.0, **extra):
    return Result(
        session_id=session_id, target="android", serial="HT7A11A01234", device="Pixel 2",
        device_fingerprint="google/walleye/walleye:11/RP1A.201005.004.A1/6934943:user/release-keys",
        model_path=f"/m/{sha}.tflite", model_sha256=sha,
        flags="--num_threads=4 --warmup_runs=10 --num_runs=50 --min_secs=0 --warmup_min_secs=0 --use_gpu=true taskset=f0",
        tool_version="sha256:abc", status=status, avg_us=avg if status == "ok" else None, **extra,
    )


def fill(db):
    with ResultStore(db) as store:
        session = store.start_session(target="android", serial="HT7A11A01234", device_fingerprint="fp", flags="f",
                                      tool_version="sha256:abc", models=[{"path": "/m/a.tflite", "sha256": "a"}])
        store.add_result(make_result(session.session_id, "a" * 64, init_us=61274.0, p50_us=1400.0, p95_us=2100.6,
                                     peak_memory_mb=44.2305, op_profile_ms={"CONV_2D": 1.25}))
        store.add_result(make_result(session.session_id, "b" * 64, status="failed", error="benchmark_model exited with 1"))
    return session


def test_store_round_trip_and_resumable_session(tmp_path):
    db = tmp_path / "sub" / "r.sqlite"
    session = fill(db)
    with ResultStore(db) as store:
        ok, failed = store.results()
        assert (ok.avg_us, ok.p95_us, ok.op_profile_ms, ok.count) == (1500.0, 2100.6, {"CONV_2D": 1.25}, None)
        assert failed.status == "failed" and failed.avg_us is None
        assert [r.model_sha256 for r in store.results(status="ok")] == ["a" * 64]
        key = dict(device_fingerprint=ok.device_fingerprint, serial=ok.serial, flags=ok.flags, tool_version="sha256:abc")
        assert [r.id for r in store.results(model_sha256="a" * 64, **key)] == [ok.id]
        assert store.results(model_sha256="a" * 64, **{**key, "tool_version": "sha256:other"}) == []
        found = store.find_resumable_session(serial="HT7A11A01234", device_fingerprint="fp", flags="f",
                                             tool_version="sha256:abc")
        assert found.session_id == session.session_id and found.models == ({"path": "/m/a.tflite", "sha256": "a"},)
        assert store.find_resumable_session(serial="HT7A11A01234", device_fingerprint="fp", flags="other",
                                            tool_version="sha256:abc") is None
        store.set_session_status(session.session_id, "complete")
        assert store.find_resumable_session(serial="HT7A11A01234", device_fingerprint="fp", flags="f",
                                            tool_version="sha256:abc") is None


def test_report_table_csv_and_json(tmp_path):
    db = tmp_path / "r.sqlite"
    fill(db)
    csv_path, json_path = tmp_path / "out.csv", tmp_path / "out.json"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--csv", str(csv_path), "--json", str(json_path)])
    assert result.exit_code == 0, result.output
    header, ok_row, failed_row = result.output.splitlines()[:3]
    assert header.split()[:3] == ["device", "serial", "model"]
    assert "t4 gpu f0" in ok_row and "1.500" in ok_row and "2.101" in ok_row and "44.2" in ok_row
    assert "failed" in failed_row

    rows = list(csv.DictReader(csv_path.open()))
    assert [row["status"] for row in rows] == ["ok", "failed"]
    assert rows[0]["avg_us"] == "1500.0" and rows[0]["p95_us"] == "2100.6" and rows[1]["avg_us"] == ""
    assert json.loads(rows[0]["op_profile_ms"]) == {"CONV_2D": 1.25}

    records = json.loads(json_path.read_text())
    assert records[0]["model_sha256"] == "a" * 64 and records[0]["init_us"] == 61274.0
    assert records[1]["error"] == "benchmark_model exited with 1" and records[1]["avg_us"] is None
    assert "raw_output" not in records[0]

    only_failed = CliRunner().invoke(main, ["report", "--db", str(db), "--status", "failed"])
    assert len(only_failed.output.splitlines()) == 2


def test_report_on_empty_store(tmp_path):
    ResultStore(tmp_path / "r.sqlite").close()
    result = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 0 and "No results" in result.output
