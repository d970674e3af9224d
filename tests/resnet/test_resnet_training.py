import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import ofa_tf
from ofa_tf.families.resnet import OFAResNets
from ofa_tf.run_folder import final_phase
from ofa_tf.run_folder import load_supernet
from ofa_tf.training.phases import progressive_shrinking
from ofa_tf.training.phases import resnet_progressive_shrinking
from ofa_tf.training.phases import select_phases
from ofa_tf.training.sorting import reorganize_bottleneck
from ofa_tf.training.sorting import sort_channels
from ofa_tf.training.sorting import sort_widths

NET = "ofa_resnet50_tiny"
NAMES = ["full", "depth_1", "depth_2", "expand_1", "expand_2", "width_1", "width_2"]


def test_schedule_shrinks_depth_then_expand_then_width():
    net = ofa_tf.ofa_net(NET, n_classes=10)
    phases = progressive_shrinking(net.search_space)
    assert [p.name for p in phases] == NAMES
    full, d1, d2, e1, e2, w1, w2 = phases
    assert (full.depth_list, full.expand_list, full.width_list, full.kd_ratio) == ((2,), (0.35,), (2,), 0.0)
    assert d1.depth_list == (1, 2) and d2.depth_list == (0, 1, 2) and d2.expand_list == (0.35,)
    assert (e1.expand_list, e1.sort_channels, e2.expand_list, e2.sort_channels) == ((0.25, 0.35), 0, (0.2, 0.25, 0.35), 1)
    assert e2.width_list == (2,) and w1.width_list == (1, 2) and w2.width_list == (0, 1, 2)
    assert all(p.sort_channels is None for p in (full, d1, d2, w1, w2))
    assert (w1.sort_widths, w2.sort_widths) == (0, 1) and all(p.sort_widths is None for p in phases[:5])
    space = w1.search_space(net.search_space)
    assert {v for c in (space.sample(i) for i in range(50)) for v in c.w} == {1, 2}
    assert d1.search_space(net.search_space).max_config() == net.search_space.max_config()
    assert select_phases(resnet_progressive_shrinking(), "width", 2) == [w2]
    assert final_phase(NET) == final_phase("ofa_resnet50") == "width_2"  # a run folder's finished supernet


def _assert_same_logits(after, before):
    """Sorting permutes channels, so float32 sums change order: the difference scales with the logits (up to
    1.6e-6 of the largest |logit| over 12 initialisations), not with each logit (a near-zero one missed an
    element-wise 1e-4 under one unseeded initialisation)."""
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-5 * np.abs(before).max())


