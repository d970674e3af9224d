import keras
import tensorflow as tf

from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.layers.elastic_conv import ElasticConv2D
from ofa_tf.layers.elastic_pointwise_conv import ElasticPointwiseConv
from ofa_tf.utils import make_divisible


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticBottleneck(keras.layers.Layer):
    """ResNet bottleneck with elastic output width and expand ratio (`DynamicResNetBottleneckBlock`).

    1x1 conv (+BN+ReLU) → k x k conv at the stride (+BN+ReLU) → 1x1 conv (+BN) → + shortcut → ReLU.
    The shortcut is the identity when stride is 1 and the width choices of input and output are the
    same, else avgpool(stride, ceil mode) → 1x1 conv → BN ("avgpool_conv" downsampling). Middle width
    = make_divisible(round(out * e)) for the active output width; all widths take the first channels.
    The active width and expand ratio are call arguments (indices, tensors or ints; None = largest).

    Args:
        in_channels: width choices of the input (one per width multiplier).
        out_channels: width choices of the output.
        expand_ratios: elastic expand ratios.
        kernel_size: middle conv kernel size.
        strides: middle conv (and shortcut pool) stride.
        bn_momentum, bn_epsilon: batch-norm settings (Keras momentum convention).
    """

    def __init__(self, in_channels, out_channels, expand_ratios=(0.2, 0.25, 0.35), kernel_size=3, strides=1,
                 bn_momentum=0.9, bn_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.in_channels = tuple(int(c) for c in in_channels)
        self.out_channels = tuple(int(c) for c in out_channels)
        self.expand_ratios = tuple(sorted(float(e) for e in expand_ratios))
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.has_downsample = not (self.strides == 1 and self.in_channels == self.out_channels)
        # middle widths[width index][expand index]
        self.mid_table = tuple(tuple(self.middle_channels(out, e) for e in self.expand_ratios)
                               for out in self.out_channels)
        max_in, max_out = max(self.in_channels), max(self.out_channels)
        max_mid = max(max(row) for row in self.mid_table)

        bn = dict(momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        self.conv1 = ElasticPointwiseConv(max_in, max_mid, name="conv1")
        self.bn1 = ElasticBatchNorm(max_mid, name="bn1", **bn)
        self.conv2 = ElasticConv2D(max_mid, max_mid, self.kernel_size, self.strides, name="conv2")
        self.bn2 = ElasticBatchNorm(max_mid, name="bn2", **bn)
        self.conv3 = ElasticPointwiseConv(max_mid, max_out, name="conv3")
        self.bn3 = ElasticBatchNorm(max_out, name="bn3", **bn)
        if self.has_downsample:
            self.downsample_conv = ElasticPointwiseConv(max_in, max_out, name="downsample_conv")
            self.downsample_bn = ElasticBatchNorm(max_out, name="downsample_bn", **bn)

    @staticmethod
    def middle_channels(out_channels: int, expand_ratio: float) -> int:
        """The reference's `active_middle_channels`: make_divisible(round(out * e), 8)."""
        return make_divisible(round(out_channels * expand_ratio))

    def build(self, input_shape=None):
        for layer in self._sublayers():
            layer.build(None)

    def _sublayers(self):
        names = ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample_conv", "downsample_bn"]
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def call(self, inputs, training=None, width_index=None, expand_index=None, calibration_weight=None):
        bn = dict(training=training, calibration_weight=calibration_weight)
        w = len(self.out_channels) - 1 if width_index is None else width_index
        e = len(self.expand_ratios) - 1 if expand_index is None else expand_index
        if isinstance(w, int) and isinstance(e, int):
            out, mid = self.out_channels[w], self.mid_table[w][e]
        else:
            out = tf.gather(tf.constant(self.out_channels, tf.int32), w)
            mid = tf.gather_nd(tf.constant(self.mid_table, tf.int32), tf.stack([w, e]))
        shortcut = inputs
        if self.has_downsample:
            if self.strides > 1:
                # AvgPool2d(stride, stride, ceil_mode=True) averages the valid pixels of a partial window,
                # as TensorFlow's SAME average pooling does.
                shortcut = tf.nn.avg_pool2d(shortcut, self.strides, self.strides, "SAME")
            shortcut = self.downsample_bn(self.downsample_conv(shortcut, out_channels=out), **bn)
        x = tf.nn.relu(self.bn1(self.conv1(inputs, out_channels=mid), **bn))
        x = tf.nn.relu(self.bn2(self.conv2(x, out_channels=mid), **bn))
        x = self.bn3(self.conv3(x, out_channels=out), **bn)
        return tf.nn.relu(x + shortcut)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = self.conv2.compute_output_shape(input_shape)
        return (b, h, w, None)

    def get_config(self):
        config = super().get_config()
        config.update({
            "in_channels": list(self.in_channels),
            "out_channels": list(self.out_channels),
            "expand_ratios": list(self.expand_ratios),
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
        })
        return config
