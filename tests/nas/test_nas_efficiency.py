import json

import numpy as np
import pytest

from ofa_tf.nas import ConfigBatch
from ofa_tf.latency import LatencyTableModel
from ofa_tf.nas import MacsModel
from ofa_tf.nas import MeasuredLatencyModel
from ofa_tf.nas import NetworkShape
from ofa_tf.nas import ParamsModel
from ofa_tf.nas import StageShape
from ofa_tf.nas import count_macs
from ofa_tf.nas import count_params
from ofa_tf.latency import latency_table_keys
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig

SPACE = SearchSpace()


def _random_configs(n, seed=0, space=SPACE, resolutions=(128, 160, 192, 224)):
    rng = np.random.default_rng(seed)
    return [space.sample(rng).with_resolution(int(rng.choice(resolutions))) for _ in range(n)]


def _reference_shapes():
    return {"w1.0": NetworkShape.mobilenet_v3(1.0), "w1.2": NetworkShape.mobilenet_v3(1.2)}


def test_mobilenet_v3_widths():
    w12 = NetworkShape.mobilenet_v3(1.2)
    assert (w12.stem_width, w12.first_block_width) == (24, 24)
    assert [s.width for s in w12.stages] == [32, 48, 96, 136, 192]
    assert (w12.final_expand_width, w12.feature_mix_width) == (1152, 1536)
    w10 = NetworkShape.mobilenet_v3(1.0)
    assert [s.stride for s in w10.stages] == [2, 2, 2, 1, 2]
    assert [s.use_se for s in w10.stages] == [False, True, False, True, True]
    assert [s.use_hswish for s in w10.stages] == [False, False, True, True, True]


@pytest.mark.parametrize("net", ["w1.0", "w1.2"])
@pytest.mark.parametrize("which", ["max (ks=7,e=6,d=4)", "min (ks=3,e=3,d=2)"])
def test_params_and_macs_match_reference(shared, net, which):
    reference = json.loads((shared / "reference" / "reference_numbers.json").read_text())["subnets"][net][which]
    shape = _reference_shapes()[net]
    make = SPACE.max_config if which.startswith("max") else SPACE.min_config
    configs = [make(r=int(r)) for r in reference["macs"]]
    expected_macs = np.array(list(reference["macs"].values()))
    assert count_params(shape, configs).tolist() == [reference["params"]] * len(configs)
    # The reference's profile() sums per-layer counts in float32; that mode reproduces it bit for bit ...
    np.testing.assert_array_equal(count_macs(shape, configs, float32_accumulation=True), expected_macs)
    # ... and the exact integer count is within float32 rounding of it.
    exact = count_macs(shape, configs)
    assert (np.abs(exact - expected_macs) <= 2.0 ** (np.floor(np.log2(expected_macs)) - 23) * 2).all()
    np.testing.assert_allclose(MacsModel(shape).predict(configs), exact / 1e6)
    np.testing.assert_allclose(ParamsModel(shape).predict(configs), reference["params"] / 1e6)


