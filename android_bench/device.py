"""Device identity and CPU core layout (big/little masks) from getprop and sysfs."""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import re
from pathlib import Path

from android_bench.adb import Adb
from android_bench.adb import AdbError
from android_bench.profiles import match_profile

logger = logging.getLogger(__name__)

HOST_SERIAL = "host"
CPU_FREQ_COMMAND = (
    "cat /sys/devices/system/cpu/possible; grep -H . /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq"
)
# One round trip: all properties, then the possible-CPU list and each core's max frequency (errors go to stderr).
PROBE_COMMAND = f"getprop; {CPU_FREQ_COMMAND}"
CUR_FREQ_PATH = "/sys/devices/system/cpu/cpu{}/cpufreq/scaling_cur_freq"
_CUR_FREQ_LINE = re.compile(r"/cpu(\d+)/cpufreq/scaling_cur_freq:(\d+)\s*$")
_GETPROP_LINE = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")
_FREQ_LINE = re.compile(r"/cpu(\d+)/cpufreq/cpuinfo_max_freq(?::(\d+)\s*$)?")
_CPU_RANGES = re.compile(r"^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$")


@dataclasses.dataclass(frozen=True)
class CpuLayout:
    """Max frequency (kHz) per core, cpu0 first; ``None`` where unknown."""

    core_max_freq_khz: tuple[int | None, ...]
    source: str

    @property
    def num_cores(self) -> int:
        return len(self.core_max_freq_khz)

    def clusters(self) -> list[tuple[int, list[int]]]:
        """(max kHz, cores) groups, slowest first."""
        groups: dict[int, list[int]] = {}
        for cpu, freq in enumerate(self.core_max_freq_khz):
            if freq is not None:
                groups.setdefault(freq, []).append(cpu)
        return sorted(groups.items())

    @property
    def little_cores(self) -> list[int]:
        """Cores of the slowest cluster; empty on a homogeneous CPU."""
        clusters = self.clusters()
        return clusters[0][1] if len(clusters) > 1 else []

    @property
    def big_cores(self) -> list[int]:
        """Every known core outside the slowest cluster (all known cores on a homogeneous CPU)."""
        little = set(self.little_cores)
        return [cpu for cpu, freq in enumerate(self.core_max_freq_khz) if freq is not None and cpu not in little]

    @property
    def big_mask(self) -> str:
        return cores_to_mask(self.big_cores)

    @property
    def little_mask(self) -> str:
        return cores_to_mask(self.little_cores)

    def describe(self) -> str:
        """E.g. ``4x1690MHz+4x2314MHz``."""
        parts = [f"{len(cpus)}x{freq // 1000}MHz" if freq else f"{len(cpus)} cores" for freq, cpus in self.clusters()]
        return "+".join(parts) or "unknown"


def cores_to_mask(cores: list[int]) -> str:
    """Hex affinity mask as ``taskset`` takes it, e.g. [4, 5, 6, 7] -> 'f0'; '' for no cores."""
    return format(sum(1 << cpu for cpu in cores), "x") if cores else ""


def parse_getprop(text: str) -> dict[str, str]:
    """Parse the ``[key]: [value]`` listing printed by ``getprop`` without arguments."""
    props = {}
    for line in text.splitlines():
        match = _GETPROP_LINE.match(line.strip())
        if match:
            props[match.group(1)] = match.group(2)
    return props


def parse_cpu_freqs(text: str) -> tuple[int | None, ...]:
    """Parse ``CPU_FREQ_COMMAND`` output: the ``possible`` range list, then ``grep -H`` lines.

    Cores that are possible but unreadable (offline, permission denied) become None.
    """
    freqs: dict[int, int | None] = {}
    num_cores = 0
    for line in text.splitlines():
        line = line.strip()
        if _CPU_RANGES.match(line):
            num_cores = max(int(part.split("-")[-1]) for part in line.split(",")) + 1
            continue
        match = _FREQ_LINE.search(line)
        if match:
            cpu = int(match.group(1))
            freqs[cpu] = int(match.group(2)) if match.group(2) else freqs.get(cpu)
    num_cores = max(num_cores, max(freqs, default=-1) + 1)
    return tuple(freqs.get(cpu) for cpu in range(num_cores))


def cur_freq_command(cores: list[int]) -> str:
    """Shell command printing ``path:kHz`` for each core's current frequency (unreadable cores: errors on stderr)."""
    return "grep -H . " + " ".join(CUR_FREQ_PATH.format(int(cpu)) for cpu in cores)


