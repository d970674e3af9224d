"""The one place that talks to the ``adb`` executable."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)

ADB_ENV_VAR = "ADB"

# adb messages that mean the device is gone (unplugged, rebooting, revoked authorisation).
_DISCONNECT_PATTERNS = (
    re.compile(r"device '[^']*' not found"),
    re.compile(r"no devices/emulators found"),
    re.compile(r"device offline"),
    re.compile(r"device unauthorized"),
    re.compile(r"device still authorizing"),
    re.compile(r"^error: closed$", re.MULTILINE),
    re.compile(r"protocol fault"),
)


class AdbError(RuntimeError):
    """An adb command failed; carries the command, exit code and output."""

    def __init__(self, message: str, *, args: list[str], returncode: int, stdout: str = "", stderr: str = ""):
        super().__init__(message)
        self.cmd = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class DeviceDisconnectedError(AdbError):
    """adb reports that the device is no longer reachable."""


@dataclasses.dataclass(frozen=True)
class AdbDevice:
    """One row of ``adb devices -l``."""

    serial: str
    state: str
    properties: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ShellResult:
    """Output of ``adb shell``; ``returncode`` is the remote exit code on adb >= 1.0.36 (shell protocol v2)."""

    returncode: int
    stdout: str
    stderr: str


def find_adb() -> str:
    """Return the adb executable: ``$ADB`` if set, else ``adb`` on PATH."""
    explicit = os.environ.get(ADB_ENV_VAR)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise FileNotFoundError(f"${ADB_ENV_VAR}={explicit!r} is not an executable file.")
        return explicit
    found = shutil.which("adb")
    if found is None:
        raise FileNotFoundError(
            "adb not found on PATH. Install Android platform-tools or set $ADB to the adb executable."
        )
    return found


def is_disconnect_message(text: str) -> bool:
    """True if adb's output says the device went away."""
    return any(pattern.search(text) for pattern in _DISCONNECT_PATTERNS)


def parse_devices_output(text: str) -> list[AdbDevice]:
    """Parse ``adb devices -l`` output into rows (daemon start-up chatter is ignored)."""
    devices = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("List of devices") or line.startswith("*"):
            continue
        fields = line.split()
        if len(fields) < 2:
            continue
        serial, state = fields[0], fields[1]
        properties = dict(field.split(":", 1) for field in fields[2:] if ":" in field)
        # "no permissions (user ... not in the plugdev group); see [...]" spans several words.
        if state == "no" and len(fields) > 2 and fields[2] == "permissions":
            state = "no permissions"
        devices.append(AdbDevice(serial=serial, state=state, properties=properties))
    return devices


class Adb:
    """Thin wrapper over the adb executable (``$ADB`` or ``adb`` on PATH).

    Args:
        executable: Path to adb; found with :func:`find_adb` when omitted.
        timeout: Seconds before a single adb call is abandoned.
    """

    def __init__(self, executable: str | None = None, timeout: float = 1800.0):
        self.executable = executable or find_adb()
        self.timeout = timeout

    def _run(self, args: list[str], serial: str | None) -> subprocess.CompletedProcess:
        cmd = [self.executable] + (["-s", serial] if serial else []) + args
        logger.debug("adb: %s", cmd)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise AdbError(f"adb timed out after {self.timeout:g}s: {' '.join(cmd)}", args=cmd, returncode=-1) from exc
        if proc.returncode != 0 and is_disconnect_message(proc.stderr + proc.stdout):
            message = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1]
            raise DeviceDisconnectedError(
                f"device {serial or '(default)'} disconnected: {message}",
                args=cmd, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
            )
        return proc

    def devices(self) -> list[AdbDevice]:
        """List attached devices (``adb devices -l``)."""
        proc = self._run(["devices", "-l"], serial=None)
        if proc.returncode != 0:
            raise AdbError(f"adb devices failed: {proc.stderr.strip()}", args=proc.args, returncode=proc.returncode,
                           stdout=proc.stdout, stderr=proc.stderr)
        return parse_devices_output(proc.stdout)

    def shell(self, serial: str, command: str, check: bool = True) -> ShellResult:
        """Run ``command`` (one shell string, quoted by the caller) with ``adb -s serial shell``.

        Raises:
            DeviceDisconnectedError: adb says the device is gone.
            AdbError: non-zero exit and ``check`` is true.
        """
        proc = self._run(["shell", command], serial=serial)
        result = ShellResult(proc.returncode, proc.stdout.replace("\r\n", "\n"), proc.stderr.replace("\r\n", "\n"))
        if check and proc.returncode != 0:
            raise AdbError(
                f"adb -s {serial} shell {command!r} exited with {proc.returncode}: "
                f"{(result.stderr.strip() or result.stdout.strip())[-500:]}",
                args=proc.args, returncode=proc.returncode, stdout=result.stdout, stderr=result.stderr,
            )
        return result

    def push(self, serial: str, local: str | Path, remote: str) -> None:
        """Copy ``local`` to ``remote`` on the device (``adb -s serial push``)."""
        proc = self._run(["push", str(local), remote], serial=serial)
        if proc.returncode != 0:
            raise AdbError(
                f"adb -s {serial} push {local} {remote} failed: {(proc.stderr.strip() or proc.stdout.strip())}",
                args=proc.args, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
            )

    def get_state(self, serial: str) -> str:
        """Return ``adb get-state`` for the device ('device', 'offline', ...) or 'missing'."""
        try:
            proc = self._run(["get-state"], serial=serial)
        except DeviceDisconnectedError:
            return "missing"
        return proc.stdout.strip() if proc.returncode == 0 else "missing"
