"""Fixtures for android_bench: a fake ``adb`` first on PATH and small TFLite-looking files."""

import os
from pathlib import Path

import pytest
from bench_fakes import HERE
from bench_fakes import TFLITE_HEADER
from bench_fakes import FakeAdb
from bench_fakes import write_executable


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


@pytest.fixture
def make_model(tmp_path):
    """Write a small file with a TFLite header; distinct ``payload`` gives a distinct sha256."""

    def make(name: str, payload: bytes = b"") -> Path:
        path = tmp_path / "models" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(TFLITE_HEADER + (payload or name.encode()) + b"\x00" * 32)
        return path

    return make
