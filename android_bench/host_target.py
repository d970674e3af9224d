"""Benchmark on this machine: the ai_edge_litert interpreter, or a host ``benchmark_model`` binary."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from android_bench.device import host_cur_freqs
from android_bench.device import host_device
from android_bench.options import BenchmarkOptions
from android_bench.output_parser import BenchmarkOutput
from android_bench.output_parser import RunStats
from android_bench.output_parser import parse_benchmark_output
from android_bench.target import BenchmarkFailedError
from android_bench.target import sha256_file

HOST_INTERPRETER_DELEGATES = ("cpu", "xnnpack")


def mask_to_cpus(mask: str) -> set[int]:
    value = int(mask, 16)
    return {cpu for cpu in range(value.bit_length()) if value >> cpu & 1}


def run_stats(values_us: list[float]) -> RunStats:
    """Statistics as ``benchmark_model`` computes them: population std, percentile = sorted[n * p // 100]."""
    if not values_us:
        return RunStats(0, None, None, None, None, None, None)
    ordered = sorted(values_us)
    n = len(ordered)
    mean = sum(ordered) / n
    std = (sum((v - mean) ** 2 for v in ordered) / n) ** 0.5
    return RunStats(
        count=n, first=values_us[0], curr=values_us[-1], min=ordered[0], max=ordered[-1], avg=mean, std=std,
        p5=ordered[n * 5 // 100], median=ordered[n * 50 // 100], p95=ordered[n * 95 // 100],
    )


class _PeakRss:
    """Samples this process's resident set size every ``interval`` seconds; ``peak_mb`` after ``stop``."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        with open("/proc/self/statm") as statm:
            self.peak_bytes = max(self.peak_bytes, int(statm.read().split()[1]) * self._page)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> _PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / (1 << 20)


@contextlib.contextmanager
def _affinity(taskset: str | None):
    """Pin this process to the mask's CPUs for the duration (restored afterwards)."""
    if taskset is None:
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, mask_to_cpus(taskset))
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def _random_inputs(interpreter, rng: np.random.Generator) -> None:
    for detail in interpreter.get_input_details():
        shape, dtype = detail["shape"], np.dtype(detail["dtype"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            data = rng.integers(max(info.min, -128), min(info.max, 127), size=shape, endpoint=True).astype(dtype)
        elif dtype == np.bool_:
            data = rng.integers(0, 1, size=shape, endpoint=True).astype(bool)
        else:
            data = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
        interpreter.set_tensor(detail["index"], data)


HOST_CLOCKS = ("wall", "thread_cpu")


class HostInterpreterTarget:
    """This machine, measured in-process with ``ai_edge_litert.interpreter.Interpreter``.

    Init = construction + ``allocate_tensors``; first = first warm-up invoke; peak memory = peak RSS of
    this process sampled during the run (like ``benchmark_model``'s periodic monitoring).

    ``clock="wall"`` (default) times each invoke by the wall clock. ``clock="thread_cpu"`` counts the CPU time of
    the invoking thread instead: with one thread the interpreter runs every kernel on it, so the figure is the
    latency without the time other processes took the core away (a shared machine); it needs ``threads=1`` and is
    part of the tool version (results of the two clocks never mix).
    """

    kind = "host-interpreter"

    def __init__(self, clock: str = "wall"):
        import ai_edge_litert

        if clock not in HOST_CLOCKS:
            raise ValueError(f"Unknown clock {clock!r}: expected one of {', '.join(HOST_CLOCKS)}.")
        self.clock = clock
        self.device = host_device()
        self.tool_version = f"ai_edge_litert {getattr(ai_edge_litert, '__version__', 'unknown')}"
        if clock != "wall":
            self.tool_version += f" ({clock} clock)"
        self._now = time.perf_counter_ns if clock == "wall" else time.thread_time_ns

    def default_taskset(self) -> str | None:
        return None

    def setup(self, options: BenchmarkOptions) -> None:
        if options.delegate not in HOST_INTERPRETER_DELEGATES:
            raise ValueError(
                f"Delegate {options.delegate!r} is not available on the host interpreter: expected one of "
                f"{', '.join(HOST_INTERPRETER_DELEGATES)} (or pass --binary with a host benchmark_model)."
            )
        if options.op_profiling:
            raise ValueError("Op profiling on the host needs benchmark_model: pass --binary PATH with --serial host.")
        if self.clock == "thread_cpu" and options.threads != 1:
            raise ValueError(f"The thread_cpu clock needs threads=1 (received threads={options.threads}): with more "
                             "threads the interpreter's work runs on threads it does not count.")

    def run_model(self, model: Path, options: BenchmarkOptions, taskset: str | None) -> tuple[BenchmarkOutput, str]:
        from ai_edge_litert.interpreter import Interpreter
        from ai_edge_litert.interpreter import OpResolverType

        resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if options.delegate == "cpu" else OpResolverType.BUILTIN
        rng = np.random.default_rng(0)
        with _affinity(taskset), _PeakRss() as rss:
            start = time.perf_counter_ns()
            try:
                interpreter = Interpreter(
                    model_path=str(model), num_threads=options.threads if options.threads > 0 else None,
                    experimental_op_resolver_type=resolver,
                )
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise BenchmarkFailedError(f"interpreter could not load {model}: {exc}") from exc
            init_us = (time.perf_counter_ns() - start) / 1e3
            _random_inputs(interpreter, rng)
            warmup = [self._invoke(interpreter) for _ in range(options.warmup)]
            timed = [self._invoke(interpreter) for _ in range(options.runs)]
        warm, reg = run_stats(warmup), run_stats(timed)
        output = BenchmarkOutput(
            init_us=init_us, first_us=warm.first, warmup_avg_us=warm.avg, avg_us=reg.avg, std_us=reg.std,
            min_us=reg.min, max_us=reg.max, p5_us=reg.p5, p50_us=reg.median, p95_us=reg.p95, count=reg.count,
            warmup_count=warm.count, peak_memory_mb=rss.peak_mb,
        )
        raw = (f"init_us={init_us:.1f}\nwarmup_us={' '.join(f'{v:.1f}' for v in warmup)}\n"
               f"runs_us={' '.join(f'{v:.1f}' for v in timed)}\npeak_rss_mb={rss.peak_mb:.3f}\n")
        return output, raw

    def cpu_freqs_khz(self, cores: list[int]) -> dict[int, int]:
        """Current frequency (kHz) of `cores` where this machine's sysfs exposes it."""
        return host_cur_freqs(cores)

    def _invoke(self, interpreter) -> float:
        start = self._now()
        interpreter.invoke()
        return (self._now() - start) / 1e3

    def teardown(self) -> None:
        return None


class HostBinaryTarget:
    """This machine, measured by a host build of ``benchmark_model`` run as a subprocess."""

    kind = "host-binary"

    def __init__(self, binary: str | Path, timeout: float = 1800.0):
        self.binary = Path(binary)
        if not self.binary.is_file():
            raise FileNotFoundError(f"benchmark_model binary not found: {self.binary}")
        if not os.access(self.binary, os.X_OK):
            raise PermissionError(f"benchmark_model binary is not executable: {self.binary} (chmod +x it)")
        self.timeout = timeout
        self.device = host_device()
        self.tool_version = f"sha256:{sha256_file(self.binary)}"

    def default_taskset(self) -> str | None:
        return None

    def setup(self, options: BenchmarkOptions) -> None:
        return None

    def cpu_freqs_khz(self, cores: list[int]) -> dict[int, int]:
        """Current frequency (kHz) of `cores` where this machine's sysfs exposes it."""
        return host_cur_freqs(cores)

    def command(self, model: Path, options: BenchmarkOptions) -> list[str]:
        # absolute: a bare relative name ("benchmark_model", as Path makes of "./benchmark_model") would be looked up
        # on $PATH instead of in the working folder
        return [str(self.binary.absolute()), f"--graph={model}"] + options.flags()

    def run_model(self, model: Path, options: BenchmarkOptions, taskset: str | None) -> tuple[BenchmarkOutput, str]:
        cpus = mask_to_cpus(taskset) if taskset else None
        try:
            proc = subprocess.run(
                self.command(model, options), capture_output=True, text=True, errors="replace", timeout=self.timeout,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchmarkFailedError(f"benchmark_model timed out after {self.timeout:g}s on {model}") from exc
        raw = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
        output = parse_benchmark_output(raw)
        if proc.returncode != 0 or not output.has_timings:
            detail = "; ".join(output.errors) if output.errors else (raw.strip().splitlines() or ["no output"])[-1]
            raise BenchmarkFailedError(f"benchmark_model exited with {proc.returncode} on {model.name}: {detail}", raw)
        return output, raw

    def teardown(self) -> None:
        return None
