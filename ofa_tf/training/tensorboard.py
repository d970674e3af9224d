"""TensorBoard scalars of a training run, written without the tensorboard package."""
from __future__ import annotations

import tensorflow as tf


def _scalar_metadata() -> bytes:
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    return metadata.SerializeToString()


def write_scalar(name: str, value: float, step: int) -> None:
    """A TensorBoard scalar via `tf.summary.write` (works without the tensorboard package installed)."""
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_scalar_metadata())
