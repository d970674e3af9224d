import keras
import numpy as np
import pytest
import tensorflow as tf

from ofa_tf.layers import ElasticMBConv


def test_middle_channels_follow_spec_table():
    block = ElasticMBConv(24, 40, 2, use_se=True)
    assert block.mid_channels == (72, 96, 144)
    assert [block.se_channels(m) for m in block.mid_channels] == [24, 24, 40]
    assert not block.has_shortcut
    assert ElasticMBConv(40, 40, 1).has_shortcut


def test_one_trace_for_all_kernel_and_expand_choices():
    block = ElasticMBConv(16, 16, 1, use_se=True, activation="h_swish")
    block.build(None)
    fn = tf.function(lambda x, k, e: block(x, kernel_size=k, expand_ratio=e))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    outs = {}
    for k in (3, 5, 7):
        for e in (3, 4, 6):
            outs[k, e] = fn(x, tf.constant(k), tf.constant(e)).numpy()
    assert fn.experimental_get_tracing_count() == 1
    assert len({o.tobytes() for o in outs.values()}) == 9  # every choice computes something different


def test_static_first_block_has_no_expansion():
    block = ElasticMBConv(16, 16, 1, kernel_sizes=(3,), expand_ratios=(1,))
    block.build(None)
    assert not hasattr(block, "expand_conv")
    assert block.depthwise_conv.kernel.shape == (3, 3, 16, 1)
    assert block.depthwise_conv.transform_matrices == {}


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="Unknown activation 'swish'"):
        ElasticMBConv(16, 16, activation="swish")
    with pytest.raises(ValueError, match=r"Invalid expand ratio 5: expected one of \[3, 4, 6\]"):
        ElasticMBConv(16, 16).middle_channels(5)


def test_config_round_trip_and_keras_serialization():
    block = ElasticMBConv(16, 24, 2, (3, 5), (4, 6), "hard_silu", True, name="b")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
    assert restored.get_config() == block.get_config()
