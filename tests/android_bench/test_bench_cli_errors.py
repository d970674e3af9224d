"""Bad input is rejected before anything runs, with the bad value and the allowed ones named."""

import pytest
from bench_fakes import NOTE8
from click.testing import CliRunner

from android_bench import BenchmarkOptions
from android_bench.cli import main
from android_bench.options import parse_taskset_mask


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_unknown_delegate_names_value_and_choices(make_model, android_binary):
    result = invoke("run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(make_model("m.tflite")),
                    "--delegate", "tpu")
    assert result.exit_code == 2
    assert "'tpu'" in result.output and all(d in result.output for d in ("cpu", "xnnpack", "gpu", "nnapi"))


def test_unknown_delegate_in_python_api():
    with pytest.raises(ValueError, match=r"Unknown delegate 'hexagon': expected one of cpu, xnnpack, gpu, nnapi"):
        BenchmarkOptions(delegate="hexagon")


def test_missing_model_file_is_named(fake_adb, android_binary, tmp_path):
    missing = tmp_path / "nope.tflite"
    result = invoke("run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(missing),
                    "--db", str(tmp_path / "r.db"))
    assert result.exit_code == 1
    assert f"Model file not found: {missing}" in result.output
    assert fake_adb.calls() == []  # nothing was sent to the device


def test_file_that_is_not_tflite_is_named(fake_adb, android_binary, tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"\x08\x07\x12\x04onnx" + b"\x00" * 16)
    result = invoke("run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(bogus),
                    "--db", str(tmp_path / "r.db"))
    assert result.exit_code == 1 and "Not a TFLite model" in result.output and str(bogus) in result.output


@pytest.mark.parametrize("mask", ["zz", "0x", "f0g", "0", ""])
def test_bad_taskset_mask_is_named(mask, make_model, android_binary):
    result = invoke("run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(make_model("m.tflite")),
                    "--taskset", mask)
    assert result.exit_code == 2
    assert f"{mask!r}" in result.output and "hexadecimal" in result.output


def test_taskset_mask_beyond_the_device_cores(fake_adb, make_model, android_binary, tmp_path):
    result = invoke("run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(make_model("m.tflite")),
                    "--taskset", "f00", "--db", str(tmp_path / "r.db"))
    assert result.exit_code == 1
    assert "'f00'" in result.output and "8 cores" in result.output and "within ff" in result.output
    assert not any(call[2:3] == ["push"] for call in fake_adb.calls())


def test_taskset_mask_normalisation():
    assert parse_taskset_mask("0xF0") == "f0" and parse_taskset_mask("0c", num_cores=4) == "c"


@pytest.mark.parametrize("kwargs, message", [
    ({"threads": 0}, "threads=0"), ({"runs": 0}, "runs=0"), ({"warmup": -1}, "warmup=-1"),
    ({"extra_flags": ("--graph=/x",)}, "'--graph=/x'"),
])
def test_bad_numbers_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BenchmarkOptions(**kwargs)


def test_phone_needs_a_binary(make_model, tmp_path):
    result = invoke("run", "--serial", NOTE8, "--model", str(make_model("m.tflite")), "--db", str(tmp_path / "r.db"))
    assert result.exit_code == 1 and "--binary" in result.output and NOTE8 in result.output


def test_missing_binary_file_is_named(make_model, tmp_path):
    result = invoke("run", "--serial", NOTE8, "--binary", str(tmp_path / "bm"), "--model", str(make_model("m.tflite")),
                    "--db", str(tmp_path / "r.db"))
    assert result.exit_code == 1 and f"benchmark_model binary not found: {tmp_path / 'bm'}" in result.output


def test_unknown_or_unauthorized_serial_lists_attached_devices(fake_adb, make_model, android_binary, tmp_path):
    model = str(make_model("m.tflite"))
    for serial, state in (("BOGUS123", "is not attached"), ("R58M12ABCDE", "is 'unauthorized'")):
        result = invoke("run", "--serial", serial, "--binary", str(android_binary), "--model", model,
                        "--db", str(tmp_path / "r.db"))
        assert result.exit_code == 1
        assert f"Device {serial!r} {state}" in result.output and f"{NOTE8} (device)" in result.output


def test_model_is_required_unless_resuming():
    result = invoke("run", "--serial", "host")
    assert result.exit_code == 2 and "--model" in result.output


def test_adb_missing_from_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("ADB", raising=False)
    result = invoke("devices")
    assert result.exit_code == 1 and "adb not found on PATH" in result.output


def _tree(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_report_on_a_missing_store_creates_nothing(tmp_path):
    result = invoke("report", "--db", str(tmp_path / "typo.sqlite"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: No results store at {tmp_path / 'typo.sqlite'}: check --db "
                                                  "(stores are created by `run` and `lut`)."]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("payload", [b"", b"not a database at all" * 20, b"SQLite format 3\x00" + b"\x00" * 10])
def test_report_on_a_file_that_is_not_a_store(tmp_path, payload):
    db = tmp_path / "results.sqlite"
    db.write_bytes(payload)
    result = invoke("report", "--db", str(db))
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert str(db) in result.output and ("not an android_bench results store" in result.output)
    assert _tree(tmp_path) == {db: payload}


def test_run_into_a_file_that_is_not_a_store(tmp_path, make_model, fake_adb, android_binary):
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"garbage" * 100)
    result = invoke("run", "--serial", NOTE8, "--binary", str(android_binary), "--model", str(make_model("m.tflite")),
                    "--db", str(db))
    assert result.exit_code == 1 and "not an android_bench results store" in result.output
    assert db.read_bytes() == b"garbage" * 100 and fake_adb.calls() == []


def test_report_csv_into_a_read_only_folder_is_refused_first(tmp_path, read_only_dir):
    from android_bench.store import ResultStore

    ResultStore(tmp_path / "r.sqlite").close()
    result = invoke("report", "--db", str(tmp_path / "r.sqlite"), "--csv", str(read_only_dir / "out.csv"))
    assert result.exit_code == 2 and "read-only" in result.output and not (read_only_dir / "out.csv").exists()
