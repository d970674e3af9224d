"""TensorFlow runtime checks of training: oneDNN, inter-op threads, and the warning when they are unsafe together."""
from __future__ import annotations

import os
import warnings

import tensorflow as tf


def tensorflow_setting() -> str:
    """"oneDNN on|off, N inter-op threads": what benchmarks report they ran with."""
    return f"oneDNN {'on' if onednn_enabled() else 'off'}, {inter_op_threads()} inter-op threads"


def onednn_enabled() -> bool:
    """Whether TensorFlow's oneDNN kernels are on in this process."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def inter_op_threads() -> int:
    """How many ops TensorFlow runs at once in this process."""
    configured = tf.config.threading.get_inter_op_parallelism_threads()
    return configured or int(os.environ.get("TF_NUM_INTEROP_THREADS") or 0) or (os.cpu_count() or 1)


def warn_if_onednn_unsafe() -> None:
    """Warns when oneDNN is on with ops running in parallel (see `ofa_tf/__init__.py`)."""
    threads = inter_op_threads()
    if onednn_enabled() and threads > 1:
        warnings.warn(
            f"TensorFlow's oneDNN kernels are on with {threads} inter-op threads; oneDNN ops running in "
            "parallel have corrupted the heap in elastic training (benchmarks/onednn_stress.py). Import ofa_tf "
            "before TensorFlow, or set TF_NUM_INTEROP_THREADS=1 (or TF_ENABLE_ONEDNN_OPTS=0) before importing it.",
            RuntimeWarning,
            stacklevel=3,
        )
