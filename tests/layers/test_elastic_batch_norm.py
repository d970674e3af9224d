import numpy as np
import tensorflow as tf

from ofa_tf.layers import ElasticBatchNorm


def _layer(rng, c=8):
    layer = ElasticBatchNorm(c, momentum=0.9, epsilon=1e-5)
    layer.build(None)
    for w in layer.weights:
        w.assign(rng.uniform(0.5, 1.5, size=w.shape).astype("float32"))
    return layer


def test_inference_uses_sliced_statistics():
    rng = np.random.default_rng(0)
    layer = _layer(rng)
    x = rng.normal(size=(2, 3, 3, 5)).astype("float32")
    g, b, m, v = (w.numpy()[:5] for w in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance))
    np.testing.assert_allclose(layer(x, training=False).numpy(), (x - m) / np.sqrt(v + 1e-5) * g + b, rtol=1e-5, atol=1e-6)


def test_training_updates_only_active_slice_with_unbiased_variance():
    rng = np.random.default_rng(1)
    layer = _layer(rng)
    before_mean, before_var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    x = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    layer(x, training=True)
    flat = x.reshape(-1, 5)
    np.testing.assert_allclose(layer.moving_mean.numpy()[:5], 0.9 * before_mean[:5] + 0.1 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(
        layer.moving_variance.numpy()[:5], 0.9 * before_var[:5] + 0.1 * flat.var(0, ddof=1), rtol=1e-5
    )
    np.testing.assert_array_equal(layer.moving_mean.numpy()[5:], before_mean[5:])


def test_calibration_weight_averages_batch_statistics():
    rng = np.random.default_rng(2)
    layer = _layer(rng)
    batches = [rng.normal(loc=i, size=(3, 2, 2, 4)).astype("float32") for i in range(3)]
    for k, x in enumerate(batches, start=1):
        layer(x, calibration_weight=tf.constant(1.0 / k))
    means = [x.reshape(-1, 4).mean(0) for x in batches]
    variances = [x.reshape(-1, 4).var(0) for x in batches]  # biased, as the reference
    np.testing.assert_allclose(layer.moving_mean.numpy()[:4], np.mean(means, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy()[:4], np.mean(variances, 0), rtol=1e-5)
