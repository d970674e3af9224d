import keras
import tensorflow as tf

from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.layers.elastic_depthwise_conv import ElasticDepthwiseConv
from ofa_tf.layers.elastic_pointwise_conv import ElasticPointwiseConv
from ofa_tf.layers.elastic_se import ElasticSE
from ofa_tf.utils import make_divisible

ACTIVATIONS = {
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "hard_silu": lambda x: x * tf.nn.relu6(x + 3.0) / 6.0,
}
_ALIASES = {"h_swish": "hard_silu", "hard_swish": "hard_silu"}


def canonical_activation(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}.")
    return name


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticMBConv(keras.layers.Layer):
    """Mobile inverted bottleneck with elastic kernel size and expand ratio.

    expand 1x1 (+BN+act, absent when the only ratio is 1) → elastic depthwise (+BN+act) → optional
    elastic SE → project 1x1 (+BN) → + input when stride 1 and in == out. The active kernel size and
    expand ratio are call arguments (tensors or ints; None = largest), so one trace serves all.

    Args:
        in_channels, out_channels: block widths.
        strides: depthwise stride.
        kernel_sizes: elastic kernel sizes.
        expand_ratios: elastic expand ratios; middle width = make_divisible(round(in * e), 8).
        activation: "relu", "relu6" or "hard_silu" (h_swish).
        use_se: whether the block has squeeze-and-excitation.
        bn_momentum, bn_epsilon: batch-norm settings (Keras momentum convention).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        strides=1,
        kernel_sizes=(3, 5, 7),
        expand_ratios=(3, 4, 6),
        activation="relu",
        use_se=False,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.strides = int(strides)
        self.kernel_sizes = tuple(sorted(int(k) for k in kernel_sizes))
        self.expand_ratios = tuple(sorted(expand_ratios))
        self.activation = canonical_activation(activation)
        self.use_se = bool(use_se)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.has_expansion = self.expand_ratios != (1,)
        self.mid_channels = tuple(self.middle_channels(e) for e in self.expand_ratios)
        self.max_mid = max(self.mid_channels)
        self.has_shortcut = self.strides == 1 and self.in_channels == self.out_channels

        bn = dict(momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        if self.has_expansion:
            self.expand_conv = ElasticPointwiseConv(self.in_channels, self.max_mid, name="expand_conv")
            self.expand_bn = ElasticBatchNorm(self.max_mid, name="expand_bn", **bn)
        self.depthwise_conv = ElasticDepthwiseConv(
            self.max_mid, self.kernel_sizes, self.strides, name="depthwise_conv"
        )
        self.depthwise_bn = ElasticBatchNorm(self.max_mid, name="depthwise_bn", **bn)
        if self.use_se:
            self.se = ElasticSE(self.max_mid, name="se")
        self.project_conv = ElasticPointwiseConv(self.max_mid, self.out_channels, name="project_conv")
        self.project_bn = ElasticBatchNorm(self.out_channels, name="project_bn", **bn)

    def middle_channels(self, expand_ratio) -> int:
        """Middle width for an expand ratio (the input width when there is no expansion)."""
        if expand_ratio not in self.expand_ratios:
            raise ValueError(f"Invalid expand ratio {expand_ratio}: expected one of {list(self.expand_ratios)}.")
        if not self.has_expansion:
            return self.in_channels
        return make_divisible(round(self.in_channels * expand_ratio))

    def se_channels(self, mid: int) -> int:
        return make_divisible(mid // 4)

    def build(self, input_shape=None):
        for layer in self._sublayers():
            layer.build(None)

    def _sublayers(self):
        names = ["expand_conv", "expand_bn", "depthwise_conv", "depthwise_bn", "se", "project_conv", "project_bn"]
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def call(self, inputs, training=None, kernel_size=None, expand_ratio=None, calibration_weight=None):
        act = ACTIVATIONS[self.activation]
        bn = dict(training=training, calibration_weight=calibration_weight)
        x = inputs
        if self.has_expansion:
            mid = None
            if expand_ratio is not None and len(self.expand_ratios) > 1:
                index = tf.argmax(
                    tf.cast(tf.equal(tf.constant(self.expand_ratios, tf.float32), tf.cast(expand_ratio, tf.float32)),
                            tf.int32),
                    output_type=tf.int32,
                )
                mid = tf.gather(tf.constant(self.mid_channels, tf.int32), index)
            x = act(self.expand_bn(self.expand_conv(x, out_channels=mid), **bn))
        x = act(self.depthwise_bn(self.depthwise_conv(x, kernel_size=kernel_size), **bn))
        if self.use_se:
            x = self.se(x)
        x = self.project_bn(self.project_conv(x), **bn)
        if self.has_shortcut:
            x = x + inputs
        return x

    def compute_output_shape(self, input_shape):
        b, h, w, _ = self.depthwise_conv.compute_output_shape(input_shape)
        return (b, h, w, self.out_channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "strides": self.strides,
                "kernel_sizes": list(self.kernel_sizes),
                "expand_ratios": list(self.expand_ratios),
                "activation": self.activation,
                "use_se": self.use_se,
                "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon,
            }
        )
        return config
