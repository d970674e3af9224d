"""Latency lookup tables: distinct entries of a search space, reference key format, table files, predictor sums."""
import json

import keras
import numpy as np
import pytest
import yaml

import ofa_tf
from ofa_tf.latency import OVERHEAD_KEY
from ofa_tf.latency import Calibration
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import detect_granularity
from ofa_tf.latency import entry_from_timings
from ofa_tf.latency import latency_table_keys
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.families.mobilenet_v3.materialize import materialize
from ofa_tf.nas import MacsLatencyModel
from ofa_tf.nas import count_macs
from ofa_tf.families.mobilenet_v3.materialize import materialize_part
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3

# Tiny space: w0.5 (stem 8, first block 8, stages 16/24/40/56/80, final 480, mix 640), stride-1 stem and first
# stage, one block per stage, ks 3 or 5, e 3, 32x32 inputs, 4 classes.
TINY = dict(n_classes=4, width_mult=0.5, ks_list=(3, 5), expand_list=(3,), depth_list=(1,), dropout_rate=0.0,
            first_stride=1, stage_strides=(1, 2, 2, 1, 2), resolutions=(32,))


def _block(f_in, c_in, f_out, c_out, mid, k, s, idskip, se, hs):
    return (f"expanded_conv-input:{f_in}x{f_in}x{c_in}-output:{f_out}x{f_out}x{c_out}-expand:{mid}-kernel:{k}"
            f"-stride:{s}-idskip:{idskip}-se:{se}-hs:{hs}")


TINY_FIXED = [
    "Conv-input:32x32x3-output:32x32x8",
    _block(32, 8, 32, 8, 8, 3, 1, 1, 0, 0),
    "Conv_1-input:4x4x80-output:4x4x480",
    "AvgPool2D-input:4x4x480-output:1x1x480",
    "Conv_2-input:1x1x480-output:1x1x640",
    "Logits-input:1x1x640-output:4",
]


def tiny_block_keys(k):
    """The five elastic blocks of the tiny space with kernel k, by hand."""
    return [
        _block(32, 8, 32, 16, 24, k, 1, 0, 0, 0),
        _block(32, 16, 16, 24, 48, k, 2, 0, 1, 0),
        _block(16, 24, 8, 40, 72, k, 2, 0, 0, 1),
        _block(8, 40, 8, 56, 120, k, 1, 0, 1, 1),
        _block(8, 56, 4, 80, 168, k, 2, 0, 1, 1),
    ]


@pytest.fixture(scope="module")
def tiny():
    return OFAMobileNetV3(**TINY)


def test_tiny_space_entries_by_hand(tiny):
    layers = table_layers(tiny)
    expected = [OVERHEAD_KEY] + TINY_FIXED[:2] + tiny_block_keys(3) + TINY_FIXED[2:] + tiny_block_keys(5)
    assert [layer.key for layer in layers] == expected
    by_key = {layer.key: layer for layer in layers}
    block = by_key[tiny_block_keys(5)[3]]
    assert (block.part, block.block, block.kernel_size, block.expand_ratio, block.input_shape) == (
        "block", 4, 5, 3, (8, 8, 40))
    assert by_key["Logits-input:1x1x640-output:4"].part == "classifier"
    assert by_key[OVERHEAD_KEY].part == "overhead"


def test_distinct_entry_count_with_resolutions_sharing_late_sizes():
    # Stride-2 stem: 30 -> 15 -> 8 and 32 -> 16 -> 8, so only Conv, blocks.0 and the first block of stage 1
    # (4 ks x e choices) differ between the two resolutions. Per resolution: Conv + blocks.0 + 5 stages x
    # (first block, later block) x 4 choices + 4 head entries = 46; both: 46 + 6 = 52; + the overhead entry.
    net = OFAMobileNetV3(n_classes=10, width_mult=0.5, ks_list=(3, 5), expand_list=(3, 4), depth_list=(1, 2),
                         resolutions=(30, 32))
    layers = table_layers(net)
    assert len(layers) == 53 and len({layer.key for layer in layers}) == 53
    assert len(table_layers(net, [32], overhead=False)) == 46
    assert len(table_layers(net, overhead=False)) == 52
    assert sum(layer.key.startswith("Conv-") for layer in layers) == 2
    assert sum(layer.key.startswith("Conv_2-") for layer in layers) == 1


