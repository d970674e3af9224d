import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticBatchNorm(keras.layers.Layer):
    """Batch norm over the first C channels of `max_channels` statistics (C = the input's channels).

    Training updates only the active slice, with PyTorch semantics (unbiased variance in the running
    estimate). With `calibration_weight=w` the batch statistics are folded into the running ones as
    `(1 - w) * running + w * batch` with the biased variance, which averages per-batch statistics
    when w = 1/k on batch k (OFA's BN recalibration).

    Args:
        max_channels: size of the statistics and affine parameters.
        momentum: weight of the old running statistics (Keras convention; PyTorch 0.1 == 0.9).
        epsilon: added to the variance (the reference uses 1e-5).
    """

    def __init__(self, max_channels, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if max_channels < 1:
            raise ValueError(f"`max_channels` must be >= 1. Received max_channels={max_channels}.")
        self.max_channels = int(max_channels)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape=None):
        shape = (self.max_channels,)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=shape, initializer="zeros", name="moving_mean", trainable=False, aggregation="mean"
        )
        self.moving_variance = self.add_weight(
            shape=shape, initializer="ones", name="moving_variance", trainable=False, aggregation="mean"
        )

    def call(self, inputs, training=None, calibration_weight=None):
        c = tf.shape(inputs)[-1]
        gamma, beta = self.gamma[:c], self.beta[:c]
        if calibration_weight is not None:
            mean, variance = tf.nn.moments(inputs, axes=[0, 1, 2])
            w = tf.cast(calibration_weight, inputs.dtype)
            self._update(c, (1 - w) * self.moving_mean[:c] + w * mean, (1 - w) * self.moving_variance[:c] + w * variance)
            return tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, self.epsilon)
        if not training:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, self.moving_mean[:c], self.moving_variance[:c], self.epsilon, is_training=False
            )
            return outputs
        # The fused op normalizes with the biased batch variance and returns the unbiased one, which is
        # what PyTorch folds into the running estimate.
        outputs, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(inputs, gamma, beta, epsilon=self.epsilon)
        m = self.momentum
        self._update(c, m * self.moving_mean[:c] + (1 - m) * mean, m * self.moving_variance[:c] + (1 - m) * unbiased)
        return outputs

    def _update(self, c, mean, variance):
        self.moving_mean.assign(tf.concat([mean, self.moving_mean[c:]], 0))
        self.moving_variance.assign(tf.concat([variance, self.moving_variance[c:]], 0))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_channels": self.max_channels, "momentum": self.momentum, "epsilon": self.epsilon})
        return config
