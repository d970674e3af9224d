"""OFA-ProxylessNAS: the elastic ProxylessNAS supernet (`ofa_proxyless_d234_e346_k357_w1.3`) as a Keras 3 model.

Reference: `ofa/imagenet_classification/elastic_nn/networks/ofa_proxyless.py` (and the static
`networks/proxyless_nets.py` its subnets are) of github.com/mit-han-lab/once-for-all; ProxylessNAS is
Cai et al., "ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware", ICLR 2019.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.families.mbconv.shape import PROXYLESS_STRIDES
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mbconv.supernet import MBConvSupernet
from ofa_tf.families.mbconv.supernet import he_fan_out


@keras.saving.register_keras_serializable(package="ofa_tf")
class OFAProxylessNASNets(MBConvSupernet):
    """Once-for-All ProxylessNAS supernet with elastic kernel size, expand ratio, depth and resolution.

    relu6 everywhere, no squeeze-excite; a first block of expand ratio 1 without shortcut, 5 elastic
    stages of `max(depth_list)` blocks and a final one-block stage (kernel size and expand ratio elastic,
    depth fixed: the arch dict's last `d` entry is clamped to 1), then a 1x1 feature-mix conv + BN +
    relu6 *before* global pooling. `ks` and `e` have 21 entries, `d` 6 (for the default depths).

    Args: those of `OFAMobileNetV3` (the shared `MBConvSupernet` constructor), except `stage_strides` (the stride of
    each of the 6 stages' first block) and `bn_epsilon` (the reference's 1e-3).
    """

    default_stage_strides = PROXYLESS_STRIDES
    default_bn_epsilon = 1e-3
    stem_activation = "relu6"
    first_block_activation = "relu6"

    def _make_space_and_shape(self, ks_list, expand_list, depth_list, resolutions) -> None:
        self._set_network_shape(NetworkShape.proxyless(self.width_mult, self.n_classes, stem_stride=self.first_stride,
                                                       strides=self.stage_strides))
        if self.stem_width == self.first_block_width:
            raise ValueError(
                f"width_mult={self.width_mult:g} gives the first conv and first block the same width "
                f"({self.stem_width}); the reference's first block has no shortcut, so use width_mult >= 0.5."
            )
        max_depth = max(int(d) for d in depth_list)
        self.search_space = SearchSpace(
            ks_list, expand_list, depth_list, len(self.stages), resolutions,
            stage_depths=(max_depth,) * (len(self.stages) - 1) + (1,),
        )

    def _make_head(self) -> None:
        """1x1 feature-mix conv + BN + relu6 *before* global pooling."""
        self.feature_mix_conv = keras.layers.Conv2D(
            self.feature_mix_width, 1, use_bias=False,
            kernel_initializer=he_fan_out(1, self.feature_mix_width), name="feature_mix_conv",
        )
        self.feature_mix_bn = ElasticBatchNorm(
            self.feature_mix_width, name="feature_mix_bn", momentum=self.bn_momentum, epsilon=self.bn_epsilon
        )

    def _build_head(self) -> None:
        self.feature_mix_conv.build((None, None, None, self.stages[-1].width))
        self.feature_mix_bn.build(None)

    def _run_head(self, x, bn):
        x = tf.nn.relu6(self.feature_mix_bn(self.feature_mix_conv(x), **bn))
        return tf.reduce_mean(x, axis=[1, 2])

    def materialize(self, config: SubnetConfig, resolution=None, batch_size=None, name=None) -> keras.Model:
        """`config` as a Keras model of stock layers, weights copied (the reference's `ProxylessNASNets`)."""
        from ofa_tf.families.mbconv.materialize import classifier_head
        from ofa_tf.families.mbconv.materialize import global_pool
        from ofa_tf.families.mbconv.materialize import mbconv_block
        from ofa_tf.families.mbconv.materialize import subnet_name
        from ofa_tf.stock_keras import StockModelBuilder

        self.search_space.validate(config)
        size = resolution or None
        inputs = keras.Input(shape=(size, size, 3), batch_size=batch_size, name="image")
        builder = StockModelBuilder(momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        x = builder.conv(inputs, self.first_conv.kernel.numpy(), self.first_stride, "first_conv")
        x = builder.bn(x, self.first_bn, self.stem_width, "first_conv_bn")
        x = keras.layers.Activation("relu6", name="first_conv_act")(x)
        for i, (b, k, e) in enumerate(self.active_blocks(config)):
            x = mbconv_block(builder, x, self.blocks[b], k, e, f"blocks_{i}")
        x = builder.conv(x, self.feature_mix_conv.kernel.numpy(), 1, "feature_mix")
        x = builder.bn(x, self.feature_mix_bn, self.feature_mix_width, "feature_mix_bn")
        x = keras.layers.Activation("relu6", name="feature_mix_act")(x)
        x = classifier_head(builder, global_pool(builder, x, self), self)
        return builder.finish(inputs, x, name or subnet_name(config))

    def torch_weight_table(self) -> dict:
        """`torch key -> (variable, layout transform)` of the reference's `OFAProxylessNASNets` state dict."""
        from ofa_tf.torch_checkpoint import add_batch_norm
        from ofa_tf.torch_checkpoint import conv_kernel
        from ofa_tf.families.mbconv.torch_weights import mbconv_weight_table

        table = mbconv_weight_table(self)
        table["feature_mix_layer.conv.weight"] = (self.feature_mix_conv.kernel, conv_kernel)
        add_batch_norm(table, "feature_mix_layer.bn", self.feature_mix_bn)
        return table