def _scalar_counts(shape, config):
    """Plain per-layer loop over the active blocks, written from the spec (independent of the vectorised code)."""

    def div8(v):
        new = max(8, int(v + 4) // 8 * 8)
        return new + 8 if new < 0.9 * v else new

    f = (config.r + 1) // 2
    stem, first = shape.stem_width, shape.first_block_width
    macs = 27 * stem * f * f + 9 * stem * f * f + stem * first * f * f
    params = 27 * stem + 2 * stem + 9 * stem + 2 * stem + stem * first + 2 * first
    in_ch = first
    max_depth = len(config.ks) // len(config.d)
    for s, stage in enumerate(shape.stages):
        for j in range(config.d[s]):
            b = s * max_depth + j
            k, e = config.ks[b], config.e[b]
            stride = stage.stride if j == 0 else 1
            f_out = -(-f // stride)
            mid = div8(round(in_ch * e))
            macs += in_ch * mid * f * f + mid * k * k * f_out * f_out + mid * stage.width * f_out * f_out
            params += in_ch * mid + 2 * mid + mid * k * k + 2 * mid + mid * stage.width + 2 * stage.width
            if stage.use_se:
                se = div8(mid // 4)
                macs += 2 * mid * se
                params += 2 * mid * se + se + mid
            in_ch, f = stage.width, f_out
    fe, fm = shape.final_expand_width, shape.feature_mix_width
    macs += in_ch * fe * f * f + fe * fm + fm * shape.n_classes
    params += in_ch * fe + 2 * fe + fe * fm + fm * shape.n_classes + shape.n_classes
    return macs, params


@pytest.mark.parametrize("net", ["w1.0", "w1.2"])
def test_vectorised_counts_match_a_scalar_loop(net):
    shape = _reference_shapes()[net]
    configs = _random_configs(50, seed=1, resolutions=tuple(range(128, 225, 4)))
    expected = np.array([_scalar_counts(shape, c) for c in configs])
    np.testing.assert_array_equal(count_macs(shape, configs), expected[:, 0])
    np.testing.assert_array_equal(count_params(shape, configs), expected[:, 1])


def test_macs_need_a_resolution():
    with pytest.raises(ValueError, match="no resolution"):
        MacsModel(NetworkShape.mobilenet_v3()).predict([SPACE.max_config()])


# A tiny two-stage network for a hand-written latency table.
TINY = NetworkShape(
    stem_width=8,
    first_block_width=8,
    stages=(StageShape(16, 2, False, False), StageShape(24, 2, True, True)),
    final_expand_width=32,
    feature_mix_width=64,
    n_classes=10,
)
TINY_CONFIG = SubnetConfig(ks=(3, 5, 5, 3), e=(3, 3, 3, 3), d=(2, 1), r=32)
TINY_TABLE = {
    "Conv-input:32x32x3-output:16x16x8": {"mean": 1.0, "count": 3, "var": 0.0},
    "expanded_conv-input:16x16x8-output:16x16x8-expand:8-kernel:3-stride:1-idskip:1-se:0-hs:0": {"mean": 2.0},
    "expanded_conv-input:16x16x8-output:8x8x16-expand:24-kernel:3-stride:2-idskip:0-se:0-hs:0": {"mean": 4.0},
    "expanded_conv-input:8x8x16-output:8x8x16-expand:48-kernel:5-stride:1-idskip:1-se:0-hs:0": {"mean": 8.0},
    "expanded_conv-input:8x8x16-output:4x4x24-expand:48-kernel:5-stride:2-idskip:0-se:1-hs:1": {"mean": 16.0},
    # block 1 of stage 1 is beyond d=1: its entry must not be counted
    "expanded_conv-input:4x4x24-output:4x4x24-expand:72-kernel:3-stride:1-idskip:1-se:1-hs:1": {"mean": 1024.0},
    "Conv_1-input:4x4x24-output:4x4x32": {"mean": 32.0},
    "AvgPool2D-input:4x4x32-output:1x1x32": {"mean": 64.0},
    "Conv_2-input:1x1x32-output:1x1x64": {"mean": 128.0},
    "Logits-input:1x1x64-output:10": {"mean": 256.0},
}


def test_latency_table_sum_equals_hand_computed_sum():
    model = LatencyTableModel(TINY_TABLE, TINY, name="tiny")
    assert model.predict([TINY_CONFIG]).tolist() == [511.0]
    deeper = SubnetConfig(ks=(3, 5, 5, 3), e=(3, 3, 3, 3), d=(2, 2), r=32)
    assert model.predict([TINY_CONFIG, deeper, TINY_CONFIG]).tolist() == [511.0, 1535.0, 511.0]
    assert set(latency_table_keys(TINY, deeper)) == set(TINY_TABLE)


def test_latency_table_missing_key_names_the_key():
    table = dict(TINY_TABLE)
    missing = "expanded_conv-input:8x8x16-output:8x8x16-expand:48-kernel:5-stride:1-idskip:1-se:0-hs:0"
    del table[missing]
    with pytest.raises(KeyError, match="kernel:5-stride:1-idskip:1"):
        LatencyTableModel(table, TINY).predict([TINY_CONFIG])


def test_latency_table_keys_follow_reference_format():
    keys = latency_table_keys(NetworkShape.mobilenet_v3(1.2), SPACE.max_config(r=224))
    assert keys[0] == "Conv-input:224x224x3-output:112x112x24"
    assert keys[1] == "expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0"
    assert keys[2] == "expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:7-stride:2-idskip:0-se:0-hs:0"
    assert keys[-4:] == [
        "Conv_1-input:7x7x192-output:7x7x1152",
        "AvgPool2D-input:7x7x1152-output:1x1x1152",
        "Conv_2-input:1x1x1152-output:1x1x1536",
        "Logits-input:1x1x1536-output:1000",
    ]
    assert len(keys) == 2 + 20 + 4


def test_latency_table_vectorised_equals_per_config_sums(tmp_path):
    shape = NetworkShape.mobilenet_v3(1.0)
    configs = _random_configs(60, seed=3, resolutions=(160, 176, 224))
    rng = np.random.default_rng(0)
    table = {}
    for config in configs:
        for key in latency_table_keys(shape, config):
            table.setdefault(key, {"mean": float(rng.uniform(0.1, 3.0)), "count": 1})
    expected = [sum(table[k]["mean"] for k in latency_table_keys(shape, c)) for c in configs]
    np.testing.assert_allclose(LatencyTableModel(table, shape).predict(configs), expected, rtol=1e-12)
    import yaml

    by_size = {}
    for key, entry in table.items():
        by_size.setdefault(key.split("x", 1)[0], {})[key] = entry
    paths = []
    for i, part in enumerate(by_size.values()):
        path = tmp_path / (f"{i}_lookup_table.yaml" if i % 2 else f"{i}_lookup_table.json")
        path.write_text(yaml.safe_dump(part) if i % 2 else json.dumps(part))
        paths.append(path)
    from_files = LatencyTableModel.from_files(paths, shape)
    np.testing.assert_allclose(from_files.predict(ConfigBatch.from_configs(configs)), expected, rtol=1e-12)


def test_measured_latency_caches_per_subnet():
    calls = []

    def measure(config):
        calls.append(config)
        return float(sum(config.d)) + config.r / 1000

    model = MeasuredLatencyModel(measure)
    a = SubnetConfig([3] * 20, [3] * 20, (2,) * 5, 128)
    same_subnet = SubnetConfig([3, 3, 7, 7] * 5, [3, 3, 6, 6] * 5, (2,) * 5, 128)
    other = a.with_resolution(160)
    np.testing.assert_allclose(model.predict([a, same_subnet, other]), [10.128, 10.128, 10.16])
    np.testing.assert_allclose(model.predict([other, a]), [10.16, 10.128])
    assert len(calls) == 2
    assert (model.name, model.unit) == ("host_latency", "ms")


def test_measured_latency_rejects_bad_values():
    model = MeasuredLatencyModel(lambda config: float("nan"))
    with pytest.raises(ValueError, match="finite"):
        model.predict([SPACE.min_config(r=128)])


def test_proxyless_counts_equal_the_built_subnets_and_the_released_figures(shared):
    """The analytic models on ProxylessNAS shapes (feature mix before the pool, one-block final stage)."""
    from ofa_tf.latency import network_shape
    from ofa_tf.counting import profile
    from ofa_tf.zoo import ofa_net

    numbers = json.loads((shared / "reference" / "reference_numbers.json").read_text())
    released = next(v for k, v in numbers["subnets"].items() if k.startswith("proxyless_w1.3"))
    w13 = ofa_net("ofa_proxyless_d234_e346_k357_w1.3")
    shape = network_shape(w13)
    for name, config in (("max (ks=7,e=6,d=4)", w13.search_space.max_config()),
                         ("min (ks=3,e=3,d=2)", w13.search_space.min_config())):
        for r, macs in released[name]["macs"].items():
            assert count_macs(shape, config.with_resolution(int(r)), float32_accumulation=True)[0] == macs
        assert count_params(shape, config)[0] == released[name]["params"]
    tiny = ofa_net("ofa_proxyless_tiny_d234_e346_k357_w0.5", n_classes=10)
    shape = network_shape(tiny)
    configs = _random_configs(4, seed=1, space=tiny.search_space, resolutions=(8, 12, 16))
    for config, macs, params in zip(configs, count_macs(shape, configs), count_params(shape, configs)):
        tiny.set_active_config(config)
        assert profile(tiny, config.r) == {"params": params, "macs": macs, "macs_exact": macs}
    with pytest.raises(ValueError, match="OFA-MobileNetV3 shapes only"):
        latency_table_keys(shape, configs[0])
