"""Keras model → TFLite flatbuffer with builtin ops only, in one of the quantization modes."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from android_bench.cli_support import native_output_silenced

logger = logging.getLogger(__name__)

POST_TRAINING_MODES = ("none", "float16", "dynamic", "int8")
"""The modes that convert a trained model as it is (`qat` fine-tunes it first)."""
QUANTIZE_MODES = (*POST_TRAINING_MODES, "qat")
IO_TYPES = ("int8", "uint8", "float32")
_TF_IO_TYPES = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}

RepresentativeDataset = Callable[[], Iterator[list[np.ndarray]]]


class ConversionError(RuntimeError):
    """The TFLite converter could not produce a builtin-ops-only model."""


@dataclasses.dataclass(frozen=True)
class QuantizeOptions:
    """How a Keras model is converted.

    Args:
        mode: one of `QUANTIZE_MODES`. `none` = float32; `float16` = fp16 weights (DEQUANTIZE to fp32 at load);
            `dynamic` = int8 weights, float activations; `int8` = full integer (needs `representative`);
            `qat` = full integer from a quantization-aware-trained model (see `tools.qat`).
        io_type: input/output tensor type of the integer modes, one of `IO_TYPES` (`float32` keeps
            QUANTIZE/DEQUANTIZE at the ends).
    """

    mode: str = "none"
    io_type: str = "int8"

    def __post_init__(self):
        check_mode(self.mode)
        if self.io_type not in IO_TYPES:
            raise ValueError(f"Invalid io_type {self.io_type!r}: expected one of {', '.join(IO_TYPES)}.")

    @property
    def integer(self) -> bool:
        return self.mode in ("int8", "qat")


def check_mode(mode: str) -> str:
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"Unknown quantization mode {mode!r}: expected one of {', '.join(QUANTIZE_MODES)}.")
    return mode


SCRATCH_DIR = ".ofa_tf_tmp"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def scratch_near(folder: str | Path | None):
    """Points `tempfile` (where the converter writes its temporary SavedModel) at `folder/.ofa_tf_tmp/<pid>`, so a
    killed export leaves nothing in the system temp folder; scratch folders of dead processes are removed first."""
    if folder is None:
        yield
        return
    base = Path(folder) / SCRATCH_DIR
    for stale in base.glob("*"):
        if stale.name.isdigit() and not _process_alive(int(stale.name)):
            shutil.rmtree(stale, ignore_errors=True)
    mine = base / str(os.getpid())
    mine.mkdir(parents=True, exist_ok=True)
    previous, tempfile.tempdir = tempfile.tempdir, str(mine)
    try:
        yield
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(mine, ignore_errors=True)
        with contextlib.suppress(OSError):
            base.rmdir()


def convert(
    model, options: QuantizeOptions, representative: RepresentativeDataset | None = None,
    scratch_dir: str | Path | None = None,
) -> bytes:
    """Converts `model` (fixed input shape) to TFLite with builtin ops only.

    The converter's own output (SavedModel signatures, MLIR notes) is shown only when this module logs at DEBUG
    (`--verbose`); its temporary SavedModel goes under `scratch_dir` (see `scratch_near`) when given.

    Raises:
        ValueError: `int8` without `representative`.
        ConversionError: the converter failed, e.g. an op would need Flex (SELECT_TF_OPS).
    """
    if options.mode == "int8" and representative is None:
        raise ValueError(
            "Quantization mode 'int8' needs representative images to calibrate activation ranges: "
            "pass data (a TFDS name, an image folder or 'digits')."
        )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    if options.mode != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if options.mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if options.integer:
        # (qat keeps TFLITE_BUILTINS: TF 2.21 asks for a representative dataset with the INT8 op set even for a
        # quantization-aware-trained graph; integer-only compute is checked after conversion instead.)
        converter.inference_input_type = _TF_IO_TYPES[options.io_type]
        converter.inference_output_type = _TF_IO_TYPES[options.io_type]
    if options.mode == "int8":
        converter.representative_dataset = representative
    try:
        with scratch_near(scratch_dir), native_output_silenced(not logger.isEnabledFor(logging.DEBUG)):
            flatbuffer = converter.convert()
    except Exception as err:  # ConverterError and the quantizer's RuntimeError/ValueError
        missing = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", str(err))))
        what = f"ops without a TFLite builtin kernel: {missing}; " if missing else ""
        raise ConversionError(
            f"TFLite conversion ({options.mode}) failed with builtin ops only (Flex / SELECT_TF_OPS is not "
            f"allowed, so a phone's stock LiteRT runtime can run the result): {what}{err}"
        ) from err
    from .inspect_model import list_ops
    from .inspect_model import op_histogram

    non_builtin = sorted(name for name in op_histogram(flatbuffer) if name.startswith(("Flex", "CUSTOM:")))
    if non_builtin:
        raise ConversionError(f"The converted model contains non-builtin ops {non_builtin}; only builtins are allowed.")
    if options.integer:
        float_ops = sorted({op.op for op in list_ops(flatbuffer) if op.computes_in_float})
        if float_ops:
            raise ConversionError(
                f"Quantization mode {options.mode!r} left float compute ops {float_ops} in the model; every op "
                "except the QUANTIZE/DEQUANTIZE at the inputs and outputs must run in integer."
            )
    return bytes(flatbuffer)
