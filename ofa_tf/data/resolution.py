"""Elastic resolution: the candidate image sizes and the reproducible per-batch size draw (the reference's
`ofa/utils/my_dataloader/my_random_resize_crop.py`)."""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

IMAGE_SIZE_STEP = 4  # the reference's IMAGE_SIZE_SEG

# Salts that keep the independent random streams of one seed apart.
SALT_SHUFFLE, SALT_RESOLUTION, SALT_AUGMENT, SALT_CALIBRATION = 1, 2, 3, 4


def resolution_candidates(min_size: int, max_size: int, step: int = IMAGE_SIZE_STEP) -> tuple[int, ...]:
    """The multiples of `step` in [min_size, max_size], as the reference's `continuous_size=True`.

    >>> len(resolution_candidates(128, 224))
    25
    """
    sizes = tuple(s for s in range(int(min_size), int(max_size) + 1) if s % step == 0)
    if not sizes:
        raise ValueError(
            f"No multiple of {step} between min_size={min_size} and max_size={max_size}; "
            "widen the range or pass an explicit list of sizes."
        )
    return sizes


def as_resolution_list(resolutions: int | Sequence[int]) -> tuple[int, ...]:
    """Validate `resolutions` (one size or an explicit list) into a sorted tuple of unique positive ints."""
    values = (resolutions,) if isinstance(resolutions, int) else tuple(resolutions)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in values):
        raise ValueError(
            "Invalid value for argument `resolutions`: expected a positive int or a non-empty list of positive "
            f"ints (e.g. resolution_candidates(128, 224)). Received resolutions={resolutions!r}."
        )
    return tuple(sorted(set(values)))


def seed_pair(seed: int, salt: int) -> tf.Tensor:
    return tf.constant([seed, salt], tf.int64)


def fold_in(key: tf.Tensor, data) -> tf.Tensor:
    """`stateless_fold_in` with `data` always as int64 (its result depends on the dtype of `data`)."""
    return tf.random.experimental.stateless_fold_in(key, tf.cast(data, tf.int64))


def batch_resolution(resolutions: Sequence[int], seed, epoch, batch_index) -> tf.Tensor:
    """Size of batch `batch_index` in `epoch`: uniform over `resolutions`, a pure function of (seed, epoch, batch).

    Works eagerly and inside tf.data / tf.function (all arguments may be tensors).
    """
    key = fold_in(tf.stack([tf.cast(seed, tf.int64), SALT_RESOLUTION]), epoch)
    key = fold_in(key, batch_index)
    pick = tf.random.stateless_uniform([], key, 0, len(resolutions), dtype=tf.int32)
    return tf.gather(tf.constant(resolutions, tf.int32), pick)


def sample_resolution(resolutions: int | Sequence[int], seed: int, epoch: int, batch_index: int) -> int:
    """Python-side twin of the size the training pipeline uses for `(seed, epoch, batch_index)`."""
    return int(batch_resolution(as_resolution_list(resolutions), seed, epoch, batch_index))
