"""What every benchmark target provides, and the errors a run can end with."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from android_bench.device import DeviceInfo
from android_bench.options import NO_TASKSET
from android_bench.options import BenchmarkOptions
from android_bench.options import parse_taskset_mask
from android_bench.output_parser import BenchmarkOutput


class BenchmarkFailedError(RuntimeError):
    """One model could not be measured (tool error, unparsable output); the device is still there."""

    def __init__(self, message: str, raw_output: str = ""):
        super().__init__(message)
        self.raw_output = raw_output


class Target(Protocol):
    """A device plus the tool that measures models on it."""

    kind: str
    device: DeviceInfo
    tool_version: str

    def default_taskset(self) -> str | None:
        """Mask used when the options name none (None: run unpinned)."""

    def setup(self, options: BenchmarkOptions) -> None:
        """Prepare the tool (push binary, check delegate support)."""

    def run_model(self, model: Path, options: BenchmarkOptions, taskset: str | None) -> tuple[BenchmarkOutput, str]:
        """Measure one model; return parsed figures and the raw output.

        Raises:
            BenchmarkFailedError: this model failed, the next one may still run.
            DeviceDisconnectedError: the device is gone.
        """

    def teardown(self) -> None:
        """Remove what ``setup`` installed; never raises for a missing device."""

    def cpu_freqs_khz(self, cores: list[int]) -> dict[int, int]:
        """Current frequency (kHz) of `cores`, those the device exposes (optional: `android_bench.rounds` reads it
        before and after each round of a repeated measurement)."""


def resolve_taskset(target: Target, options: BenchmarkOptions) -> str | None:
    """The mask a run uses: the explicit one (checked against the core count), none, or the target's default."""
    if options.taskset == NO_TASKSET:
        return None
    if options.taskset is None:
        return target.default_taskset()
    return parse_taskset_mask(options.taskset, target.device.cpu.num_cores or None)


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
