"""OFA-MobileNetV3: the elastic supernet as a Keras 3 model, on the base every MBConv supernet shares."""
from __future__ import annotations

import keras
import tensorflow as tf

from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.supernet import MBConvSupernet
from ofa_tf.families.mbconv.supernet import he_fan_out
from ofa_tf.families.mobilenet_v3.torch_weights import weight_table
from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.layers.elastic_mbconv import ACTIVATIONS


@keras.saving.register_keras_serializable(package="ofa_tf")
class OFAMobileNetV3(MBConvSupernet):
    """Once-for-All MobileNetV3 supernet with elastic kernel size, expand ratio, depth and resolution.

    The active subnet lives in int32 variables (`active_ks`, `active_e`, `active_d`) or is passed to
    `call(..., subnet=(ks, e, d))` as tensors, so a single trace runs every subnet.

    Args:
        n_classes: classifier outputs.
        width_mult: multiplier on all base widths (make_divisible by 8).
        ks_list, expand_list, depth_list: elastic choices.
        dropout_rate: dropout before the classifier.
        first_stride: stride of the first conv (2 for ImageNet, 1 for small images).
        stage_strides: stride of each stage's first block.
        resolutions: input sizes of the search space (metadata for sampling and search).
        bn_momentum, bn_epsilon: batch norm (Keras momentum convention; reference 0.9 / 1e-5).

    Reference: Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient
    Deployment", ICLR 2020.
    """

    latency_tables = True  # block lookup tables (`ofa_tf.latency`) time its MobileNetV3 blocks and head

    default_stage_strides = (2, 2, 2, 1, 2)
    default_bn_epsilon = 1e-5
    stem_activation = "hard_silu"
    first_block_activation = "relu"

    def _make_space_and_shape(self, ks_list, expand_list, depth_list, resolutions) -> None:
        self.search_space = SearchSpace(ks_list, expand_list, depth_list, 5, resolutions)
        self._set_network_shape(NetworkShape.mobilenet_v3(self.width_mult, self.n_classes,
                                                          stem_stride=self.first_stride, strides=self.stage_strides))

    def _make_head(self) -> None:
        """Final expand conv + BN (h-swish), global pooling, feature-mix conv (h-swish, no BN)."""
        self.final_expand_conv = keras.layers.Conv2D(
            self.final_expand_width, 1, use_bias=False,
            kernel_initializer=he_fan_out(1, self.final_expand_width), name="final_expand_conv",
        )
        self.final_expand_bn = ElasticBatchNorm(self.final_expand_width, name="final_expand_bn",
                                                momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        self.feature_mix_conv = keras.layers.Conv2D(
            self.feature_mix_width, 1, use_bias=False,
            kernel_initializer=he_fan_out(1, self.feature_mix_width), name="feature_mix_conv",
        )

    def _build_head(self) -> None:
        self.final_expand_conv.build((None, None, None, self.stages[-1].width))
        self.final_expand_bn.build(None)
        self.feature_mix_conv.build((None, 1, 1, self.final_expand_width))

    def _run_head(self, x, bn):
        hswish = ACTIVATIONS["hard_silu"]
        x = hswish(self.final_expand_bn(self.final_expand_conv(x), **bn))
        x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        x = hswish(self.feature_mix_conv(x))
        return tf.reshape(x, [-1, self.feature_mix_width])

    def materialize(self, config: SubnetConfig, resolution=None, batch_size=None, name=None) -> keras.Model:
        """`config` as a Keras model of stock layers (see `ofa_tf.families.mobilenet_v3.materialize.materialize`)."""
        from ofa_tf.families.mobilenet_v3.materialize import materialize

        return materialize(self, config, resolution, batch_size=batch_size, name=name)

    def torch_weight_table(self) -> dict:
        """`torch key -> (variable, layout transform)` of the reference's `OFAMobileNetV3` state dict."""
        return weight_table(self)
