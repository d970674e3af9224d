import math

import numpy as np
import pytest
import tensorflow as tf

from ofa_tf.training.optimizer import OptimizerConfig
from ofa_tf.training.optimizer import WarmupCosine
from ofa_tf.training.optimizer import add_weight_decay
from ofa_tf.training.optimizer import build_optimizer
from ofa_tf.training.optimizer import decay_mask
from ps_helpers import tiny_supernet


def test_warmup_cosine_values():
    s = WarmupCosine(init_lr=0.4, total_steps=110, warmup_steps=10, warmup_lr=0.1)
    expected = {
        0: 0.1 + 1 / 10 * 0.3,
        4: 0.1 + 5 / 10 * 0.3,
        9: 0.4,
        10: 0.4,
        35: 0.2 * (1 + math.cos(math.pi * 25 / 100)),
        60: 0.2,
        109: 0.2 * (1 + math.cos(math.pi * 99 / 100)),
        110: 0.0,
    }
    for step, lr in expected.items():
        assert s.value(step) == pytest.approx(lr, abs=1e-12)
        assert float(s(tf.constant(step))) == pytest.approx(lr, rel=1e-5, abs=1e-7)


def test_no_warmup_starts_at_init_lr():
    s = WarmupCosine(0.05, total_steps=4)
    assert [round(s.value(i), 6) for i in range(4)] == [0.05, round(0.025 * (1 + math.cos(math.pi / 4)), 6), 0.025,
                                                         round(0.025 * (1 + math.cos(3 * math.pi / 4)), 6)]
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupCosine(0.1, total_steps=5, warmup_steps=5)


def test_weight_decay_exclusions():
    net = tiny_supernet()
    mask = dict(zip([v.path for v in net.trainable_variables], decay_mask(net.trainable_variables)))
    excluded = sorted(p for p, m in mask.items() if not m)
    decayed = sorted(p for p, m in mask.items() if m)
    assert excluded and all(p.endswith(("gamma", "beta", "bias")) for p in excluded)
    assert any(p.endswith("reduce_bias") for p in excluded) and "classifier/bias" in " ".join(excluded)
    assert all(p.endswith(("kernel", "_matrix")) for p in decayed)
    assert any(p.endswith("5to3_matrix") for p in decayed)  # transform matrices are decayed, as the reference
    assert any(p.endswith("reduce_kernel") for p in decayed) and any("classifier/kernel" in p for p in decayed)
    n_bn = sum(1 for v in net.trainable_variables if v.path.endswith(("gamma", "beta")))
    n_bias = sum(1 for v in net.trainable_variables if v.path.endswith("bias"))
    assert len(excluded) == n_bn + n_bias


def test_add_weight_decay_is_coupled_and_replica_scaled():
    w = [tf.Variable([1.0, -2.0]), tf.Variable([3.0])]
    g = [tf.constant([0.5, 0.5]), tf.constant([1.0])]
    out = add_weight_decay(g, w, [True, False], 0.1, num_replicas=2)
    np.testing.assert_allclose(out[0].numpy(), [0.55, 0.4])
    np.testing.assert_allclose(out[1].numpy(), [1.0])


def test_sgd_nesterov_matches_pytorch_formula_at_constant_lr():
    """Keras' SGD (m = mu*m - lr*g; w += mu*m - lr*g) equals PyTorch's Nesterov update at a constant lr."""
    opt = build_optimizer(OptimizerConfig(), 0.1)
    w = tf.Variable([1.0, 2.0])
    opt.build([w])
    grads = [np.array([0.5, -1.0]), np.array([0.2, 0.3]), np.array([-0.4, 0.1])]
    ref, buf = np.array([1.0, 2.0]), np.zeros(2)
    for g in grads:
        opt.apply_gradients([(tf.constant(g, tf.float32), w)])
        buf = 0.9 * buf + g
        ref = ref - 0.1 * (g + 0.9 * buf)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-6)
