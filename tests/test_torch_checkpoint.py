import json

import numpy as np
import pytest

import ofa_tf
from ofa_tf.torch_checkpoint import load_state_dict
from ofa_tf.families.mbconv.torch_weights import remap_key
from ofa_tf.families.mobilenet_v3.torch_weights import weight_table
from ofa_tf.zoo import download_weights

W10 = "ofa_mbv3_d234_e346_k357_w1.0"
SMALL = "ofa_mbv3_small_d234_e346_k357_w0.5"

_TO_TORCH = {4: lambda w: np.transpose(w, (3, 2, 0, 1)), 2: np.transpose, 1: lambda w: w}


def torch_layout_state_dict(net):
    """The supernet's weights in the reference's key names and PyTorch layouts."""
    out = {}
    for key, (variable, _) in weight_table(net).items():
        value = variable.numpy()
        if key.endswith("matrix"):
            out[key] = value
        elif ".depth_conv.conv" in key and key.endswith("weight") and "se." not in key:
            out[key] = np.transpose(value, (2, 3, 0, 1))  # [kh, kw, C, 1] -> [C, 1, kh, kw]
        elif ".se.fc." in key and key.endswith("weight"):
            out[key] = np.transpose(value)[:, :, None, None]
        else:
            out[key] = _TO_TORCH[value.ndim](value)
    return out


@pytest.fixture(scope="module")
def small_pair():
    rng = np.random.default_rng(0)
    source = ofa_tf.ofa_net(SMALL, n_classes=10, dropout_rate=0.0)
    for w in source.trainable_weights:
        w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    return source, torch_layout_state_dict(source)


@pytest.mark.parametrize("width", ["w1.0", "w1.2"])
def test_table_covers_every_reference_key_with_its_shape(shared, width):
    listing = json.loads((shared / "reference" / f"ofa_mbv3_{width}_state_dict_shapes.json").read_text())
    net = ofa_tf.ofa_net(f"ofa_mbv3_d234_e346_k357_{width}")
    table = weight_table(net)
    expected = {k: tuple(v) for k, v in listing.items() if not k.endswith("num_batches_tracked")}
    assert set(table) == set(expected)
    fake = {k: np.zeros(v, np.float32) for k, v in listing.items()}
    load_state_dict(net, fake)  # every key consumed, every shape accepted


def test_round_trip_reproduces_outputs(small_pair):
    source, state_dict = small_pair
    target = ofa_tf.ofa_net(SMALL, n_classes=10, dropout_rate=0.0)
    load_state_dict(target, state_dict)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    for net in (source, target):
        net.set_active_subnet(ks=5, e=4, d=3)
    np.testing.assert_allclose(target(x).numpy(), source(x).numpy(), rtol=1e-6, atol=1e-6)


def test_legacy_key_names_are_remapped(small_pair):
    source, state_dict = small_pair
    legacy = {}
    for key, value in state_dict.items():
        key = key.replace(".conv.", ".mobile_inverted_conv.", 1) if key.startswith("blocks.") else key
        legacy[key.replace(".bn.bn.", ".bn.").replace(".conv.conv.weight", ".conv.weight")] = value
    target = ofa_tf.ofa_net(SMALL, n_classes=10)
    load_state_dict(target, legacy)
    np.testing.assert_array_equal(target.blocks[3].expand_bn.gamma.numpy(), source.blocks[3].expand_bn.gamma.numpy())


def test_remap_rules_follow_reference_order():
    known = {"blocks.1.conv.inverted_bottleneck.bn.bn.weight", "first_conv.bn.weight", "classifier.linear.weight"}
    assert remap_key("blocks.1.mobile_inverted_conv.inverted_bottleneck.bn.weight", known) == (
        "blocks.1.conv.inverted_bottleneck.bn.bn.weight"
    )
    assert remap_key("classifier.weight", known) == "classifier.weight"
    assert remap_key("classifier.linear.weight", known) == "classifier.linear.weight"
    assert remap_key("x.linear.weight", known) == "x.linear.linear.weight"


def test_missing_unexpected_and_misshaped_keys_are_named(small_pair):
    _, state_dict = small_pair
    target = ofa_tf.ofa_net(SMALL, n_classes=10)
    missing = dict(state_dict)
    del missing["blocks.3.conv.point_linear.bn.bn.running_var"]
    with pytest.raises(ValueError, match="missing 1 key.*blocks.3.conv.point_linear.bn.bn.running_var"):
        load_state_dict(target, missing)
    with pytest.raises(ValueError, match="Unexpected key 'blocks.99.conv.extra'"):
        load_state_dict(target, {**state_dict, "blocks.99.conv.extra": np.zeros(3)})
    with pytest.raises(ValueError, match="Shape mismatch for checkpoint key 'classifier.linear.weight'.*n_classes=7"):
        load_state_dict(ofa_tf.ofa_net(SMALL, n_classes=7), state_dict)


def test_matrices_missing_keep_identity(small_pair):
    _, state_dict = small_pair
    full_net_checkpoint = {k: v for k, v in state_dict.items() if not k.endswith("_matrix")}
    target = ofa_tf.ofa_net(SMALL, n_classes=10)
    load_state_dict(target, full_net_checkpoint)
    np.testing.assert_array_equal(target.blocks[1].depthwise_conv.transform_matrices["7to5_matrix"].numpy(), np.eye(25))


def test_wrong_width_checkpoint_is_rejected(shared):
    listing = json.loads((shared / "reference" / "ofa_mbv3_w1.2_state_dict_shapes.json").read_text())
    w12 = {k: np.zeros(v, np.float32) for k, v in listing.items()}
    with pytest.raises(ValueError, match=r"Shape mismatch for checkpoint key 'first_conv.conv.weight'.*width_mult=1.0"):
        load_state_dict(ofa_tf.ofa_net(W10), w12)


def test_pretrained_offline_error_explains_local_file(monkeypatch, tmp_path):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing cached
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError, match=r"Offline\?.*weights='/path/to/ofa_mbv3_d234_e346_k357_w1.0'"):
        download_weights(W10)
    with pytest.raises(ValueError, match="No official weights exist for 'ofa_mbv3_small"):
        download_weights(SMALL)


def test_read_state_dict_unwraps_and_checks_files(tmp_path):
    torch = pytest.importorskip("torch", reason="reading .pth needs the torch extra")
    from ofa_tf.torch_checkpoint import read_state_dict

    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {"a.weight": torch.ones(2, 3)}}, path)
    np.testing.assert_array_equal(read_state_dict(path)["a.weight"], np.ones((2, 3)))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        read_state_dict(tmp_path / "nope.pth")