def test_keys_equal_the_reference_examples():
    w12 = ofa_tf.ofa_net("ofa_mbv3_d234_e346_k357_w1.2")
    keys = {layer.key for layer in table_layers(w12, [224])}
    for key in ["Conv-input:224x224x3-output:112x112x24", "Conv_1-input:7x7x192-output:7x7x1152",
                "AvgPool2D-input:7x7x1152-output:1x1x1152", "Conv_2-input:1x1x1152-output:1x1x1536",
                "Logits-input:1x1x1536-output:1000"]:
        assert key in keys
    # w1.0 with a stride-1 first stage: its later blocks are the spec's 112x112x24 example (mid 72 = 24 x 3).
    w10 = OFAMobileNetV3(width_mult=1.0, stage_strides=(1, 2, 2, 1, 2), resolutions=(224,))
    keys = {layer.key for layer in table_layers(w10)}
    assert "Conv-input:224x224x3-output:112x112x16" in keys
    assert "expanded_conv-input:112x112x24-output:112x112x24-expand:72-kernel:3-stride:1-idskip:1-se:0-hs:0" in keys


def test_every_entry_model_has_the_key_shapes(tiny):
    for layer in table_layers(tiny):
        model = layer.build(tiny)
        assert tuple(model.input_shape) == (1, *layer.input_shape), layer.key
        out = layer.key.split("-output:")[1].split("-")[0].split("x")
        expected = (1, int(out[0])) if layer.part == "classifier" else (1, *map(int, out))
        assert tuple(model.output_shape) == expected, layer.key


def _signature(layers):
    """Class and config of each layer, names dropped (they carry the block index)."""
    out = []
    for layer in layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        out.append((type(layer).__name__, json.dumps(config, sort_keys=True, default=str)))
    return out


def test_part_models_use_exactly_the_subnet_layers(tiny):
    config = SubnetConfig((5, 3, 5, 3, 5), (3,) * 5, (1,) * 5, 32)
    whole = materialize(tiny, config, 32, batch_size=1)
    part = materialize_part(tiny, "block", (16, 16, 24), block=3, kernel_size=5, expand_ratio=3)
    assert _signature(part.layers[1:]) == _signature([l for l in whole.layers if l.name.startswith("blocks_3_")])
    for layer in part.layers[1:]:  # weights copied from the supernet, like materialize
        for a, b in zip(layer.get_weights(), whole.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)
    stem = materialize_part(tiny, "first_conv", (32, 32, 3))
    assert _signature(stem.layers[1:]) == _signature(whole.layers[1:4])
    assert {type(layer).__module__.split(".")[0] for layer in part.layers} == {"keras"}


def test_materialize_part_errors_name_the_bad_value(tiny):
    with pytest.raises(ValueError, match="Unknown part .neck."):
        materialize_part(tiny, "neck", (4, 4, 80))
    with pytest.raises(ValueError, match="received 9"):
        materialize_part(tiny, "block", (8, 8, 40), block=9, kernel_size=3, expand_ratio=3)
    with pytest.raises(ValueError, match="Invalid kernel_size 7"):
        materialize_part(tiny, "block", (8, 8, 40), block=4, kernel_size=7, expand_ratio=3)
    with pytest.raises(ValueError, match="height, width, channels"):
        materialize_part(tiny, "pool", (4, 480))


def _hand_table():
    keys = [OVERHEAD_KEY] + TINY_FIXED + tiny_block_keys(3) + tiny_block_keys(5)
    return {key: {"mean": 1.0 + i, "count": 10, "var": 0.01, "median": 0.5 + i} for i, key in enumerate(keys)}


def test_predictor_sum_equals_hand_sum(tiny):
    table = _hand_table()
    config = SubnetConfig((3, 5, 5, 3, 3), (3,) * 5, (1,) * 5, 32)
    used = TINY_FIXED + [tiny_block_keys(k)[i] for i, k in enumerate(config.ks)]
    raw = sum(table[key]["mean"] for key in used)
    overhead = table[OVERHEAD_KEY]["mean"]
    predictor = LatencyPredictor(table, network_shape(tiny))
    assert predictor.overhead_ms == overhead == 1.0
    np.testing.assert_allclose(predictor.predict_sum(config), [raw])
    np.testing.assert_allclose(predictor.predict(config), [raw - (len(used) - 1) * overhead])
    median = LatencyPredictor(table, network_shape(tiny), statistic="median", overhead_ms=0.0)
    np.testing.assert_allclose(median.predict([config, config]), [sum(table[k]["median"] for k in used)] * 2)


