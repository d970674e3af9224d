"""OFA-ProxylessNAS supernet: structure, active subnet, reference checkpoint, parity, counting."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import ofa_tf
from ofa_tf.counting import profile
from ofa_tf.families.proxyless.supernet import OFAProxylessNASNets
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.torch_checkpoint import load_state_dict

W13 = "ofa_proxyless_d234_e346_k357_w1.3"
TINY = "ofa_proxyless_tiny_d234_e346_k357_w0.5"
TOL = 1e-4  # relative to the largest |logit|


@pytest.fixture(scope="module")
def tiny():
    return ofa_tf.ofa_net(TINY, n_classes=10, dropout_rate=0.0)


@pytest.fixture(scope="module")
def fixture_dir(shared):
    folder = shared / "reference" / "zoo" / "ofa_proxyless_w1.0"
    if not folder.is_dir():
        pytest.skip(reason=f"reference fixture not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def reference(fixture_dir):
    pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")
    net = OFAProxylessNASNets(dropout_rate=0.0)
    ofa_tf.load_weights(net, fixture_dir / "ofa_proxyless_w1.0.pth")
    cases = json.loads((fixture_dir / "ofa_proxyless_w1.0_cases.json").read_text())
    return net, cases["configs"], np.load(fixture_dir / "ofa_proxyless_w1.0_cases.npz")


def _rel_err(out, ref):
    return float(np.max(np.abs(np.asarray(out) - ref)) / np.max(np.abs(ref)))


def test_released_widths_relu6_and_bn_epsilon():
    net = ofa_tf.ofa_net(W13)
    assert (net.stem_width, net.first_block_width, net.feature_mix_width) == (40, 24, 1664)
    assert [s.width for s in net.stages] == [32, 56, 104, 128, 248, 416]
    assert [s.stride for s in net.stages] == [2, 2, 2, 1, 2, 1]
    assert len(net.blocks) == 22 and net.block_group_info[-1] == [21]
    first = net.blocks[0]
    assert not first.has_expansion and not first.has_shortcut
    assert {b.activation for b in net.blocks} == {"relu6"} and not any(b.use_se for b in net.blocks)
    assert {b.project_bn.epsilon for b in net.blocks} == {1e-3} and net.feature_mix_bn.epsilon == 1e-3
    assert net.search_space.n_blocks == 21 and net.search_space.n_stages == 6
    assert ofa_tf.search_space_size(net) == (9**2 + 9**3 + 9**4) ** 5 * 9


def test_set_active_subnet_takes_ints_and_reference_lists(tiny):
    tiny.set_active_subnet(ks=5, e=4, d=3)
    assert tiny.get_active_subnet_config() == {"ks": [5] * 21, "e": [4] * 21, "d": [3, 3, 3, 3, 3, 1]}
    ks = [3, 5, 7] * 7
    tiny.set_active_subnet(ks=ks, e=[6] * 21, d=[2, 3, 4, 2, 3, 2])  # the last entry is clamped to 1
    assert tiny.get_active_subnet_config() == {"ks": ks, "e": [6] * 21, "d": [2, 3, 4, 2, 3, 1]}
    assert [b for b, _, _ in tiny.active_blocks()] == [0, 1, 2, 5, 6, 7, 9, 10, 11, 12, 13, 14, 17, 18, 19, 21]
    with pytest.raises(ValueError, match="`d` must be an int or a list of length 6"):
        tiny.set_active_subnet(d=[4] * 5)
    with pytest.raises(ValueError, match="`ks` must be an int or a list of length 21"):
        tiny.set_active_subnet(ks=[3] * 20)
    with pytest.raises(ValueError, match=r"`d`\[5\]: expected one of \[1\]. Received d=4"):
        tiny.set_active_config({"ks": [3] * 21, "e": [3] * 21, "d": [4] * 6})
    with pytest.raises(ValueError, match="width_mult=0.25 gives the first conv and first block the same width"):
        OFAProxylessNASNets(width_mult=0.25)
    tiny.set_max_net()


def test_sample_active_subnet_keeps_last_stage_at_one_block(tiny):
    rng = np.random.default_rng(0)
    configs = [tiny.sample_active_subnet(rng) for _ in range(30)]
    assert all(len(c["ks"]) == 21 and len(c["e"]) == 21 and c["d"][-1] == 1 for c in configs)
    assert {d for c in configs for d in c["d"][:5]} == {2, 3, 4}
    assert tiny.get_active_subnet_config() == configs[-1]
    tiny.set_max_net()


def test_one_trace_for_many_subnets_and_resolutions(tiny):
    forward = tf.function(lambda x: tiny(x, training=False), input_signature=[tf.TensorSpec([None, None, None, 3])])
    rng = np.random.default_rng(1)
    inputs = {r: rng.normal(size=(1, r, r, 3)).astype("float32") for r in (12, 16)}
    outputs = set()
    for _ in range(8):
        tiny.sample_active_subnet(rng)
        outputs.update(forward(x).numpy().tobytes() for x in inputs.values())
    assert forward.experimental_get_tracing_count() == 1
    assert len(outputs) == 16
    tiny.set_max_net()


def test_materialized_subnet_matches_supernet_and_saves(tiny, tmp_path):
    tiny.set_active_subnet(ks=[3, 5, 7] * 7, e=[4, 6, 3] * 7, d=[3, 2, 4, 2, 3, 1])
    x = np.random.default_rng(2).normal(size=(2, 16, 16, 3)).astype("float32")
    subnet = tiny.get_active_subnet(resolution=16)
    assert not any(type(layer).__module__.startswith("ofa_tf") for layer in subnet.layers)
    np.testing.assert_allclose(subnet(x, training=False), tiny(x, training=False), rtol=1e-4, atol=1e-5)
    subnet.save(tmp_path / "subnet.keras")
    reloaded = keras.saving.load_model(tmp_path / "subnet.keras")
    np.testing.assert_allclose(reloaded(x), subnet(x), rtol=1e-6, atol=1e-6)
    tiny.set_max_net()


def test_keras_config_round_trip(tiny, tmp_path):
    clone = OFAProxylessNASNets.from_config(tiny.get_config())
    tiny.save_weights(tmp_path / "tiny.weights.h5")
    clone.load_weights(tmp_path / "tiny.weights.h5")
    x = np.random.default_rng(3).normal(size=(1, 12, 12, 3)).astype("float32")
    np.testing.assert_allclose(clone(x, training=False), tiny(x, training=False), rtol=1e-6)
    assert clone.search_space == tiny.search_space


def test_checkpoint_table_is_every_reference_key_with_its_shape(fixture_dir):
    torch = pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")
    state = torch.load(fixture_dir / "ofa_proxyless_w1.0.pth", map_location="cpu", weights_only=True)["state_dict"]
    keys = {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    table = OFAProxylessNASNets().torch_weight_table()
    assert set(table) == set(keys)
    for key, (variable, transform) in table.items():
        assert transform(np.zeros(keys[key], np.float32)).shape == tuple(variable.shape), key
    with pytest.raises(ValueError, match=r"Shape mismatch for checkpoint key 'first_conv.conv.weight'.*width_mult=1.3"):
        load_state_dict(OFAProxylessNASNets(width_mult=1.3), {k: v.numpy() for k, v in state.items()})


@pytest.mark.parametrize("resolution", [160, 224])
def test_supernet_and_subnet_match_reference_logits(reference, resolution):
    net, configs, arrays = reference
    x = arrays[f"input_r{resolution}"]
    errors = {}
    for case in configs:
        net.set_active_config(SubnetConfig.from_dict({k: case[k] for k in ("ks", "e", "d")}))
        ref = arrays[f"logits_{case['name']}_r{resolution}"]
        errors[case["name"]] = (_rel_err(net(x, training=False), ref),
                                _rel_err(net.get_active_subnet()(x, training=False), ref))
    worst = max(max(v) for v in errors.values())
    print(f"ProxylessNAS reference parity @{resolution}: worst relative error {worst:.2e} (tolerance {TOL:.0e})")
    assert worst < TOL, errors


def test_profile_equals_released_w13_figures(shared):
    numbers = json.loads((shared / "reference" / "reference_numbers.json").read_text())
    key = next(k for k in numbers["subnets"] if k.startswith("proxyless_w1.3"))
    net = ofa_tf.ofa_net(W13)
    assert sum(int(w.numpy().size) for w in net.trainable_weights) == numbers["supernet_params"]["proxyless_w1.3"]
    checked = 0
    for name, (k, e, d) in {"max (ks=7,e=6,d=4)": (7, 6, 4), "min (ks=3,e=3,d=2)": (3, 3, 2)}.items():
        net.set_active_subnet(ks=k, e=e, d=d)
        for resolution, macs in numbers["subnets"][key][name]["macs"].items():
            counted = profile(net, int(resolution))
            assert (counted["params"], counted["macs"]) == (numbers["subnets"][key][name]["params"], macs)
            checked += 1
    assert checked == 4


def test_pretrained_downloads_the_official_checkpoint(monkeypatch, fixture_dir):
    pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")
    from ofa_tf import zoo

    from ofa_tf.download import cache_dir

    seen = {}

    def fetch(url, target, verify):
        seen.update(url=url, target=target)
        return fixture_dir / "ofa_proxyless_w1.0.pth"

    monkeypatch.delenv("OFA_TF_FILES_URL", raising=False)
    monkeypatch.setattr(zoo, "fetch_url", fetch)
    with pytest.raises(ValueError, match="Shape mismatch"):  # the fixture is width 1.0, the release 1.3
        ofa_tf.ofa_net(W13, pretrained=True)
    url = f"https://raw.githubusercontent.com/han-cai/files/master/ofa/ofa_nets/{W13}"
    assert seen == {"url": url, "target": cache_dir() / W13}
