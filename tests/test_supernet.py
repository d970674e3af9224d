import numpy as np
import pytest
import tensorflow as tf

import ofa_tf
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3

SMALL = "ofa_mbv3_small_d234_e346_k357_w0.5"


@pytest.fixture(scope="module")
def net():
    return ofa_tf.ofa_net(SMALL, n_classes=10, dropout_rate=0.0)


def test_one_trace_for_many_subnets_and_two_resolutions(net):
    fwd = tf.function(lambda x: net(x, training=False), input_signature=[tf.TensorSpec([None, None, None, 3])])
    rng = np.random.default_rng(0)
    inputs = {r: rng.normal(size=(1, r, r, 3)).astype("float32") for r in (16, 24)}
    outputs = set()
    for i in range(50):
        net.sample_active_subnet(rng)
        for r, x in inputs.items():
            outputs.add(fwd(x).numpy().tobytes())
    assert fwd.experimental_get_tracing_count() == 1
    assert len(outputs) == 100


def test_subnet_tensors_run_in_one_training_trace(net):
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([20], tf.int32),
                                  tf.TensorSpec([20], tf.int32), tf.TensorSpec([5], tf.int32)])
    def train_forward(x, ks, e, d):
        return net(x, training=True, subnet=(ks, e, d))

    rng = np.random.default_rng(1)
    before = net.get_active_subnet_config()
    for i in range(8):
        config = net.search_space.sample(rng)
        r = (16, 24)[i % 2]
        out = train_forward(rng.normal(size=(2, r, r, 3)).astype("float32"), config.ks, config.e, config.d)
        assert out.shape == (2, 10)
    assert train_forward.experimental_get_tracing_count() == 1
    assert net.get_active_subnet_config() == before  # passing a subnet does not touch the active one


def test_set_active_subnet_broadcasts_and_keeps_none(net):
    net.set_active_subnet(ks=7, e=6, d=4)
    ks = [3] * 20
    ks[5] = None
    net.set_active_subnet(ks=ks, d=[2, 3, 4, 2, None])
    config = net.get_active_subnet_config()
    assert config["ks"][5] == 7 and config["ks"][0] == 3
    assert config["e"] == [6] * 20
    assert config["d"] == [2, 3, 4, 2, 4]
    assert "r" not in config
    net.set_active_subnet(r=28)
    assert net.get_active_subnet_config()["r"] == 28
    net.set_max_net()
    assert net.get_active_subnet_config()["ks"] == [7] * 20
    net.set_active_subnet(r=None)


def test_sample_is_seeded_and_in_space(net):
    a = net.sample_active_subnet(np.random.default_rng(5))
    b = net.sample_active_subnet(np.random.default_rng(5))
    assert a == b
    net.search_space.validate(SubnetConfig.from_dict(a))
    assert net.get_active_subnet_config() == b


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ks=4), r"Invalid value for `ks`\[0\]: expected one of \[3, 5, 7\]. Received ks=4"),
        (dict(e=[3] * 19), "`e` must be an int or a list of length 20; received a list of length 19"),
        (dict(d=[2, 3, 4, 5, 2]), r"Invalid value for `d`\[3\]: expected one of \[2, 3, 4\]. Received d=5"),
    ],
)
def test_invalid_subnet_arguments(net, kwargs, message):
    before = net.get_active_subnet_config()
    with pytest.raises(ValueError, match=message):
        net.set_active_subnet(**kwargs)
    assert net.get_active_subnet_config() == before


def test_wrong_input_channels(net):
    with pytest.raises(ValueError, match=r"3 channels; received input shape \(1, 32, 32, 1\)"):
        net(np.zeros((1, 32, 32, 1), "float32"))


def test_unknown_net_id():
    with pytest.raises(ValueError, match="Unknown net_id 'ofa_mbv3_w9'. Known ids: ofa_mbv3_d234"):
        ofa_tf.ofa_net("ofa_mbv3_w9")


