"""Benchmark settings and their translation to ``benchmark_model`` flags."""

from __future__ import annotations

import dataclasses
import re

DELEGATE_FLAGS: dict[str, tuple[str, ...]] = {
    "cpu": ("--use_xnnpack=false",),
    "xnnpack": ("--use_xnnpack=true",),
    "gpu": ("--use_gpu=true",),
    "nnapi": ("--use_nnapi=true",),
}
DELEGATES = tuple(DELEGATE_FLAGS)
NO_TASKSET = "none"
_MASK = re.compile(r"^(?:0x)?([0-9a-fA-F]+)$")


def parse_taskset_mask(mask: str, num_cores: int | None = None) -> str:
    """Validate a ``taskset`` hex CPU mask ('f0', '0xF0') and return it normalised ('f0').

    Raises:
        ValueError: not hexadecimal, zero, or selecting cores the device does not have.
    """
    match = _MASK.match(mask.strip())
    if match is None:
        raise ValueError(
            f"Invalid taskset mask {mask!r}: expected a hexadecimal CPU mask such as 'f0' (cpu4-7) or 'c' (cpu2-3), "
            f"or '{NO_TASKSET}' to run without taskset."
        )
    value = int(match.group(1), 16)
    if value == 0:
        raise ValueError(f"Invalid taskset mask {mask!r}: it selects no CPU; expected a non-zero hexadecimal mask.")
    if num_cores:
        allowed = (1 << num_cores) - 1
        if value & ~allowed:
            raise ValueError(
                f"Invalid taskset mask {mask!r}: the device has {num_cores} cores (cpu0-{num_cores - 1}), "
                f"so the mask must be within {allowed:x}."
            )
    return format(value, "x")


@dataclasses.dataclass(frozen=True)
class BenchmarkOptions:
    """How each model is run.

    Args:
        threads: ``--num_threads``.
        delegate: one of ``DELEGATES``.
        warmup: exact number of warm-up runs (``--warmup_runs`` with ``--warmup_min_secs=0``).
        runs: exact number of timed runs (``--num_runs`` with ``--min_secs=0``).
        taskset: hex CPU mask, ``'none'``, or ``None`` for the target's big cores.
        op_profiling: ``--enable_op_profiling=true``; gives per-op-type times.
        peak_memory: ``--report_peak_memory_footprint=true``.
        extra_flags: further ``benchmark_model`` flags passed verbatim (part of the result key).
    """

    threads: int = 1
    delegate: str = "cpu"
    warmup: int = 10
    runs: int = 50
    taskset: str | None = None
    op_profiling: bool = False
    peak_memory: bool = False
    extra_flags: tuple[str, ...] = ()

    def __post_init__(self):
        if self.delegate not in DELEGATE_FLAGS:
            raise ValueError(f"Unknown delegate {self.delegate!r}: expected one of {', '.join(DELEGATES)}.")
        if not isinstance(self.threads, int) or (self.threads < 1 and self.threads != -1):
            raise ValueError(f"Invalid threads={self.threads!r}: expected a positive integer (or -1 for the default).")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"Invalid warmup={self.warmup!r}: expected an integer >= 0.")
        if not isinstance(self.runs, int) or self.runs < 1:
            raise ValueError(f"Invalid runs={self.runs!r}: expected an integer >= 1.")
        if self.taskset is not None and self.taskset != NO_TASKSET:
            object.__setattr__(self, "taskset", parse_taskset_mask(self.taskset))
        for flag in self.extra_flags:
            if not flag.startswith("--") or flag.startswith("--graph"):
                raise ValueError(f"Invalid extra flag {flag!r}: expected '--name=value' and not --graph.")

    def flags(self) -> list[str]:
        """``benchmark_model`` flags except ``--graph``, in a fixed order."""
        flags = [
            f"--num_threads={self.threads}",
            f"--warmup_runs={self.warmup}",
            f"--num_runs={self.runs}",
            "--min_secs=0",
            "--warmup_min_secs=0",
            *DELEGATE_FLAGS[self.delegate],
        ]
        if self.op_profiling:
            flags.append("--enable_op_profiling=true")
        if self.peak_memory:
            flags.append("--report_peak_memory_footprint=true")
        return flags + list(self.extra_flags)

    def key(self, resolved_taskset: str | None) -> str:
        """Canonical flag string stored with every result (taskset mask included)."""
        return " ".join(self.flags() + [f"taskset={resolved_taskset or NO_TASKSET}"])
