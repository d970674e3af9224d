"""Small shared helpers: the reference's channel rounding rule."""
import tensorflow as tf

CHANNEL_DIVISIBLE = 8


def make_divisible(v: float, divisor: int = CHANNEL_DIVISIBLE) -> int:
    """Reference rounding: nearest multiple of `divisor` (>= divisor), bumped up if it loses >10%."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def make_divisible_tensor(v: tf.Tensor, divisor: int = CHANNEL_DIVISIBLE) -> tf.Tensor:
    """`make_divisible` on an int32 tensor (used where channel counts are only known at run time)."""
    v = tf.cast(v, tf.int32)
    new_v = tf.maximum(divisor, (v + divisor // 2) // divisor * divisor)
    bump = tf.cast(10 * new_v < 9 * v, tf.int32) * divisor
    return new_v + bump
