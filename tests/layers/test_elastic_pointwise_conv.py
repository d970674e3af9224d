import numpy as np
import tensorflow as tf

from ofa_tf.layers import ElasticPointwiseConv


def test_slices_first_channels():
    layer = ElasticPointwiseConv(6, 10)
    layer.build(None)
    kernel = layer.kernel.numpy()[0, 0]
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    out = layer(x, out_channels=tf.constant(7)).numpy()
    np.testing.assert_allclose(out, x @ kernel[:4, :7], rtol=1e-5, atol=1e-5)
    assert layer(x).shape == (2, 3, 3, 10)


def test_config_round_trip():
    layer = ElasticPointwiseConv(6, 10, name="pw")
    assert ElasticPointwiseConv.from_config(layer.get_config()).get_config() == layer.get_config()
