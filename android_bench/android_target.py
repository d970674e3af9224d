"""Run ``benchmark_model`` on an Android phone over adb."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from android_bench.adb import Adb
from android_bench.adb import AdbError
from android_bench.adb import DeviceDisconnectedError
from android_bench.device import cur_freq_command
from android_bench.device import parse_cur_freqs
from android_bench.device import probe_device
from android_bench.options import BenchmarkOptions
from android_bench.output_parser import BenchmarkOutput
from android_bench.output_parser import parse_benchmark_output
from android_bench.target import BenchmarkFailedError
from android_bench.target import sha256_file

logger = logging.getLogger(__name__)

REMOTE_DIR = "/data/local/tmp"


class AndroidTarget:
    """A phone reached with ``adb -s serial``; the user supplies the ``benchmark_model`` binary.

    Args:
        adb: adb wrapper.
        serial: device serial as listed by ``adb devices``.
        binary: local path of an Android ``benchmark_model`` build (never downloaded).
    """

    kind = "android"

    def __init__(self, adb: Adb, serial: str, binary: str | Path):
        self.adb = adb
        self.serial = serial
        self.binary = Path(binary)
        if not self.binary.is_file():
            raise FileNotFoundError(f"benchmark_model binary not found: {self.binary}")
        attached = {device.serial: device.state for device in adb.devices()}
        if attached.get(serial) != "device":
            listing = ", ".join(f"{name} ({state})" for name, state in attached.items()) or "none"
            state = f"is '{attached[serial]}'" if serial in attached else "is not attached"
            raise DeviceDisconnectedError(
                f"Device {serial!r} {state}. Attached devices: {listing}.", args=[], returncode=1
            )
        self.device = probe_device(adb, serial)
        self.tool_version = f"sha256:{sha256_file(self.binary)}"
        self.remote_binary = f"{REMOTE_DIR}/{self.binary.name}"

    def default_taskset(self) -> str | None:
        mask = self.device.cpu.big_mask
        if not mask:
            logger.warning("core layout of %s unknown; running without taskset", self.serial)
        return mask or None

    def setup(self, options: BenchmarkOptions) -> None:
        self.adb.push(self.serial, self.binary, self.remote_binary)
        self.adb.shell(self.serial, f"chmod 755 {shlex.quote(self.remote_binary)}")

    def command(self, remote_model: str, options: BenchmarkOptions, taskset: str | None) -> str:
        """The exact shell command run on the device."""
        argv = (["taskset", taskset] if taskset else []) + [self.remote_binary, f"--graph={remote_model}"]
        return shlex.join(argv + options.flags())

    def run_model(self, model: Path, options: BenchmarkOptions, taskset: str | None) -> tuple[BenchmarkOutput, str]:
        remote_model = f"{REMOTE_DIR}/{model.name}"
        self.adb.push(self.serial, model, remote_model)
        try:
            result = self.adb.shell(self.serial, self.command(remote_model, options, taskset), check=False)
        finally:
            self._remove(remote_model)
        raw = result.stdout + ("\n" + result.stderr if result.stderr else "")
        output = parse_benchmark_output(raw)
        if result.returncode != 0:
            if self.adb.get_state(self.serial) != "device":
                raise DeviceDisconnectedError(
                    f"device {self.serial} disconnected while benchmarking {model.name}",
                    args=[], returncode=result.returncode, stdout=result.stdout, stderr=result.stderr,
                )
            detail = "; ".join(output.errors) if output.errors else (raw.strip().splitlines() or ["no output"])[-1]
            raise BenchmarkFailedError(f"benchmark_model exited with {result.returncode}: {detail}", raw)
        if not output.has_timings:
            detail = "; ".join(output.errors) if output.errors else "no inference timings in the output"
            raise BenchmarkFailedError(f"benchmark_model gave no result for {model.name}: {detail}", raw)
        return output, raw

    def cpu_freqs_khz(self, cores: list[int]) -> dict[int, int]:
        """Current frequency (kHz) of `cores` from sysfs over adb; cores the device does not expose are left out."""
        if not cores:
            return {}
        return parse_cur_freqs(self.adb.shell(self.serial, cur_freq_command(cores), check=False).stdout)

    def _remove(self, remote_path: str) -> None:
        try:
            self.adb.shell(self.serial, f"rm -f {shlex.quote(remote_path)}", check=False)
        except AdbError as exc:
            logger.warning("could not remove %s from %s: %s", remote_path, self.serial, exc)

    def teardown(self) -> None:
        self._remove(self.remote_binary)
