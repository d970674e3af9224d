"""Reference network configs -> stock Keras models: parity on the zoo fixtures and rejection of what is not
understood (every field honoured or rejected by name, unknown layer names)."""
import copy
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from ofa_tf.layer_config import build_network
from ofa_tf.torch_checkpoint import read_state_dict

NETS = ("note8_lat@54ms_top1@70.0_finetune@25", "cpu_lat@11ms_top1@71.0_finetune@25",
        "resnet50D_MAC@2.2B_top1@77.0_finetune@25")


@pytest.fixture(scope="module")
def zoo(shared):
    return shared / "reference" / "zoo" / "specialized"


def _config(zoo, net="note8_lat@54ms_top1@70.0_finetune@25"):
    return json.loads((zoo / net / "net.config").read_text())


@pytest.mark.parametrize("net", NETS)
def test_fixture_logits_match_reference(zoo, net):
    folder = zoo / net
    model = build_network(json.loads((folder / "net.config").read_text()), read_state_dict(folder / "init"))
    cases = np.load(folder / "logits.npz")
    logits = model(cases["input"], training=False).numpy()
    assert {type(layer).__module__.split(".")[0] for layer in model.layers} == {"keras"}
    np.testing.assert_allclose(logits, cases["logits"], rtol=0, atol=1e-4 * np.abs(cases["logits"]).max())


CASES = Path(__file__).parent / "data" / "layer_config_cases"


@pytest.mark.parametrize("net", ["proxyless_exotic", "resnet_exotic"])
def test_every_field_matches_the_reference(net):
    """Ops orders, conv bias, SE on a ConvLayer, BN'd identity and linear layers, both downsample modes and every
    activation, at odd and even sizes, against the reference (`tests/data/make_layer_config_cases.py`)."""
    config = json.loads(CASES.with_suffix(".json").read_text())[net]
    cases = np.load(CASES.with_suffix(".npz"))
    prefix = f"{net}/state/"
    state = {k[len(prefix):]: cases[k] for k in cases.files if k.startswith(prefix)}
    model = build_network(config, state)
    for size in (33, 32):
        logits = model(cases[f"{net}/input_{size}"], training=False).numpy()
        reference = cases[f"{net}/logits_{size}"]
        np.testing.assert_allclose(logits, reference, rtol=0, atol=1e-5 * np.abs(reference).max())


def test_fresh_weights_without_state_dict(zoo):
    model = build_network(_config(zoo), None, resolution=64, batch_size=1)
    assert model.input_shape == (1, 64, 64, 3) and model.output_shape == (1, 1000)
    bn = model.get_layer("first_conv_bn")
    np.testing.assert_array_equal(bn.moving_variance.numpy(), 1.0)
    # The reference's BN momentum 0.1 is Keras's 0.9; eps as configured.
    assert bn.momentum == pytest.approx(0.9) and bn.epsilon == 1e-5


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["blocks"][2]["conv"].update(name="FancyConvLayer"),
     "blocks.2.conv: unknown layer name 'FancyConvLayer'"),
    (lambda c: c["blocks"][3]["conv"].update(width=2), "blocks.3.conv: unknown field(s) ['width'] in MBConvLayer"),
    (lambda c: c["first_conv"].update(dilation=2), "first_conv: ConvLayer field dilation=2 is not supported"),
    (lambda c: c["first_conv"].update(groups=3), "ConvLayer field groups=3"),
    (lambda c: c["blocks"][1]["conv"].update(act_func="swish"), "unknown act_func='swish'"),
    (lambda c: c["first_conv"].update(ops_order="weight_bn"), "ops_order='weight_bn'"),
    (lambda c: c["bn"].update(ws_eps=1e-5), "ws_eps=1e-05"),
    (lambda c: c.update(head=None), "Unknown field(s) ['head'] in the MobileNetV3 net.config"),
    (lambda c: c.update(name="EfficientNet"), "Unknown network name 'EfficientNet'"),
    (lambda c: c["blocks"][1].update(shortcut={"name": "ZeroLayer", "gain": 1}), "unknown field(s) ['gain']"),
    (lambda c: c["blocks"][1]["conv"].pop("in_channels"), "missing the field 'in_channels'"),
])
def test_config_errors_name_the_field(zoo, edit, message):
    config = _config(zoo)
    edit(config)
    with pytest.raises(ValueError) as err:
        build_network(config, None)
    assert message in str(err.value)


def test_state_dict_mismatches_are_named(zoo):
    folder = zoo / NETS[0]
    state = read_state_dict(folder / "init")
    extra = dict(state, **{"blocks.99.conv.weight": np.zeros(3)})
    with pytest.raises(ValueError, match=r"does not use, first 'blocks.99.conv.weight'"):
        build_network(_config(zoo), extra)
    missing = {k: v for k, v in state.items() if k != "blocks.4.conv.depth_conv.se.fc.expand.bias"}
    with pytest.raises(ValueError, match=r"no tensor 'blocks.4.conv.depth_conv.se.fc.expand.bias'"):
        build_network(_config(zoo), missing)
    config = _config(zoo)
    config["blocks"][1]["conv"]["mid_channels"] = 72
    with pytest.raises(ValueError, match=r"'blocks.1.conv.inverted_bottleneck.conv.weight' has shape"):
        build_network(config, state)


def test_older_zoo_spellings_and_zero_layers(zoo):
    """`MobileInvertedResidualBlock` / `MBInvertedConvLayer` / `mobile_inverted_conv` / list-valued identity
    channels (older configs) build the same network; a ZeroLayer shortcut drops the residual add, a ZeroLayer conv
    the whole block."""
    config = _config(zoo)
    old = copy.deepcopy(config)
    for block in old["blocks"]:
        block["name"] = "MobileInvertedResidualBlock"
        block["mobile_inverted_conv"] = block.pop("conv")
        block["mobile_inverted_conv"]["name"] = "MBInvertedConvLayer"
        if block["shortcut"]:
            block["shortcut"]["in_channels"] = [block["shortcut"]["in_channels"]]
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    a = build_network(config, None)
    b = build_network(old, None)
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(b(x).numpy(), a(x).numpy(), atol=1e-6)
    config["blocks"][2]["shortcut"] = {"name": "ZeroLayer"}
    config["blocks"][4]["conv"] = {"name": "ZeroLayer"}
    names = [layer.name for layer in build_network(config, None).layers]
    assert "blocks_2_add" not in names and not any(n.startswith("blocks_4_") for n in names)
