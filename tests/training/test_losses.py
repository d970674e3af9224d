import numpy as np
import pytest

from ofa_tf.training.losses import inplace_distillation_loss
from ofa_tf.training.losses import ps_loss
from ofa_tf.training.losses import smoothed_cross_entropy
from ofa_tf.training.losses import soft_target_cross_entropy


def np_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (6, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 6).astype(np.int32)
    teacher = np.exp(np_log_softmax(rng.normal(0, 2, (6, 7)))).astype(np.float32)
    return logits, labels, teacher


def test_smoothed_cross_entropy_matches_numpy(batch):
    logits, labels, _ = batch
    target = np.eye(7)[labels] * 0.9 + 0.1 / 7
    expected = -(target * np_log_softmax(logits.astype(np.float64))).sum(-1)
    np.testing.assert_allclose(smoothed_cross_entropy(labels, logits).numpy(), expected, rtol=1e-5)
    plain = -np_log_softmax(logits.astype(np.float64))[np.arange(6), labels]
    np.testing.assert_allclose(smoothed_cross_entropy(labels, logits, 0.0).numpy(), plain, rtol=1e-5)


def test_distillation_matches_numpy(batch):
    logits, labels, teacher = batch
    kd = -(teacher * np_log_softmax(logits.astype(np.float64))).sum(-1)
    np.testing.assert_allclose(soft_target_cross_entropy(teacher, logits).numpy(), kd, rtol=1e-5)
    ce = smoothed_cross_entropy(labels, logits).numpy()
    np.testing.assert_allclose(ps_loss(labels, logits, teacher, 1.0).numpy(), ce + kd, rtol=1e-5)
    np.testing.assert_allclose(ps_loss(labels, logits, teacher, 0.5).numpy(), ce + 0.5 * kd, rtol=1e-5)
    np.testing.assert_allclose(ps_loss(labels, logits, None).numpy(), ce, rtol=1e-6)


def test_inplace_distillation_mixes_the_labels_by_label_ratio(batch):
    logits, labels, soft = batch
    kd = -(soft * np_log_softmax(logits.astype(np.float64))).sum(-1)
    ce = smoothed_cross_entropy(labels, logits).numpy()
    np.testing.assert_allclose(inplace_distillation_loss(soft, logits).numpy(), kd, rtol=1e-5)
    np.testing.assert_allclose(inplace_distillation_loss(soft, logits, labels=labels, label_ratio=0.3).numpy(),
                               0.7 * kd + 0.3 * ce, rtol=1e-5)
    np.testing.assert_allclose(inplace_distillation_loss(soft, logits, labels=labels, label_ratio=1.0).numpy(),
                               ce, rtol=1e-5)


def test_inplace_distillation_at_label_ratio_1_is_the_max_subnets_loss(batch):
    # make_train_step trains the sandwich's row 0 (no soft labels yet: zeros) this way, with the teacher on top
    logits, labels, teacher = batch
    no_soft_labels = np.zeros_like(teacher)
    np.testing.assert_allclose(
        inplace_distillation_loss(no_soft_labels, logits, teacher, 0.5, labels, 1.0).numpy(),
        ps_loss(labels, logits, teacher, 0.5).numpy(), rtol=1e-6)
