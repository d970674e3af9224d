"""Run a `.tflite` model on this machine with the ai_edge_litert interpreter: outputs and latency."""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from android_bench.cli_support import native_output_silenced
from android_bench.host_target import run_stats

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HostRunResult:
    """Latency in microseconds (statistics as `benchmark_model` computes them), size and the last outputs."""

    path: str
    size_bytes: int
    threads: int
    warmup: int
    runs: int
    mean_us: float
    std_us: float
    min_us: float
    max_us: float
    p5_us: float
    p50_us: float
    p95_us: float
    outputs: tuple[np.ndarray, ...] = dataclasses.field(repr=False)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["outputs"] = [o.tolist() for o in self.outputs]
        return data


def _interpreter(model: str | Path | bytes, threads: int) -> Interpreter:
    """LiteRT's own start-up line (the XNNPACK delegate notice) is shown only when this module logs at DEBUG."""
    if not isinstance(model, (bytes, bytearray)) and not Path(model).is_file():
        raise FileNotFoundError(f"TFLite model not found: {model}")
    with native_output_silenced(not logger.isEnabledFor(logging.DEBUG)):
        if isinstance(model, (bytes, bytearray)):
            interpreter = Interpreter(model_content=bytes(model), num_threads=threads)
        else:
            interpreter = Interpreter(model_path=str(model), num_threads=threads)
        interpreter.allocate_tensors()
    return interpreter


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if not np.issubdtype(dtype, np.integer):
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if not np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def predict(model: str | Path | bytes, images: np.ndarray, threads: int = 1) -> np.ndarray:
    """Float outputs for float (normalized) `images` [N, H, W, C], one interpreter call per model batch.

    Integer inputs are quantized and integer outputs dequantized with the tensors' scale and zero point.
    """
    interpreter = _interpreter(model, threads)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    batch = int(inp["shape"][0])
    if len(images) % batch:
        raise ValueError(f"{len(images)} images do not split into batches of the model's batch size {batch}.")
    results = []
    for start in range(0, len(images), batch):
        interpreter.set_tensor(inp["index"], _quantize(np.asarray(images[start : start + batch]), inp))
        interpreter.invoke()
        results.append(_dequantize(interpreter.get_tensor(out["index"]), out))
    return np.concatenate(results)


def run_tflite(
    model: str | Path,
    inputs: list[np.ndarray] | None = None,
    threads: int = 1,
    warmup: int = 5,
    runs: int = 50,
    seed: int = 0,
) -> HostRunResult:
    """Times `runs` invocations after `warmup` ones; inputs default to seeded random values of each input's type."""
    if threads < 1 or warmup < 0 or runs < 1:
        raise ValueError(
            f"Invalid run settings threads={threads}, warmup={warmup}, runs={runs}: expected threads >= 1, "
            "warmup >= 0 and runs >= 1."
        )
    interpreter = _interpreter(model, threads)
    details = interpreter.get_input_details()
    if inputs is None:
        rng = np.random.default_rng(seed)
        inputs = [_random_input(d, rng) for d in details]
    if len(inputs) != len(details):
        raise ValueError(f"The model has {len(details)} inputs; received {len(inputs)} arrays.")
    for detail, value in zip(details, inputs):
        interpreter.set_tensor(detail["index"], np.asarray(value, detail["dtype"]))
    timings = []
    for i in range(warmup + runs):
        start = time.perf_counter_ns()
        interpreter.invoke()
        if i >= warmup:
            timings.append((time.perf_counter_ns() - start) / 1e3)
    stats = run_stats(timings)
    outputs = tuple(interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details())
    return HostRunResult(
        path=str(model), size_bytes=Path(model).stat().st_size, threads=threads, warmup=warmup, runs=runs,
        mean_us=stats.avg, std_us=stats.std, min_us=stats.min, max_us=stats.max, p5_us=stats.p5,
        p50_us=stats.median, p95_us=stats.p95, outputs=outputs,
    )


def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    shape, dtype = detail["shape"], np.dtype(detail["dtype"])
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -128), min(info.max, 127), size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)
