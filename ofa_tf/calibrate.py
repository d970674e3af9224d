"""BN recalibration of a subnet (the reference's `set_running_statistics` in
`ofa/imagenet_classification/elastic_nn/utils.py`), and restoring a supernet's BN statistics afterwards."""
from __future__ import annotations

import contextlib

import tensorflow as tf

from ofa_tf.families.mbconv.config import SubnetConfig


def calibrate_bn(supernet, dataset, config: SubnetConfig | dict | None = None, max_batches: int | None = None) -> int:
    """Resets the active subnet's BN statistics to the average of per-batch statistics over `dataset`.

    Each batch is normalised with its own mean and biased variance (so later layers see
    batch-normalised inputs); the running statistics of the active channels become the
    batch-size-weighted average of the per-batch means and variances, as the reference's
    `set_running_statistics`. Only the active slices change.

    Args:
        supernet: an `OFAMobileNetV3`.
        dataset: yields images or (images, labels) batches (training transform, at the subnet's resolution).
        config: subnet to calibrate (activated first); default the active one.
        max_batches: stop after this many batches.

    Returns:
        The number of images used.
    """
    if config is not None:
        supernet.set_active_config(config)
    step = _calibration_step(supernet)
    seen = 0
    for i, batch in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        n = int(tf.shape(images)[0])
        seen += n
        step(tf.convert_to_tensor(images, tf.float32), tf.constant(n / seen, tf.float32))
    if seen == 0:
        raise ValueError("calibrate_bn received an empty dataset; it needs at least one batch of images.")
    return seen


def _calibration_step(supernet):
    step = getattr(supernet, "_ofa_calibration_step", None)
    if step is None:

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32), tf.TensorSpec([], tf.float32)])
        def step(images, weight):
            supernet(images, training=False, calibration_weight=weight)

        supernet._ofa_calibration_step = step
    return step


class SupernetState:
    """A copy of a supernet's BN running statistics and active subnet, to put back with `restore()`."""

    def __init__(self, supernet):
        self.supernet = supernet
        self.statistics = [v for v in supernet.non_trainable_variables if "moving_" in v.path]
        self.values = [v.numpy() for v in self.statistics]
        self.config = supernet.get_active_config()

    def restore(self) -> None:
        for variable, value in zip(self.statistics, self.values):
            variable.assign(value)
        self.supernet.set_active_config(self.config)


@contextlib.contextmanager
def preserved_state(supernet):
    """Restores the supernet's BN running statistics and active subnet when the block ends (also on errors)."""
    state = SupernetState(supernet)
    try:
        yield state
    finally:
        state.restore()
