"""Test doubles for android_bench: the fake adb handle, device serials, file helpers and the `fake_adb` /
`android_binary` fixtures (shared by the tests of `android_bench` and of `tools.lut`)."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TRANSCRIPTS = HERE / "transcripts"
NOTE8 = "ce0717171234567890"
PIXEL2 = "HT7A11A01234"
PIXEL1 = "FA6AR0301234"
# A TFLite flatbuffer starts with a 4-byte root offset followed by the "TFL3" identifier.
TFLITE_HEADER = b"\x1c\x00\x00\x00TFL3"


def write_executable(path: Path, source: str) -> Path:
    path.write_text(f"#!{sys.executable} -IS\n{source}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class FakeAdb:
    """Handle on the fake adb's scenario, command log and per-device file system."""

    def __init__(self, state: Path):
        self.state = state
        self.scenario = {
            "transcripts": str(TRANSCRIPTS),
            "devices": "devices_l.txt",
            "serials": {
                NOTE8: {"getprop": "getprop_note8.txt", "cpufreq": "cpufreq_note8.txt"},
                PIXEL2: {"getprop": "getprop_pixel2.txt", "cpufreq": "cpufreq_pixel2.txt"},
                PIXEL1: {"getprop": "getprop_pixel1.txt", "cpufreq": "cpufreq_pixel1_denied.txt"},
            },
            "bench": {"*": {"file": "bench_current_percentiles.txt", "stream": "stderr"}},
        }
        self.save()

    def save(self) -> None:
        (self.state / "scenario.json").write_text(json.dumps(self.scenario))

    def set_bench(self, model_name: str, transcript: str, stream: str = "stderr", exit_code: int = 0) -> None:
        self.scenario["bench"][model_name] = {"file": transcript, "stream": stream, "exit": exit_code}
        self.save()

    def set_bench_sequence(self, model_name: str, transcripts: list[str], stream: str = "stderr") -> None:
        """`model_name` answers with these transcripts in turn (one per run; the last one repeats)."""
        self.scenario.setdefault("bench_sequence", {})[model_name] = [
            {"file": t, "stream": stream, "exit": 0} for t in transcripts]
        (self.state / f"calls_{model_name}").unlink(missing_ok=True)
        self.save()

    def set_cur_freqs(self, serial: str, readings: list[dict[int, int]]) -> None:
        """`serial`'s `scaling_cur_freq` files read these kHz in turn ({core: kHz}; the last reading repeats);
        without readings they are unreadable."""
        self.scenario.setdefault("cur_freq", {})[serial] = [{str(c): khz for c, khz in r.items()} for r in readings]
        (self.state / f"calls_cur_freq_{serial}").unlink(missing_ok=True)
        self.save()

    def disconnect_on(self, model_name: str | None) -> None:
        self.scenario["disconnect_on"] = model_name
        self.save()

    def disconnect_on_push(self, model_name: str | None) -> None:
        self.scenario["disconnect_on_push"] = model_name
        self.save()

    def reconnect(self, serial: str) -> None:
        (self.state / f"disconnected_{serial}").unlink(missing_ok=True)

    def calls(self) -> list[list[str]]:
        log = self.state / "log.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def shell_commands(self, serial: str) -> list[str]:
        return [call[3] for call in self.calls() if call[:3] == ["-s", serial, "shell"]]

    def device_files(self, serial: str) -> list[str]:
        root = self.state / "fs" / serial
        return sorted("/" + str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def clear_log(self) -> None:
        (self.state / "log.jsonl").unlink(missing_ok=True)


@pytest.fixture
def fake_adb(tmp_path, monkeypatch) -> FakeAdb:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "adb", (HERE / "fake_adb.py").read_text())
    state = tmp_path / "adb_state"
    state.mkdir()
    monkeypatch.setenv("FAKE_ADB_STATE", str(state))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("ADB", raising=False)
    return FakeAdb(state)


@pytest.fixture
def android_binary(tmp_path) -> Path:
    """Stands in for an arm64 benchmark_model build (only pushed, never executed here)."""
    path = tmp_path / "benchmark_model"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56)
    return path
