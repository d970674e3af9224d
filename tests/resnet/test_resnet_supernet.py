import keras
import numpy as np
import pytest
import tensorflow as tf

import ofa_tf
from ofa_tf.families.resnet import OFAResNets
from ofa_tf.families.resnet import ResNetConfig

# The fixture's widths (ofa_resnet50_small): the same code paths as ofa_resnet50 at a fraction of the size.
SMALL = dict(n_classes=10, width_mult_list=(0.15, 0.2, 0.25), resolutions=(32, 48))


@pytest.fixture(scope="module")
def net():
    net = OFAResNets(**SMALL)
    rng = np.random.default_rng(0)
    for w in net.weights:  # non-trivial BN statistics and affine parameters
        if w.dtype == "float32" and ("moving" in w.path or "beta" in w.path or "gamma" in w.path):
            base = 1.0 if ("variance" in w.path or "gamma" in w.path) else 0.0
            w.assign((base + rng.uniform(-0.3, 0.3, size=w.shape)).astype("float32"))
    return net


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_widths_follow_reference():
    net = ofa_tf.ofa_net("ofa_resnet50", dropout_rate=0.0)
    assert isinstance(net, OFAResNets) and net.n_classes == 1000 and net.width_mult_list == (0.65, 0.8, 1.0)
    assert net.stem_mid_widths == (24, 24, 32) and net.stem_widths == (40, 48, 64)
    assert net.stage_widths == ((168, 208, 256), (336, 408, 512), (664, 816, 1024), (1328, 1640, 2048))
    assert len(net.blocks) == 18 and [len(g) for g in net.block_group_info] == [4, 4, 6, 4]
    assert [b.strides for b in net.blocks if b.has_downsample] == [1, 2, 2, 2]
    assert "ofa_resnet50" in ofa_tf.net_ids()


def test_one_trace_for_many_subnets_and_two_resolutions(net):
    fwd = tf.function(lambda x: net(x, training=False), input_signature=[tf.TensorSpec([None, None, None, 3])])
    rng = np.random.default_rng(0)
    inputs = {r: rng.normal(size=(1, r, r, 3)).astype("float32") for r in (32, 48)}
    outputs = set()
    for _ in range(15):
        net.sample_active_subnet(rng)
        for x in inputs.values():
            outputs.add(fwd(x).numpy().tobytes())
    assert fwd.experimental_get_tracing_count() == 1
    assert len(outputs) == 30


def test_subnet_tensors_run_in_one_training_trace(net):
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([5], tf.int32),
                                  tf.TensorSpec([18], tf.int32), tf.TensorSpec([6], tf.int32)])
    def train_forward(x, d, e, w):
        return net(x, training=True, subnet=(d, e, w))

    rng = np.random.default_rng(1)
    before = [v.numpy().copy() for v in net.non_trainable_weights]
    config = net.get_active_subnet_config()
    for i in range(4):
        c = net.search_space.sample(rng)
        e = [net.search_space.expand_list.index(v) for v in c.e]
        out = train_forward(rng.normal(size=(2, 32 + 16 * (i % 2), 32, 3)).astype("float32"), c.d, e, c.w)
        assert out.shape == (2, 10)
    assert train_forward.experimental_get_tracing_count() == 1
    assert net.get_active_subnet_config() == config  # passing a subnet does not touch the active one
    for v, old in zip(net.non_trainable_weights, before):  # training-mode BN restores nothing: put it back
        v.assign(old)


def test_set_active_subnet_broadcasts_and_keeps_none(net):
    net.set_max_net()
    net.set_active_subnet(d=[0, 1, None, 2, 0], e=0.2, w=1)
    config = net.get_active_subnet_config()
    assert config == {"d": [0, 1, 2, 2, 0], "e": [0.2] * 18, "w": [1] * 6}
    net.set_active_subnet(e=[0.35] + [None] * 17, r=48)
    config = net.get_active_config()
    assert config.e[:2] == (0.35, 0.2) and config.r == 48
    with pytest.raises(ValueError, match=r"`d`\[1\]: expected one of \[0, 1, 2\]. Received d=4"):
        net.set_active_subnet(d=[2, 4, 0, 0, 0])
    net.set_max_net()
    assert net.get_active_config() == net.search_space.max_config(48)
    net.set_active_subnet(r=None)


@pytest.mark.parametrize("seed", range(3))
def test_subnet_reproduces_supernet(net, seed):
    config = net.search_space.sample(np.random.default_rng(seed))
    net.set_active_config(config if seed else ResNetConfig([0] * 5, config.e, config.w))  # seed 0: stem skipped
    x = np.random.default_rng(10 + seed).normal(size=(2, 40, 40, 3)).astype("float32")
    subnet = net.get_active_subnet()
    assert _rel(subnet(x, training=False).numpy(), net(x, training=False).numpy()) < 1e-5
    running = len(net.active_blocks())
    assert sum(1 for layer in subnet.layers if layer.name.endswith("_add")) == running + (config.d[0] == 2) * bool(seed)


def test_subnet_is_stock_keras_and_saves_without_custom_objects(net, tmp_path):
    net.sample_active_subnet(np.random.default_rng(5))
    subnet = net.get_active_subnet(resolution=32)
    assert all(type(layer).__module__.startswith("keras") for layer in subnet.layers)
    subnet.save(tmp_path / "subnet.keras")
    loaded = keras.models.load_model(tmp_path / "subnet.keras")
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), subnet(x).numpy(), rtol=1e-6, atol=1e-6)


def test_config_and_weights_round_trip(net, tmp_path):
    clone = OFAResNets.from_config(net.get_config())
    assert clone.get_config() == net.get_config()
    net.save_weights(tmp_path / "net.weights.h5")
    clone.load_weights(tmp_path / "net.weights.h5")
    net.sample_active_subnet(np.random.default_rng(3))
    clone.set_active_config(net.get_active_config())
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(clone(x, training=False).numpy(), net(x, training=False).numpy())


def test_calibrate_bn_changes_only_the_active_slices(net):
    net.set_active_subnet(d=0, e=0.2, w=0)
    block = net.blocks[net.active_blocks()[-1][0]]
    before = block.bn3.moving_mean.numpy().copy()
    data = [np.random.default_rng(i).normal(size=(4, 32, 32, 3)).astype("float32") for i in range(2)]
    assert ofa_tf.calibrate_bn(net, data) == 8
    after = block.bn3.moving_mean.numpy()
    active = block.out_channels[0]
    assert not np.allclose(after[:active], before[:active])
    np.testing.assert_array_equal(after[active:], before[active:])


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="n_classes=0"):
        OFAResNets(n_classes=0)
    with pytest.raises(ValueError, match="width_mult_list"):
        OFAResNets(width_mult_list=())
