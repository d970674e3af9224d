"""Fixtures for android_bench: a fake ``adb`` first on PATH and small TFLite-looking files."""

from pathlib import Path

import pytest
from bench_fakes import TFLITE_HEADER
from bench_fakes import android_binary  # noqa: F401 (fixture)
from bench_fakes import fake_adb  # noqa: F401 (fixture)


@pytest.fixture
def make_model(tmp_path):
    """Write a small file with a TFLite header; distinct ``payload`` gives a distinct sha256."""

    def make(name: str, payload: bytes = b"") -> Path:
        path = tmp_path / "models" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(TFLITE_HEADER + (payload or name.encode()) + b"\x00" * 32)
        return path

    return make