def parse_cur_freqs(text: str) -> dict[int, int]:
    """``cur_freq_command`` output -> {core: kHz}; cores that could not be read are left out."""
    freqs = {}
    for line in text.splitlines():
        match = _CUR_FREQ_LINE.search(line.strip())
        if match:
            freqs[int(match.group(1))] = int(match.group(2))
    return freqs


def host_cur_freqs(cores: list[int]) -> dict[int, int]:
    """This machine's current frequency (kHz) of `cores`, where sysfs exposes it (often not in containers/VMs)."""
    lines = []
    for cpu in cores:
        path = Path(CUR_FREQ_PATH.format(int(cpu)))
        try:
            lines.append(f"{path}:{path.read_text().strip()}")
        except OSError:
            continue
    return parse_cur_freqs("\n".join(lines))


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """What we know about one benchmark target."""

    serial: str
    model: str
    manufacturer: str
    soc: str
    abi: str
    android_version: str
    fingerprint: str
    cpu: CpuLayout
    profile: str | None = None

    @property
    def key(self) -> str:
        """Store key: build fingerprint + serial."""
        return f"{self.fingerprint}|{self.serial}"

    def to_dict(self) -> dict:
        return {
            "serial": self.serial, "model": self.model, "manufacturer": self.manufacturer, "soc": self.soc,
            "abi": self.abi, "android_version": self.android_version, "fingerprint": self.fingerprint,
            "profile": self.profile, "cores": self.cpu.describe(), "core_max_freq_khz": list(self.cpu.core_max_freq_khz),
            "big_mask": self.cpu.big_mask, "little_mask": self.cpu.little_mask, "cpu_source": self.cpu.source,
        }


def _soc_name(props: dict[str, str], profile_soc: str | None) -> str:
    """``ro.soc.model`` (Android 12+), else the profile's SoC with ``ro.board.platform``, else the platform id."""
    if props.get("ro.soc.model"):
        return " ".join(filter(None, (props.get("ro.soc.manufacturer"), props["ro.soc.model"])))
    platform_id = props.get("ro.board.platform") or props.get("ro.hardware") or ""
    if profile_soc:
        return f"{profile_soc} ({platform_id})" if platform_id else profile_soc
    return platform_id or "unknown"


def probe_device(adb: Adb, serial: str) -> DeviceInfo:
    """Read identity (getprop) and core layout (sysfs, else the device profile table) of one device."""
    output = adb.shell(serial, PROBE_COMMAND, check=False).stdout
    props = parse_getprop(output)
    if not props:
        raise AdbError(f"getprop on {serial} returned no properties: {output.strip()[:200]!r}", args=[], returncode=1)
    model = props.get("ro.product.model", "unknown")
    profile = match_profile(model)
    freqs = parse_cpu_freqs(output)
    if freqs and None not in freqs:
        cpu = CpuLayout(freqs, source="sysfs")
    elif profile is not None:
        cpu = CpuLayout(profile.soc.core_max_freq_khz, source=f"profile:{profile.name}")
    elif freqs:
        cpu = CpuLayout(freqs, source="sysfs (partial)")
    else:
        cpu = CpuLayout((), source="unknown")
    return DeviceInfo(
        serial=serial,
        model=model,
        manufacturer=props.get("ro.product.manufacturer", "unknown"),
        soc=_soc_name(props, profile.soc.name if profile else None),
        abi=props.get("ro.product.cpu.abi", "unknown"),
        android_version=props.get("ro.build.version.release", "unknown"),
        fingerprint=props.get("ro.build.fingerprint", "unknown"),
        cpu=cpu,
        profile=profile.name if profile else None,
    )


def host_device() -> DeviceInfo:
    """Describe this machine as a benchmark target (serial 'host')."""
    sysfs = Path("/sys/devices/system/cpu")
    lines = []
    for path in sorted(sysfs.glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq")):
        try:
            lines.append(f"{path}:{path.read_text().strip()}")  # same shape as the adb grep output
        except OSError:
            continue
    freqs = parse_cpu_freqs("\n".join(lines))
    if freqs and None not in freqs:
        cpu = CpuLayout(freqs, source="sysfs")
    else:
        # Containers often hide cpufreq; treat every core as a 'big' core of unknown frequency.
        cpu = CpuLayout(tuple(0 for _ in range(os.cpu_count() or 1)), source="os.cpu_count")
    cpu_name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return DeviceInfo(
        serial=HOST_SERIAL,
        model=f"host ({platform.node()})",
        manufacturer=platform.system(),
        soc=cpu_name,
        abi=platform.machine(),
        android_version="",
        fingerprint=f"{platform.system()}/{platform.release()}/{platform.machine()}/{cpu_name}",
        cpu=cpu,
    )
