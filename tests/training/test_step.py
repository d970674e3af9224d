"""The traced training step: loss composition of the sandwich (in-place distillation) and one trace per recipe."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from ps_helpers import tiny_supernet

from ofa_tf.training.losses import smoothed_cross_entropy
from ofa_tf.training.losses import soft_target_cross_entropy
from ofa_tf.training.step import make_train_step
from ofa_tf.training.step import stack_configs


@pytest.mark.slow
def test_sandwich_step_max_on_labels_others_on_its_soft_labels_held_constant():
    net = tiny_supernet(dropout_rate=0.0, seed=1)
    space = net.search_space
    configs = [space.max_config(), space.min_config(), space.sample(np.random.default_rng(0))]
    ks, e, d = stack_configs(configs)
    rows = [(ks[i], e[i], d[i]) for i in range(3)]
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(8, 16, 16, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 10, 8), tf.int32)
    variables = net.trainable_variables

    with tf.GradientTape(persistent=True) as tape:
        logits = [net(images, training=True, subnet=row) for row in rows]
        soft = tf.nn.softmax(logits[0])
        on_labels = [tf.reduce_mean(smoothed_cross_entropy(labels, x, 0.1)) for x in logits]
        # max on the labels, every other row on the max subnet's soft labels held constant
        total = on_labels[0] + tf.add_n([tf.reduce_mean(soft_target_cross_entropy(soft, x)) for x in logits[1:]])
        # the same with the soft labels' gradient flowing back into the max subnet
        leaky = on_labels[0] + tf.add_n([tf.reduce_mean(-tf.reduce_sum(soft * tf.nn.log_softmax(x), -1))
                                         for x in logits[1:]])
    grads = tape.gradient(total, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    leaky_grads = tape.gradient(leaky, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    optimizer = keras.optimizers.SGD(learning_rate=1.0)  # no momentum: the update is minus the gradient
    optimizer.build(variables)
    spec = (tf.TensorSpec([None, None, None, 3], tf.float32), tf.TensorSpec([None], tf.int32))
    step = make_train_step(net, optimizer, tf.distribute.get_strategy(), element_spec=spec, global_batch_size=8,
                           inplace_distillation=True)
    before = [v.numpy() for v in variables]
    loss = float(step(images, labels, ks, e, d, tf.constant(0.0), tf.constant(0.0)))
    assert loss == pytest.approx(float(total) / 3, rel=1e-5)
    assert abs(loss - float(tf.add_n(on_labels)) / 3) > 1e-3  # the other rows are not trained on the labels
    updates = [b - v.numpy() for b, v in zip(before, variables)]
    def distance(a, b):  # relative distance of two gradient lists
        return np.sqrt(sum(np.sum((x - y) ** 2) for x, y in zip(a, b)) / sum(np.sum(y**2) for y in b))

    assert distance(updates, [g.numpy() for g in grads]) < 1e-4
    # letting the soft labels' gradient reach the max subnet would change the update
    assert distance([g.numpy() for g in leaky_grads], [g.numpy() for g in grads]) > 1e-2

    # with half the labels in the taught rows' loss (a tensor input: the same trace)
    mixed = on_labels[0] + tf.add_n([0.5 * tf.reduce_mean(soft_target_cross_entropy(soft, x)) + 0.5 * ce
                                     for x, ce in zip(logits[1:], on_labels[1:])])
    for v, b in zip(variables, before):  # the weights the expected losses were computed with
        v.assign(b)
    assert float(step(images, labels, ks, e, d, tf.constant(0.0), tf.constant(0.5))) == pytest.approx(
        float(mixed) / 3, rel=1e-5)

    # one trace for every row count: the full phase's single max row and the sandwich's max, min + random
    step(images, labels, *stack_configs(configs[:1]), tf.constant(0.0), tf.constant(0.0))
    step(images, labels, *stack_configs(configs + configs[2:]), tf.constant(0.0), tf.constant(0.0))
    assert step.experimental_get_tracing_count() == 1
