import keras
import numpy as np
import pytest

from ofa_tf.layers import ElasticDepthwiseConv


def np_depthwise(x, kernel, stride):
    """Pure NumPy depthwise conv with symmetric k//2 zero padding (PyTorch semantics)."""
    k = kernel.shape[0]
    p = k // 2
    x = np.pad(x, [(0, 0), (p, p), (p, p), (0, 0)])
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, oh, ow, c), np.float64)
    for i in range(k):
        for j in range(k):
            patch = x[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
            out += patch * kernel[i, j, :, 0]
    return out


def np_transformed_kernel(w7, m75, m53, k):
    """Kernel transformation (Cai et al., ICLR 2020, Sec. 3.2; `dynamic_op.py`, `get_active_filter`): k=5 is
    M75·crop5(W7); k=3 is M53·crop3(that 5x5)."""
    if k == 7:
        return w7
    c = w7.shape[2]
    k5 = (m75 @ w7[1:6, 1:6, :, 0].reshape(25, c)).reshape(5, 5, c, 1)
    if k == 5:
        return k5
    return (m53 @ k5[1:4, 1:4, :, 0].reshape(9, c)).reshape(3, 3, c, 1)


@pytest.fixture
def layer():
    rng = np.random.default_rng(0)
    layer = ElasticDepthwiseConv(8, (3, 5, 7), strides=2)
    layer.build(None)
    layer.kernel.assign(rng.normal(size=(7, 7, 8, 1)).astype("float32"))
    for m in layer.transform_matrices.values():
        m.assign(np.eye(m.shape[0], dtype="float32") + 0.1 * rng.normal(size=m.shape).astype("float32"))
    return layer


def test_weights_and_config():
    layer = ElasticDepthwiseConv(16, (3, 5, 7), strides=2)
    layer.build(None)
    names = sorted(w.name for w in layer.weights)
    assert names == ["5to3_matrix", "7to5_matrix", "kernel"]
    assert layer.transform_matrices["7to5_matrix"].shape == (25, 25)
    np.testing.assert_array_equal(layer.transform_matrices["5to3_matrix"].numpy(), np.eye(9))
    clone = ElasticDepthwiseConv.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("channels", [8, 5])
def test_matches_numpy_reference(layer, k, channels):
    x = np.random.default_rng(1).normal(size=(2, 10, 10, channels)).astype("float32")
    m75 = layer.transform_matrices["7to5_matrix"].numpy()
    m53 = layer.transform_matrices["5to3_matrix"].numpy()
    kernel = np_transformed_kernel(layer.kernel.numpy()[:, :, :channels], m75, m53, k)
    expected = np_depthwise(x, kernel, 2)
    out = layer(x, kernel_size=k).numpy()
    assert out.shape == expected.shape == (2, 5, 5, channels)
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=1e-4)


def test_max_kernel_equals_stock_keras_layer(layer):
    x = np.random.default_rng(2).normal(size=(1, 9, 9, 8)).astype("float32")
    stock = keras.Sequential([keras.layers.ZeroPadding2D(3), keras.layers.DepthwiseConv2D(7, 2, use_bias=False)])
    stock.build((None, 9, 9, 8))
    stock.layers[1].set_weights([layer.kernel.numpy()])
    np.testing.assert_allclose(layer(x).numpy(), stock(x).numpy(), atol=1e-5)


def test_invalid_kernel_sizes():
    with pytest.raises(ValueError, match="odd"):
        ElasticDepthwiseConv(8, (3, 4))
    layer = ElasticDepthwiseConv(8, (3, 5))
    layer.build(None)
    with pytest.raises(ValueError, match=r"Invalid kernel size 7: expected one of \[3, 5\]"):
        layer.active_kernel(7)


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("size", [(9, 9), (6, 11)])
def test_stride_one_matches_numpy_reference(k, size):
    """Stride 1 runs with SAME padding: the same symmetric k//2 padding as PyTorch for odd kernels."""
    rng = np.random.default_rng(3)
    layer = ElasticDepthwiseConv(6, (3, 5, 7), strides=1)
    layer.build(None)
    layer.kernel.assign(rng.normal(size=(7, 7, 6, 1)).astype("float32"))
    x = rng.normal(size=(2, *size, 6)).astype("float32")
    expected = np_depthwise(x, layer.active_kernel(k).numpy(), 1)
    out = layer(x, kernel_size=k).numpy()
    assert out.shape == expected.shape == (2, *size, 6)
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=1e-4)
