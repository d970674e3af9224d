import numpy as np
import pytest
import tensorflow as tf

from ofa_tf.layers.elastic_bottleneck import ElasticBottleneck


def _randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        value = rng.normal(size=v.shape) * 0.3
        if "variance" in v.path:
            value = np.abs(value) + 0.5
        v.assign(value.astype("float32"))


def _bn(x, bn, c):
    g, b, m, v = (w.numpy()[:c] for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    return (x - m) / np.sqrt(v + bn.epsilon) * g + b


def _reference(block, x, w, e):
    """The bottleneck recomputed from sliced weights (the reference's `DynamicResNetBottleneckBlock`)."""
    out = block.out_channels[w]
    mid = block.mid_table[w][e]
    c_in = x.shape[-1]
    relu = lambda t: np.maximum(t, 0)  # noqa: E731
    h = relu(_bn(x @ block.conv1.kernel.numpy()[0, 0, :c_in, :mid], block.bn1, mid))
    padded = np.pad(h, [(0, 0), (1, 1), (1, 1), (0, 0)])
    h = tf.nn.conv2d(padded, block.conv2.kernel.numpy()[:, :, :mid, :mid], block.strides, "VALID").numpy()
    h = relu(_bn(h, block.bn2, mid))
    h = _bn(h @ block.conv3.kernel.numpy()[0, 0, :mid, :out], block.bn3, out)
    shortcut = x
    if block.has_downsample:
        s = block.strides
        n, hh, ww, c = x.shape
        shortcut = x.reshape(n, hh // s, s, ww // s, s, c).mean(axis=(2, 4))
        shortcut = _bn(shortcut @ block.downsample_conv.kernel.numpy()[0, 0, :c_in, :out], block.downsample_bn, out)
    return relu(h + shortcut)


@pytest.mark.parametrize("strides,in_channels", [(2, (8, 16)), (1, (16, 24)), (1, (8, 16))])
def test_every_width_and_expand_ratio_matches_sliced_weights(strides, in_channels):
    block = ElasticBottleneck(in_channels, (16, 24), (0.25, 0.35), strides=strides)
    block.build(None)
    _randomize(block)
    assert block.has_downsample == (strides == 2 or in_channels != (16, 24))
    for w in range(2):
        x = np.random.default_rng(w).normal(size=(2, 6, 6, in_channels[w])).astype("float32")
        for e in range(2):
            out = block(x, training=False, width_index=tf.constant(w), expand_index=tf.constant(e)).numpy()
            np.testing.assert_allclose(out, _reference(block, x, w, e), rtol=1e-4, atol=1e-4)


def test_middle_widths_follow_reference_rounding():
    block = ElasticBottleneck((64,), (168, 208, 256), (0.2, 0.25, 0.35))
    # make_divisible(round(out * e), 8): e.g. 168 * 0.35 = 58.8 -> 59 -> 56; 256 * 0.35 = 89.6 -> 90 -> 88.
    assert block.mid_table == ((32, 40, 56), (40, 56, 72), (48, 64, 88))
    assert ElasticBottleneck.from_config(block.get_config()).get_config() == block.get_config()
