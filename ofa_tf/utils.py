"""Small shared helpers: the reference's channel rounding rule and its float32 summation of counts."""
import numpy as np
import tensorflow as tf

CHANNEL_DIVISIBLE = 8


def make_divisible(v, divisor: int = CHANNEL_DIVISIBLE):
    """The reference's channel rounding (`ofa/utils/pytorch_modules.py`, `make_divisible`): nearest multiple of
    `divisor` (>= divisor), bumped up if it loses >10%. On a number (-> int) or an array (-> int64 array)."""
    v = np.asarray(v)
    new_v = np.maximum(divisor, (v + divisor / 2).astype(np.int64) // divisor * divisor)
    new_v = np.where(new_v < 0.9 * v, new_v + divisor, new_v)
    return int(new_v) if new_v.ndim == 0 else new_v


def make_divisible_tensor(v: tf.Tensor, divisor: int = CHANNEL_DIVISIBLE) -> tf.Tensor:
    """`make_divisible` on an int32 tensor (used where channel counts are only known at run time)."""
    v = tf.cast(v, tf.int32)
    new_v = tf.maximum(divisor, (v + divisor // 2) // divisor * divisor)
    bump = tf.cast(10 * new_v < 9 * v, tf.int32) * divisor
    return new_v + bump


def float32_sum(terms):
    """Adds `terms` (numbers or equal-shape arrays) in order in float32, as the reference's counter
    (`ofa/utils/flops_counter.py`) adds its per-module float32 counts: totals above 2**24 round at each step, which
    reproduces its published MACs exactly. Returns int64 (an int for numbers)."""
    total = np.float32(0)
    for term in terms:
        total = (total + np.asarray(term, dtype=np.float32)).astype(np.float32)
    total = np.asarray(total).astype(np.int64)
    return int(total) if total.ndim == 0 else total