def test_custom_search_space():
    net = ofa_tf.OFAMobileNetV3(n_classes=5, width_mult=0.5, ks_list=[3, 5], expand_list=[2, 4], depth_list=[1, 2],
                                first_stride=1, stage_strides=(1, 2, 2, 1, 2))
    assert net.search_space.n_blocks == 10
    assert sorted(net.blocks[1].depthwise_conv.transform_matrices) == ["5to3_matrix"]
    net.set_active_subnet(ks=3, e=2, d=1)
    x = np.random.default_rng(0).normal(size=(1, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(net.get_active_subnet()(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-5)
    assert ofa_tf.search_space_size(net) == (4 + 16) ** 5


def test_keras_save_and_load_round_trip(net, tmp_path):
    import keras

    net.set_active_subnet(ks=5, e=4, d=3)
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    path = tmp_path / "supernet.keras"
    net.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x).numpy(), net(x).numpy(), rtol=1e-6, atol=1e-6)
    weights = tmp_path / "supernet.weights.h5"
    net.save_weights(weights)
    other = ofa_tf.ofa_net(SMALL, n_classes=10, weights=weights, dropout_rate=0.0)
    np.testing.assert_allclose(other(x).numpy(), net(x).numpy(), rtol=1e-6, atol=1e-6)
    assert other.get_active_subnet_config() == net.get_active_subnet_config()


def test_tf_checkpoint_covers_every_variable(net, tmp_path):
    path = tf.train.Checkpoint(model=net).write(str(tmp_path / "ckpt"))
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("model/")]
    assert len(saved) == len(net.variables)
    other = ofa_tf.ofa_net(SMALL, n_classes=10, dropout_rate=0.0)
    tf.train.Checkpoint(model=other).read(path).assert_consumed()
    for a, b in zip(net.variables, other.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_tiny_preset_ends_at_2x2_from_16_px():
    net = ofa_tf.ofa_net("ofa_mbv3_tiny_d234_e346_k357_w0.5", n_classes=10)
    assert net.search_space.resolutions == (8, 12, 16) and net.first_stride == 1
    subnet = net.get_active_subnet(resolution=16)
    pooled_input = subnet.get_layer("pool").input
    assert tuple(pooled_input.shape[1:3]) == (2, 2)


@pytest.mark.parametrize("width_mult, first_stride, stage_strides", [(1.0, 2, (2, 2, 2, 1, 2)), (0.5, 1, (1, 2, 2, 1, 2))])
def test_network_shape_is_what_the_supernet_is_built_from(width_mult, first_stride, stage_strides):
    net = OFAMobileNetV3(n_classes=7, width_mult=width_mult, first_stride=first_stride, stage_strides=stage_strides,
                         ks_list=(3,), expand_list=(3,), depth_list=(2,), resolutions=(32,))
    shape = net.network_shape
    assert shape == NetworkShape.mobilenet_v3(width_mult, 7, stem_stride=first_stride, strides=stage_strides)
    assert net.first_conv.filters == shape.stem_width and net.first_conv.strides == (first_stride,) * 2
    assert net.blocks[0].out_channels == shape.first_block_width
    for stage, group in zip(shape.stages, net.block_group_info):
        first = net.blocks[group[0]]
        assert (first.out_channels, first.strides, first.use_se, first.activation) == (
            stage.width, stage.stride, stage.use_se, stage.activation)
    assert net.final_expand_conv.filters == shape.final_expand_width
    assert net.feature_mix_conv.filters == shape.feature_mix_width and net.classifier.units == shape.n_classes


def test_fractional_architecture_values_are_refused_not_truncated():
    from ofa_tf.families.mbconv.space import SearchSpace

    space = SearchSpace()
    with pytest.raises(ValueError, match=r"Invalid value in `ks`: expected an integer. Received 7.9"):
        space.expand(ks=7.9)
    with pytest.raises(ValueError, match=r"Invalid value in `e`: expected an integer. Received 4.5"):
        space.expand(e=[4.5] + [None] * 19)
    with pytest.raises(ValueError, match=r"Invalid value in `r`: expected an integer. Received 12.7"):
        SubnetConfig.from_dict({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 12.7})
    assert space.expand(ks=7.0, d=[2.0] * 5).ks == (7,) * 20  # integral floats (e.g. from JSON) are fine
