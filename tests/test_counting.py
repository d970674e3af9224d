import json

import keras
import pytest

import ofa_tf
from ofa_tf.counting import profile

NETS = {"w1.0": "ofa_mbv3_d234_e346_k357_w1.0", "w1.2": "ofa_mbv3_d234_e346_k357_w1.2"}
SUBNETS = {"max (ks=7,e=6,d=4)": (7, 6, 4), "min (ks=3,e=3,d=2)": (3, 3, 2)}


@pytest.fixture(scope="module")
def reference(shared):
    return json.loads((shared / "reference" / "reference_numbers.json").read_text())


@pytest.fixture(scope="module", params=sorted(NETS))
def width(request):
    return request.param, ofa_tf.ofa_net(NETS[request.param])


def test_params_and_macs_equal_reference(reference, width):
    key, net = width
    for name, (k, e, d) in SUBNETS.items():
        expected = reference["subnets"][key][name]
        net.set_active_subnet(ks=k, e=e, d=d)
        for resolution, macs in expected["macs"].items():
            counted = profile(net, int(resolution))
            assert counted["params"] == expected["params"], (key, name)
            assert counted["macs"] == macs, (key, name, resolution, counted)
            assert abs(counted["macs_exact"] - macs) <= 32  # the reference adds in float32


def test_supernet_parameter_total_includes_transform_matrices(reference, width):
    key, net = width
    total = sum(int(w.numpy().size) for w in net.trainable_weights)
    assert total == reference["supernet_params"][key]


def test_profile_of_plain_keras_model_needs_resolution():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    assert profile(model, 8) == {"params": 108 + 40 + 10, "macs": 1728 + 576 + 8, "macs_exact": 2312}
    with pytest.raises(ValueError, match="no fixed size; pass `resolution`"):
        profile(model)


def test_search_space_size():
    net = ofa_tf.ofa_net("ofa_mbv3_small_d234_e346_k357_w0.5")
    assert ofa_tf.search_space_size(net) == 7371**5 == 21758655492572485851
