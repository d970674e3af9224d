"""The training step: every subnet of a step in one `tf.while_loop` under `strategy.run`, traced once."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from ofa_tf.training.losses import inplace_distillation_loss
from ofa_tf.training.losses import ps_loss
from ofa_tf.training.optimizer import NO_DECAY_KEYS
from ofa_tf.training.optimizer import add_weight_decay
from ofa_tf.training.optimizer import decay_mask


def make_train_step(
    model,
    optimizer,
    strategy,
    *,
    element_spec,
    global_batch_size: int,
    teacher=None,
    inplace_distillation: bool = False,
    label_smoothing: float = 0.1,
    weight_decay: float = 0.0,
    no_decay_keys=NO_DECAY_KEYS,
):
    """A `tf.function` `step(images, labels, ks, e, d, kd_ratio, label_ratio) -> mean loss` shared by phases.

    `ks`, `e` ([n_subnets, n_blocks]) and `d` ([n_subnets, n_stages]) are int32 subnet configs (for
    another family, the stacked tensors of its `subnet_signature`, e.g. OFA-ResNets' d, e, w); every
    subnet runs on the same batch, per-example losses are scaled by the global batch size, gradients
    are summed over the subnets and applied once. The number of subnets, `kd_ratio` (used only with
    a `teacher`) and `label_ratio` (used only with `inplace_distillation`) are inputs and the learning
    rate is the optimizer's variable, so every phase with the same teacher setting runs on one trace.

    With `inplace_distillation` (the sandwich recipe), row 0 must be the max subnet: it learns from the labels
    (`inplace_distillation_loss` at `label_ratio` 1, i.e. `ps_loss`), every other row from its soft labels, held
    constant; a teacher adds `kd_ratio` times its distillation loss to every row.
    """
    variables = model.trainable_variables
    mask = decay_mask(variables, no_decay_keys)
    n_replicas = strategy.num_replicas_in_sync

    def replica_step(images, labels, ks, e, d, kd_ratio, label_ratio):
        images = tf.cast(images, tf.float32)
        teacher_probs = tf.nn.softmax(teacher(images, training=False)) if teacher is not None else None
        total = tf.constant(0.0)
        grads = [tf.zeros_like(v) for v in variables]
        soft_labels = tf.zeros([tf.shape(labels)[0], model.n_classes])  # the max subnet's, after row 0
        n_subnets = tf.shape(ks)[0]
        # Every subnet in one tf.while_loop: the model is traced once, whatever the number of subnets.
        for j in tf.range(n_subnets):
            with tf.GradientTape() as tape:
                logits = model(images, training=True, subnet=(ks[j], e[j], d[j]))
                if inplace_distillation:  # row 0, the max subnet, has no soft labels yet: labels only
                    ratio = tf.where(j > 0, label_ratio, 1.0)
                    per_example = inplace_distillation_loss(soft_labels, logits, teacher_probs, kd_ratio, labels,
                                                            ratio, label_smoothing)
                else:
                    per_example = ps_loss(labels, logits, teacher_probs, kd_ratio, label_smoothing)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            g = tape.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            if inplace_distillation:
                soft_labels = tf.where(j == 0, tf.stop_gradient(tf.nn.softmax(logits)), soft_labels)
            total += loss
            grads = [a + b for a, b in zip(grads, g)]
        grads = add_weight_decay(grads, variables, mask, weight_decay, n_replicas)
        optimizer.apply_gradients(zip(grads, variables))
        return total / tf.cast(n_subnets, tf.float32)

    images_spec, labels_spec = element_spec
    signature = [
        images_spec,
        labels_spec,
        *(tf.TensorSpec([None, *spec.shape], spec.dtype) for spec in model.subnet_signature()),
        tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.float32),
    ]

    @tf.function(input_signature=signature)
    def step(images, labels, ks, e, d, kd_ratio, label_ratio):
        per_replica = strategy.run(replica_step, args=(images, labels, ks, e, d, kd_ratio, label_ratio))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return step


def stack_configs(configs, supernet=None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """int32 [n, n_blocks], [n, n_blocks], [n, n_stages] tensors of a list of `SubnetConfig` (or the stacked
    `supernet.subnet_arrays` of each config, for any family)."""
    if supernet is not None:
        arrays = [supernet.subnet_arrays(c) for c in configs]
        return tuple(tf.constant(np.stack(column)) for column in zip(*arrays))
    return tuple(tf.constant(np.array([getattr(c, k) for c in configs], np.int32)) for k in ("ks", "e", "d"))
