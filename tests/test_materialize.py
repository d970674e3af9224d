import keras
import numpy as np
import pytest

import ofa_tf


@pytest.fixture(scope="module")
def net():
    net = ofa_tf.ofa_net("ofa_mbv3_small_d234_e346_k357_w0.5", n_classes=10, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    for w in net.weights:  # non-trivial BN statistics and transform matrices
        if w.dtype == "float32" and ("moving" in w.path or "matrix" in w.path or "beta" in w.path):
            base = np.eye(w.shape[0]) if "matrix" in w.path else (1.0 if "variance" in w.path else 0.0)
            w.assign((base + rng.uniform(0.0, 0.5, size=w.shape)).astype("float32"))
    return net


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("seed", range(4))
def test_subnet_reproduces_supernet(net, seed):
    net.sample_active_subnet(np.random.default_rng(seed))
    x = np.random.default_rng(10 + seed).normal(size=(2, 32, 32, 3)).astype("float32")
    subnet = net.get_active_subnet()
    assert _rel(subnet(x, training=False).numpy(), net(x, training=False).numpy()) < 1e-5


def test_subnet_is_stock_keras_and_saves_without_custom_objects(net, tmp_path):
    net.set_active_subnet(ks=[3, 5, 7, 3] * 5, e=[3, 4, 6, 4] * 5, d=[2, 3, 4, 3, 2])
    subnet = net.get_active_subnet(resolution=32)
    assert {type(layer).__module__.split(".")[0] for layer in subnet.layers} == {"keras"}
    assert subnet.input_shape == (None, 32, 32, 3)
    path = tmp_path / "subnet.keras"
    subnet.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(restored(x).numpy(), subnet(x).numpy(), rtol=1e-6, atol=1e-6)
    # Only the active blocks: 1 + 2 + 3 + 4 + 3 + 2, renumbered contiguously.
    projects = [layer.name for layer in subnet.layers if layer.name.endswith("_project")]
    assert projects == [f"blocks_{i}_project" for i in range(15)]


def test_no_elastic_leftovers_in_depthwise_kernels(net):
    net.set_active_subnet(ks=3, e=3, d=2)
    subnet = net.get_active_subnet()
    depthwise = [layer for layer in subnet.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    assert {layer.kernel.shape[:2] for layer in depthwise} == {(3, 3)}
    expand = subnet.get_layer("blocks_1_expand")
    assert expand.kernel.shape == (1, 1, 8, 24)  # w0.5: first block 8 channels, e=3
