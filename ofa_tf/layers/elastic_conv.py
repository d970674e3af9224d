import keras
import tensorflow as tf


def same_conv(inputs, kernel, strides=1):
    """Conv of a square odd [k, k, in, out] kernel with symmetric padding k // 2 (`get_same_padding`).

    Stride 1 is TensorFlow's SAME padding; strided convs pad explicitly, as SAME pads asymmetrically.
    """
    k = kernel.shape[0]
    if strides == 1 or k == 1:
        return tf.nn.conv2d(inputs, kernel, strides, "SAME")
    p = k // 2
    padded = tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]])
    return tf.nn.conv2d(padded, kernel, strides, "VALID")


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticConv2D(keras.layers.Layer):
    """k x k convolution without bias over the first `in` input and first `out` output channels.

    The reference's `DynamicConv2d` (`elastic_nn/modules/dynamic_op.py`): the input width is read from
    the input, the output width is a call argument (default: max); padding is symmetric k // 2.

    Args:
        max_in_channels, max_out_channels: channels of the full kernel.
        kernel_size: odd spatial size.
        strides: spatial stride.
    """

    def __init__(self, max_in_channels, max_out_channels, kernel_size=3, strides=1, **kwargs):
        super().__init__(**kwargs)
        if max_in_channels < 1 or max_out_channels < 1:
            raise ValueError(
                "Channel counts must be >= 1. Received "
                f"max_in_channels={max_in_channels}, max_out_channels={max_out_channels}."
            )
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd and positive. Received kernel_size={kernel_size}.")
        self.max_in_channels = int(max_in_channels)
        self.max_out_channels = int(max_out_channels)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)

    def build(self, input_shape=None):
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, self.max_in_channels, self.max_out_channels),
            initializer=keras.initializers.RandomNormal(stddev=(2.0 / (k * k * self.max_out_channels)) ** 0.5),
            name="kernel",
        )

    def call(self, inputs, out_channels=None):
        c_in = tf.shape(inputs)[-1]
        c_out = self.max_out_channels if out_channels is None else out_channels
        outputs = same_conv(inputs, self.kernel[:, :, :c_in, :c_out], self.strides)
        outputs.set_shape(outputs.shape[:-1].concatenate([c_out if isinstance(c_out, int) else None]))
        return outputs

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape

        def out(n):
            return None if n is None else (n - 1) // self.strides + 1

        return (b, out(h), out(w), None)

    def get_config(self):
        config = super().get_config()
        config.update({"max_in_channels": self.max_in_channels, "max_out_channels": self.max_out_channels,
                       "kernel_size": self.kernel_size, "strides": self.strides})
        return config


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticDense(keras.layers.Layer):
    """Dense layer with bias reading the first `in` features (`DynamicLinear`, fixed output width).

    Args:
        max_in_features: input features of the full kernel.
        units: outputs.
    """

    def __init__(self, max_in_features, units, **kwargs):
        super().__init__(**kwargs)
        self.max_in_features = int(max_in_features)
        self.units = int(units)

    def build(self, input_shape=None):
        limit = 1.0 / self.max_in_features**0.5
        self.kernel = self.add_weight(
            shape=(self.max_in_features, self.units), initializer=keras.initializers.RandomUniform(-limit, limit),
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return tf.matmul(inputs, self.kernel[: tf.shape(inputs)[-1]]) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"max_in_features": self.max_in_features, "units": self.units})
        return config