def _randomize_bn(net, seed=0):
    rng = np.random.default_rng(seed)
    for v in net.variables:
        leaf = v.path.rsplit("/", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
        elif leaf in ("beta", "moving_mean"):
            v.assign(rng.normal(0, 0.2, v.shape).astype(np.float32))


def test_sorting_keeps_the_full_network_and_orders_by_importance():
    keras.utils.set_random_seed(0)
    net = OFAResNets(n_classes=10, width_mult_list=(0.15, 0.25), expand_list=(0.25, 0.35), depth_list=(0, 1))
    _randomize_bn(net)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    before = net(x, training=False).numpy()
    block = net.blocks[4]
    sort_channels(net, 0)
    _assert_same_logits(net(x, training=False).numpy(), before)
    importance = np.abs(block.conv3.kernel.numpy()).sum(axis=(0, 1, 3))
    assert np.all(np.diff(importance) <= 0)
    importance = np.abs(block.conv2.kernel.numpy()).sum(axis=(0, 1, 3))
    assert np.all(np.diff(importance) <= 0)
    # expand_ratio_stage 1 sorts within the groups the e=0.25 prefix (at the largest width) set up
    widths = [block.middle_channels(max(block.out_channels), e) for e in (0.35, 0.25)]
    first = set(np.abs(block.conv3.kernel.numpy())[0, 0, : widths[1]].sum(axis=1).round(5))
    order2, _ = reorganize_bottleneck(block, 1)
    assert set(order2[: widths[1]]) == set(range(widths[1]))
    assert set(np.abs(block.conv3.kernel.numpy())[0, 0, : widths[1]].sum(axis=1).round(5)) == first


def test_width_sorting_keeps_the_full_network_and_orders_stage_channels():
    keras.utils.set_random_seed(0)
    net = OFAResNets(n_classes=10, width_mult_list=(0.15, 0.25), expand_list=(0.25, 0.35), depth_list=(0, 1))
    _randomize_bn(net)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    net.sample_active_subnet(np.random.default_rng(1))
    net.set_active_subnet(w=1)  # full widths; depths and expand ratios random
    before = net(x, training=False).numpy()
    orders = sort_widths(net, 0)
    assert len(orders) == 6  # stem mid, stem out, 4 stages
    assert any(not np.array_equal(o, np.arange(len(o))) for o in orders)
    _assert_same_logits(net(x, training=False).numpy(), before)
    last = net.blocks[net.block_group_info[2][-1]]
    readers = np.abs(net.blocks[net.block_group_info[3][0]].conv1.kernel.numpy()).sum(axis=(0, 1, 3))
    readers += np.abs(net.blocks[net.block_group_info[3][0]].downsample_conv.kernel.numpy()).sum(axis=(0, 1, 3))
    readers += sum(np.abs(net.blocks[b].conv1.kernel.numpy()).sum(axis=(0, 1, 3)) for b in net.block_group_info[2][1:])
    assert np.all(np.diff(readers) <= 1e-6)
    # width_stage 1: the channels of the smaller width stay a group in front
    small = last.out_channels[0]
    order = sort_widths(net, 1)[4]
    assert set(order[:small]) == set(range(small)) and small < max(last.out_channels)


@pytest.mark.slow
def test_progressive_shrinking_runs_every_phase_with_one_trace_per_teacher_setting(tmp_path, digits):
    result = ofa_tf.train(NET, digits, tmp_path, task="all", epochs=1, steps_per_epoch=2, batch_size=8,
                          image_sizes=(24, 32), n_subnets=2, validate=False, verbose=0)
    assert result.completed and result.phases == NAMES
    assert result.trace_counts["full"] == 1 and result.trace_counts["depth_1"] == 1  # no teacher / with teacher
    assert all(result.trace_counts[name] == 0 for name in NAMES[2:])
    assert all(np.isfinite(r["loss"]) for r in result.history if r["event"] == "epoch")
    assert {p.name for p in (tmp_path / "weights").iterdir()} == {f"{n}.weights.h5" for n in NAMES}
    config = json.loads((tmp_path / "config_all.json").read_text())
    assert [p["width_list"] for p in config["phases"]][-2:] == [[1, 2], [0, 1, 2]]
    loaded = load_supernet(weights=tmp_path)  # the run folder: its net id, classes and final (width_2) weights
    assert isinstance(loaded, OFAResNets) and loaded.n_classes == 10
    for a, b in zip(loaded.weights, result.supernet.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_cli_trains_a_width_phase_and_evaluates(tmp_path):
    from tools.training_cli import eval_command
    from tools.training_cli import train_command

    runner = CliRunner()
    init = tmp_path / "init.weights.h5"
    ofa_tf.ofa_net(NET, n_classes=10).save_weights(init)
    # width_1 alone: it starts from given weights (normally expand_2's) and, without a teacher, kd 0
    result = runner.invoke(train_command, [
        "--net", NET, "--data", "digits", "--task", "width", "--phase", "1", "--init", str(init), "--kd-ratio", "0",
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--image-sizes", "24", "--no-validate",
        "--verbose", "0", "--out", str(tmp_path),
    ])
    assert result.exit_code == 0, result.output
    assert "phases done: width_1" in result.output
    result = runner.invoke(eval_command, [
        "--net", NET, "--weights", str(tmp_path / "weights" / "width_1.weights.h5"), "--data", "digits",
        "--subnets", "max,min", "--calibrate-bn", "0", "--resolution", "24", "--max-batches", "1",
        "--batch-size", "20", "--json",
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("["):])
    assert [r["name"] for r in rows] == ["max", "min"] and set(rows[1]["config"]) >= {"d", "e", "w"}