def test_predictor_errors_name_missing_keys_and_bad_values(tiny):
    table = _hand_table()
    missing = tiny_block_keys(5)[2]
    del table[missing]
    predictor = LatencyPredictor(table, network_shape(tiny))
    predictor.predict(SubnetConfig((3,) * 5, (3,) * 5, (1,) * 5, 32))
    with pytest.raises(KeyError, match=missing):
        predictor.predict(SubnetConfig((3, 3, 5, 3, 3), (3,) * 5, (1,) * 5, 32))
    with pytest.raises(ValueError, match="Unknown statistic 'p90'"):
        LatencyPredictor(table, network_shape(tiny), statistic="p90")
    with pytest.raises(KeyError, match="has no 'median'"):
        LatencyPredictor({"Conv-input:32x32x3-output:32x32x8": {"mean": 1.0}}, network_shape(tiny),
                         statistic="median")
    with pytest.raises(ValueError, match="overhead_ms=-1"):
        LatencyPredictor(table, network_shape(tiny), overhead_ms=-1.0)
    with pytest.raises(ValueError, match=r"Invalid resolutions \[64\]"):
        table_layers(tiny, [32, 64])
    with pytest.raises(ValueError, match="mean=-0.5"):
        entry_from_timings(-0.5, 10)
    with pytest.raises(ValueError, match="count=0"):
        entry_from_timings(0.5, 0)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_table_file_round_trip_and_reference_tables(tiny, tmp_path, suffix):
    table = LatencyTable({"net_id": "tiny", "resolutions": [32]}, _hand_table())
    table.save(tmp_path / f"t{suffix}")
    loaded = LatencyTable.load(tmp_path / f"t{suffix}")
    assert loaded == table
    # A bare reference table (key -> {mean, count, var}), as OFA publishes, loads with an empty header.
    (tmp_path / "ref.yaml").write_text(yaml.safe_dump({k: {"mean": v["mean"], "count": 1, "var": 0.0}
                                                       for k, v in _hand_table().items()}))
    ref = LatencyPredictor.from_files([tmp_path / "ref.yaml"], network_shape(tiny), overhead_ms=0.0)
    both = LatencyPredictor.from_files(tmp_path / f"t{suffix}", network_shape(tiny), overhead_ms=0.0)
    config = SubnetConfig((5,) * 5, (3,) * 5, (1,) * 5, 32)
    np.testing.assert_allclose(ref.predict(config), both.predict(config))


def test_table_file_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"Conv-input:32x32x3-output:32x32x8": {"avg": 1.0}}))
    with pytest.raises(ValueError, match="Conv-input:32x32x3-output:32x32x8.*no numeric 'mean'"):
        LatencyTable.load(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="'.csv'"):
        LatencyTable().save(tmp_path / "t.csv")
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        LatencyTable.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize("entry, named", [
    ({"mean": -0.5, "count": 3}, "mean=-0.5"),
    ({"mean": 0.5, "min": float("nan")}, "min=nan"),
    ({"mean": 0.5, "median": float("inf")}, "median=inf"),
    ({"mean": 0.5, "std": -1.0}, "std=-1.0"),
    ({"mean": 0.5, "var": "x"}, "var='x'"),
    (-2.0, "mean=-2.0"),
])
def test_table_entries_must_be_finite_non_negative_latencies(tmp_path, entry, named):
    """A negative, NaN or infinite entry is refused naming the file and the key (issue 26: negative entries were
    summed into 0.057 ms for a 0.64 ms subnet; NaN ones into a 'best latency reached was nan ms')."""
    key = "Conv-input:32x32x3-output:32x32x8"
    path = tmp_path / "phone.yaml"
    path.write_text(yaml.safe_dump({"header": {"net_id": "x"}, "table": {key: entry, "Logits": {"mean": 0.1}}}))
    with pytest.raises(ValueError) as err:
        LatencyTable.load(path)
    assert str(err.value) == (f"Latency table {path}: entry {key!r} has {named}; latencies must be finite numbers "
                              ">= 0 ms: measure the table again (android-bench lut).")


