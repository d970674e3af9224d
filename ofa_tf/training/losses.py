"""Per-example training losses: smoothed CE plus distillation (the reference's
`ofa/imagenet_classification/elastic_nn/training/progressive_shrinking.py`, `train_one_epoch`) and in-place
distillation (BigNAS, Yu et al., ECCV 2020)."""
from __future__ import annotations

import tensorflow as tf

LABEL_SMOOTHING = 0.1


def smoothed_cross_entropy(labels, logits, smoothing: float = LABEL_SMOOTHING) -> tf.Tensor:
    """Per-example CE against `onehot * (1 - smoothing) + smoothing / n_classes` ([B])."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    n_classes = tf.shape(logits)[-1]
    target = tf.one_hot(tf.cast(labels, tf.int32), n_classes) * (1.0 - smoothing)
    target += smoothing / tf.cast(n_classes, tf.float32)
    return -tf.reduce_sum(target * tf.nn.log_softmax(logits), axis=-1)


def soft_target_cross_entropy(teacher_probs, logits) -> tf.Tensor:
    """Per-example distillation loss `-sum_c p_teacher * log_softmax(logits)` ([B]), temperature 1."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    return -tf.reduce_sum(tf.stop_gradient(teacher_probs) * tf.nn.log_softmax(logits), axis=-1)


def ps_loss(labels, logits, teacher_probs=None, kd_ratio: float = 1.0, smoothing: float = LABEL_SMOOTHING):
    """Per-example `kd_ratio * KD + CE_ls` ([B]); plain smoothed CE without a teacher. `kd_ratio` may be a tensor."""
    loss = smoothed_cross_entropy(labels, logits, smoothing)
    if teacher_probs is None or (isinstance(kd_ratio, (int, float)) and kd_ratio == 0):
        return loss
    return loss + tf.cast(kd_ratio, tf.float32) * soft_target_cross_entropy(teacher_probs, logits)


def inplace_distillation_loss(soft_labels, logits, teacher_probs=None, kd_ratio: float = 0.0, labels=None,
                              label_ratio: float = 0.0, smoothing: float = LABEL_SMOOTHING) -> tf.Tensor:
    """Per-example loss of a subnet taught by the max subnet's `soft_labels` (held constant; BigNAS's in-place
    distillation), mixed with the labels' smoothed CE as `(1 - label_ratio) * KD + label_ratio * CE`, plus
    `kd_ratio` times the external teacher's distillation loss when there is one. `label_ratio` may be a tensor."""
    loss = soft_target_cross_entropy(soft_labels, logits)
    if labels is not None:
        label_ratio = tf.cast(label_ratio, tf.float32)
        loss = (1.0 - label_ratio) * loss + label_ratio * smoothed_cross_entropy(labels, logits, smoothing)
    if teacher_probs is None:
        return loss
    return loss + tf.cast(kd_ratio, tf.float32) * soft_target_cross_entropy(teacher_probs, logits)
