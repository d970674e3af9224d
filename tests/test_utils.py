"""The reference's channel rounding and float32 count summation (`ofa_tf.utils`)."""
import numpy as np

from ofa_tf.utils import float32_sum
from ofa_tf.utils import make_divisible


def test_make_divisible_on_numbers_and_arrays():
    # the reference's rounding: nearest multiple of 8, at least 8, bumped when it would lose more than 10%
    assert [make_divisible(v) for v in (3, 12, 16 * 0.5, 20, 27, 100)] == [8, 16, 8, 24, 32, 104]
    np.testing.assert_array_equal(make_divisible(np.array([3, 12, 20, 27, 100])), [8, 16, 24, 32, 104])


def test_float32_sum_rounds_like_the_reference_counter():
    big = [2**24, 1, 1]  # in float32, 2**24 + 1 rounds back to 2**24 at every step
    assert float32_sum(big) == 2**24 and sum(big) == 2**24 + 2
    np.testing.assert_array_equal(float32_sum([np.array([2**24, 3]), np.array([1, 1])]), [2**24, 4])


def test_the_tensor_form_is_the_same_rule():
    import tensorflow as tf

    from ofa_tf.utils import make_divisible_tensor

    values = np.arange(1, 2000)
    np.testing.assert_array_equal(make_divisible_tensor(tf.constant(values)).numpy(), make_divisible(values))
