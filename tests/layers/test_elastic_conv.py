import numpy as np
import pytest
import tensorflow as tf

from ofa_tf.layers.elastic_conv import ElasticConv2D
from ofa_tf.layers.elastic_conv import ElasticDense


@pytest.mark.parametrize("strides", [1, 2])
def test_slices_first_channels_with_symmetric_padding(strides):
    layer = ElasticConv2D(6, 10, 3, strides)
    layer.build(None)
    kernel = layer.kernel.numpy()
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    out = layer(x, out_channels=tf.constant(7)).numpy()
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    expected = tf.nn.conv2d(padded, kernel[:, :, :4, :7], strides, "VALID").numpy()
    assert out.shape == (2, 8 // strides, 8 // strides, 7)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert layer(x).shape[-1] == 10


def test_conv_rejects_even_kernel_and_round_trips_config():
    with pytest.raises(ValueError, match="kernel_size=4"):
        ElasticConv2D(4, 4, 4)
    layer = ElasticConv2D(6, 10, 3, 2, name="c")
    assert ElasticConv2D.from_config(layer.get_config()).get_config() == layer.get_config()


def test_dense_reads_first_features():
    layer = ElasticDense(12, 5)
    layer.build(None)
    layer.bias.assign(np.arange(5, dtype="float32"))
    x = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    expected = x @ layer.kernel.numpy()[:8] + np.arange(5)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert ElasticDense.from_config(layer.get_config()).get_config() == layer.get_config()
