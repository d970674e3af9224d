import keras
import tensorflow as tf

from ofa_tf.utils import make_divisible
from ofa_tf.utils import make_divisible_tensor


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticSE(keras.layers.Layer):
    """Squeeze-and-excitation whose hidden width follows the active channels C.

    hidden = make_divisible(C // reduction, 8); reduce (with bias) → ReLU → expand (with bias) →
    hard sigmoid relu6(x + 3) / 6 → scale the input.

    Args:
        max_channels: largest input width.
        reduction: channel reduction factor (4 in OFA).
    """

    def __init__(self, max_channels, reduction=4, **kwargs):
        super().__init__(**kwargs)
        self.max_channels = int(max_channels)
        self.reduction = int(reduction)
        self.max_hidden = make_divisible(self.max_channels // self.reduction)

    def build(self, input_shape=None):
        c, h = self.max_channels, self.max_hidden
        self.reduce_kernel = self.add_weight(
            shape=(c, h), initializer=keras.initializers.RandomNormal(stddev=(2.0 / h) ** 0.5), name="reduce_kernel"
        )
        self.reduce_bias = self.add_weight(shape=(h,), initializer="zeros", name="reduce_bias")
        self.expand_kernel = self.add_weight(
            shape=(h, c), initializer=keras.initializers.RandomNormal(stddev=(2.0 / c) ** 0.5), name="expand_kernel"
        )
        self.expand_bias = self.add_weight(shape=(c,), initializer="zeros", name="expand_bias")

    def call(self, inputs):
        c = tf.shape(inputs)[-1]
        h = make_divisible_tensor(c // self.reduction)
        y = tf.reduce_mean(inputs, axis=[1, 2])
        y = tf.nn.relu(tf.matmul(y, self.reduce_kernel[:c, :h]) + self.reduce_bias[:h])
        y = tf.matmul(y, self.expand_kernel[:h, :c]) + self.expand_bias[:c]
        y = tf.nn.relu6(y + 3.0) / 6.0
        return inputs * y[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_channels": self.max_channels, "reduction": self.reduction})
        return config