def test_network_shape_of_the_small_preset_matches_its_subnets():
    net = ofa_tf.ofa_net("ofa_mbv3_small_d234_e346_k357_w0.5", n_classes=10)
    shape = network_shape(net)
    assert shape.stem_stride == 1 and [s.stride for s in shape.stages] == [1, 2, 2, 1, 2]
    config = net.search_space.sample(np.random.default_rng(0)).with_resolution(32)
    model = materialize(net, config, 32, batch_size=1)
    sizes = {layer.name: layer.output.shape for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
    keys = ofa_tf.latency.latency_table_keys(shape, config)
    assert keys[-4] == f"Conv_1-input:4x4x{shape.stages[-1].width}-output:4x4x{shape.final_expand_width}"
    assert sizes["final_expand"] == (1, 4, 4, shape.final_expand_width)


# --- block granularity: the pieces the interpreter runs back to back ---

TINY_STEM = "stem-input:32x32x3-output:32x32x8-conv:8-kernel:3"
TINY_HEAD = "head-input:4x4x80-output:4-expand:480-mix:640"


def tiny_mbconv_keys(k):
    """The five elastic blocks of the tiny space with kernel k, block format, by hand."""
    return [
        f"mbconv-input:32x32x8-output:32x32x16-kernel:{k}-expand:3-stride:1-act:relu-se:0-skip:0",
        f"mbconv-input:32x32x16-output:16x16x24-kernel:{k}-expand:3-stride:2-act:relu-se:1-skip:0",
        f"mbconv-input:16x16x24-output:8x8x40-kernel:{k}-expand:3-stride:2-act:hswish-se:0-skip:0",
        f"mbconv-input:8x8x40-output:8x8x56-kernel:{k}-expand:3-stride:1-act:hswish-se:1-skip:0",
        f"mbconv-input:8x8x56-output:4x4x80-kernel:{k}-expand:3-stride:2-act:hswish-se:1-skip:0",
    ]


def test_block_keys_by_hand_and_their_models(tiny):
    layers = table_layers(tiny, granularity="block")
    expected = [OVERHEAD_KEY, TINY_STEM] + tiny_mbconv_keys(3) + [TINY_HEAD] + tiny_mbconv_keys(5)
    assert [layer.key for layer in layers] == expected
    config = SubnetConfig((5, 3, 5, 3, 5), (3,) * 5, (1,) * 5, 32)
    keys = latency_table_keys(network_shape(tiny), config, "block")
    assert keys == [TINY_STEM] + [tiny_mbconv_keys(k)[i] for i, k in enumerate(config.ks)] + [TINY_HEAD]
    assert detect_granularity(keys) == "block" and detect_granularity(TINY_FIXED) == "layer"
    whole = materialize(tiny, config, 32, batch_size=1)
    by_key = {layer.key: layer for layer in layers}
    stem = by_key[TINY_STEM].build(tiny)
    head = by_key[TINY_HEAD].build(tiny)
    n_stem = len(stem.layers) - 1
    # the stem is the whole subnet's first conv and first block; the head its last layers, weights copied
    assert _signature(stem.layers[1:]) == _signature(whole.layers[1:1 + n_stem])
    assert _signature(head.layers[1:]) == _signature(whole.layers[-(len(head.layers) - 1):])
    for layer in head.layers[1:]:
        for a, b in zip(layer.get_weights(), whole.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert tuple(stem.output_shape) == (1, 32, 32, 8) and tuple(head.output_shape) == (1, 4)
    with pytest.raises(ValueError, match="Unknown granularity 'op'"):
        table_layers(tiny, granularity="op")


def _block_table(overhead=0.1):
    keys = [TINY_STEM, TINY_HEAD] + tiny_mbconv_keys(3) + tiny_mbconv_keys(5)
    entries = {key: {"mean": 0.5 + 0.25 * i, "count": 10, "var": 0.0, "min": 0.4 + 0.25 * i}
               for i, key in enumerate(keys)}
    entries[OVERHEAD_KEY] = {"mean": overhead + 0.05, "count": 10, "var": 0.0, "min": overhead}
    return entries


def test_block_prediction_arithmetic_and_calibration_from_the_header(tiny, tmp_path):
    entries = _block_table()
    shape = network_shape(tiny)
    config = SubnetConfig((3, 5, 5, 3, 3), (3,) * 5, (1,) * 5, 32)
    used = [TINY_STEM] + [tiny_mbconv_keys(k)[i] for i, k in enumerate(config.ks)] + [TINY_HEAD]
    predictor = LatencyPredictor(entries, shape, statistic="min")
    assert predictor.granularity == "block" and predictor.calibration is None
    expected = 0.1 + sum(entries[k]["min"] - 0.1 for k in used)
    np.testing.assert_allclose(predictor.predict(config), [expected])
    np.testing.assert_allclose(predictor.predict_sum(config), [sum(entries[k]["min"] for k in used)])
    # The table's header names the statistic and carries the calibration; the predictor applies both.
    header = {"statistic": "min", "granularity": "block",
              "calibration": {"method": "linear", "scale": 1.2, "offset_ms": 0.05, "n_subnets": 3}}
    LatencyTable(header, entries).save(tmp_path / "t.json")
    loaded = LatencyPredictor.from_files(tmp_path / "t.json", shape)
    assert loaded.statistic == "min" and loaded.calibration == Calibration("linear", 1.2, 0.05, 3)
    np.testing.assert_allclose(loaded.predict(config), [1.2 * expected + 0.05])
    np.testing.assert_allclose(loaded.predict_uncalibrated(config), [expected])
    assert LatencyPredictor.from_files(tmp_path / "t.json", shape, calibration=False).calibration is None


def test_calibration_math():
    table_ms = np.array([1.0, 2.0, 4.0, 8.0, 3.0])
    scale = Calibration.fit(table_ms, [1.1, 2.4, 4.4, 8.0, 3.6])  # ratios 1.1, 1.2, 1.1, 1.0, 1.2
    assert (scale.method, scale.n_subnets, scale.offset_ms) == ("scale", 5, 0.0)
    assert scale.scale == pytest.approx(1.1)
    np.testing.assert_allclose(scale.apply(table_ms), 1.1 * table_ms)
    line = Calibration.fit(table_ms, 1.5 * table_ms + 0.2, "linear")
    assert (line.scale, line.offset_ms) == (pytest.approx(1.5), pytest.approx(0.2))
    # A negative offset would predict negative times for fast subnets: the fit goes through the origin instead.
    measured = 2.0 * table_ms - 0.5
    origin = Calibration.fit(table_ms, measured, "linear")
    assert origin.offset_ms == 0.0 and origin.scale == pytest.approx(table_ms @ measured / (table_ms @ table_ms))
    assert Calibration.from_dict(line.to_dict()) == line
    with pytest.raises(ValueError, match="offset_ms=-0.1"):
        Calibration("linear", 1.0, -0.1)
    with pytest.raises(ValueError, match="Unknown calibration method 'cubic'"):
        Calibration.fit(table_ms, table_ms, "cubic")
    with pytest.raises(ValueError, match="two different predicted latencies"):
        Calibration.fit([1.0, 1.0], [1.0, 2.0], "linear")
    with pytest.raises(ValueError, match="2 predictions and 3 measurements"):
        Calibration.fit([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite positive"):
        Calibration.fit([1.0, 2.0], [1.0, -2.0])


def test_no_negative_predictions(tiny):
    shape = network_shape(tiny)
    rng = np.random.default_rng(0)
    configs = [tiny.search_space.sample(rng).with_resolution(32) for _ in range(8)]
    # Entries below the per-invoke overhead (noise on a fast machine) count as zero, not as negative time.
    entries = _block_table(overhead=5.0)
    predictor = LatencyPredictor(entries, shape, statistic="min")
    assert (predictor.predict(configs) >= 5.0).all()
    # The MACs line is fitted with intercept >= 0 and slope > 0: on data whose least-squares intercept is
    # negative it goes through the origin, so it is non-negative and grows with MACs.
    macs = count_macs(shape, configs) / 1e6
    model = MacsLatencyModel.fit(shape, configs, 2.0 * macs - 0.9 * macs.min())  # all > 0, intercept < 0
    assert model.intercept_ms == 0.0 and model.ms_per_mmac > 0
    smallest = tiny.search_space.min_config(r=32)
    assert model.predict(smallest)[0] >= 0
    order = np.argsort(macs)
    assert (np.diff(model.predict(configs)[order]) >= 0).all()
    with pytest.raises(ValueError, match="intercept_ms >= 0"):
        MacsLatencyModel(shape, -0.3, 0.01)
