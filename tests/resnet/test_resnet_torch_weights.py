import numpy as np
import pytest

import ofa_tf
from ofa_tf.families.resnet import OFAResNets
from ofa_tf.families.resnet.torch_weights import remap_resnet_key
from ofa_tf.torch_checkpoint import load_state_dict
from ofa_tf.torch_checkpoint import read_state_dict
from ofa_tf.zoo import download_weights

SMALL = dict(n_classes=100, width_mult_list=(0.15, 0.2, 0.25))


@pytest.fixture(scope="module")
def state_dict(shared):
    pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")
    path = shared / "reference" / "zoo" / "ofa_resnet50_small" / "ofa_resnet50_small.pth"
    if not path.is_file():
        pytest.skip(reason=f"reference fixture not found at {path}")
    return read_state_dict(path)


def test_every_reference_key_is_consumed_with_its_shape(state_dict):
    net = OFAResNets(**SMALL)
    table = net.torch_weight_table()
    keys = {k for k in state_dict if not k.endswith("num_batches_tracked")}
    assert keys == set(table)  # 18 blocks, stem, classifier: nothing left over either way
    load_state_dict(net, state_dict)
    stem = state_dict["input_stem.1.conv.conv.conv.weight"]
    np.testing.assert_array_equal(net.stem_conv1.kernel.numpy(), np.transpose(stem, (2, 3, 1, 0)))
    np.testing.assert_array_equal(net.classifier.kernel.numpy(), state_dict["classifier.linear.linear.weight"].T)


def test_static_layer_key_names_are_remapped(state_dict):
    legacy = {k.replace("bn.bn.", "bn.").replace("conv.conv.weight", "conv.weight").replace(
        ".linear.linear.", ".linear."): v for k, v in state_dict.items()}
    assert "blocks.0.conv1.bn.weight" in legacy and "input_stem.1.conv.conv.weight" in legacy
    net = OFAResNets(**SMALL)
    load_state_dict(net, legacy)
    np.testing.assert_array_equal(net.blocks[5].bn2.gamma.numpy(), state_dict["blocks.5.conv2.bn.bn.weight"])
    np.testing.assert_array_equal(net.stem_conv1.kernel.numpy(),
                                  np.transpose(state_dict["input_stem.1.conv.conv.conv.weight"], (2, 3, 1, 0)))


def test_remap_follows_reference_rules():
    known = {"blocks.0.conv1.bn.bn.weight"}
    assert remap_resnet_key("blocks.0.conv1.bn.bn.weight", known) == "blocks.0.conv1.bn.bn.weight"
    assert remap_resnet_key("classifier.linear.weight", known) == "classifier.linear.linear.weight"
    assert remap_resnet_key("blocks.0.downsample.bn.running_mean", known) == "blocks.0.downsample.bn.bn.running_mean"
    assert remap_resnet_key("blocks.0.conv2.conv.weight", known) == "blocks.0.conv2.conv.conv.weight"


def test_missing_unexpected_and_misshaped_keys_are_named(state_dict):
    net = OFAResNets(**SMALL)
    missing = dict(state_dict)
    del missing["blocks.8.downsample.bn.bn.running_var"]
    with pytest.raises(ValueError, match="missing 1 key.*blocks.8.downsample.bn.bn.running_var"):
        load_state_dict(net, missing)
    with pytest.raises(ValueError, match="Unexpected key 'blocks.3.downsample.conv.conv.weight'.*OFAResNets"):
        # blocks.3 is a stride-1 block of equal widths: its shortcut is the identity
        load_state_dict(net, {**state_dict, "blocks.3.downsample.conv.conv.weight": np.zeros((64, 64, 1, 1))})
    with pytest.raises(ValueError, match=r"'input_stem.0.conv.conv.weight'.*width_mult=\(0.15, 0.2, 0.3\)"):
        load_state_dict(OFAResNets(n_classes=100, width_mult_list=(0.15, 0.2, 0.3)), state_dict)
    with pytest.raises(ValueError, match="'classifier.linear.linear.weight'.*n_classes=10"):
        load_state_dict(OFAResNets(n_classes=10, width_mult_list=SMALL["width_mult_list"]), state_dict)


def test_pretrained_offline_error_explains_local_file(monkeypatch, tmp_path):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing cached
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError, match=r"huggingface.co/han-cai/ofa/resolve/main/ofa_supernet_resnet50.*"
                                              r"Offline\?.*ofa_net\('ofa_resnet50', weights="):
        download_weights("ofa_resnet50")


def test_pretrained_download_reads_a_local_url(monkeypatch, tmp_path, state_dict):
    """`pretrained=True` goes through `ofa_tf.download`; a file:// URL stands in for the network."""
    import dataclasses

    import torch

    from ofa_tf import zoo

    source = tmp_path / "ofa_supernet_resnet50"

    torch.save({"state_dict": {k: torch.from_numpy(v) for k, v in state_dict.items()}}, source)
    preset = dataclasses.replace(zoo.PRESETS["ofa_resnet50"], width_mult_list=SMALL["width_mult_list"],
                                 url=source.as_uri())
    monkeypatch.setitem(zoo.PRESETS, "ofa_resnet50", preset)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "cache"))
    net = ofa_tf.ofa_net("ofa_resnet50", pretrained=True, n_classes=100)
    assert (tmp_path / "cache" / "ofa_tf" / "ofa_resnet50").is_file()
    np.testing.assert_array_equal(net.blocks[2].bn3.beta.numpy(), state_dict["blocks.2.conv3.bn.bn.bias"])
