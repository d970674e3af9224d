import numpy as np
import pytest
import tensorflow as tf
from ps_helpers import randomize_bn
from ps_helpers import tiny_proxyless
from ps_helpers import tiny_supernet

from ofa_tf.training.sorting import middle_channel_order
from ofa_tf.training.sorting import reorganize_channels
from ofa_tf.training.sorting import sort_channels


def reference_order(importance, widths, stage):
    """Direct NumPy transcription of `re_organize_middle_weights`' importance offsets and sort."""
    importance = np.array(importance, np.float64)
    if stage > 0:
        right, base = len(importance), -len(widths) * 1e5
        for i in range(stage + 1):
            importance[widths[i]:right] += base
            base += 1e5
            right = widths[i]
    return np.argsort(-importance, kind="stable")


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_order_matches_reference(stage):
    rng = np.random.default_rng(stage)
    importance = rng.uniform(0, 10, 96)
    widths = [96, 64, 48]
    order = middle_channel_order(importance, widths, stage)
    np.testing.assert_array_equal(order, reference_order(importance, widths, stage))
    if stage == 1:  # the e=4 prefix stays the e=4 prefix; sorted within each group
        assert set(order[:64]) == set(range(64)) and set(order[64:]) == set(range(64, 96))
        assert np.all(np.diff(importance[order[:64]]) <= 0)
    if stage == 0:
        assert np.all(np.diff(importance[order]) <= 0)


def test_stage_out_of_range():
    with pytest.raises(ValueError, match="expand_ratio_stage"):
        middle_channel_order(np.ones(8), [8, 4], 2)


def _block_state(block):
    return {v.path: v.numpy().copy() for v in block.variables}


def test_reorganize_permutes_every_middle_tensor():
    net = tiny_supernet()
    randomize_bn(net)
    block = next(b for b in net.blocks[1:] if b.use_se)
    before = _block_state(block)
    importance = np.abs(before[block.project_conv.kernel.path]).sum(axis=(0, 1, 3))
    order = reorganize_channels(block, 0)
    np.testing.assert_array_equal(order, np.argsort(-importance, kind="stable"))
    np.testing.assert_array_equal(block.expand_conv.kernel.numpy(), before[block.expand_conv.kernel.path][..., order])
    np.testing.assert_array_equal(block.depthwise_conv.kernel.numpy(),
                                  before[block.depthwise_conv.kernel.path][:, :, order])
    np.testing.assert_array_equal(block.project_conv.kernel.numpy(),
                                  before[block.project_conv.kernel.path][:, :, order])
    for bn in (block.expand_bn, block.depthwise_bn):
        for v in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance):
            np.testing.assert_array_equal(v.numpy(), before[v.path][order])
    for matrix in block.depthwise_conv.transform_matrices.values():
        np.testing.assert_array_equal(matrix.numpy(), before[matrix.path])
    hidden = np.abs(block.se.expand_kernel.numpy()).sum(axis=1)
    assert np.all(np.diff(hidden) <= 0)  # SE hidden units sorted too
    assert reorganize_channels(net.blocks[0]) is None  # the fixed first block is never sorted


@pytest.mark.parametrize("stage", [0, 1])
def test_sorting_keeps_max_subnet_outputs(stage):
    net = tiny_supernet(dropout_rate=0.0)
    randomize_bn(net, seed=1)
    x = tf.random.stateless_normal([4, 24, 24, 3], seed=[1, 2])
    before = net(x, training=False).numpy()
    kernels = [b.project_conv.kernel.numpy() for b in net.blocks[1:]]
    sort_channels(net, stage)
    after = net(x, training=False).numpy()
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    # the sort permuted real weights, so the equality above is not trivial
    assert any(not np.array_equal(k, b.project_conv.kernel.numpy()) for k, b in zip(kernels, net.blocks[1:]))


def test_sorting_keeps_proxyless_supernet_function():
    net = tiny_proxyless(dropout_rate=0.0)
    randomize_bn(net)
    x = np.random.default_rng(4).normal(size=(2, 16, 16, 3)).astype("float32")
    before = net(x, training=False).numpy()
    sort_channels(net, 0)
    np.testing.assert_allclose(net(x, training=False), before, rtol=1e-4, atol=1e-5)
    project = np.abs(net.blocks[-1].project_conv.kernel.numpy()).sum(axis=(0, 1, 3))
    assert np.all(np.diff(project) <= 0)
