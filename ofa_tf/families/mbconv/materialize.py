"""The stock-Keras pieces every MBConv supernet's subnet is made of (`OFAMobileNetV3`, `OFAProxylessNASNets`)."""
from __future__ import annotations

import keras

from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.stock_keras import KERAS_ACTIVATION
from ofa_tf.stock_keras import StockModelBuilder


def mbconv_block(builder: StockModelBuilder, x, block, kernel_size, expand_ratio, name):
    act = KERAS_ACTIVATION[block.activation]
    inputs = x
    mid = block.middle_channels(expand_ratio)
    if block.has_expansion:
        kernel = block.expand_conv.kernel.numpy()[:, :, :, :mid]
        x = builder.conv(x, kernel, 1, f"{name}_expand")
        x = builder.bn(x, block.expand_bn, mid, f"{name}_expand_bn")
        x = keras.layers.Activation(act, name=f"{name}_expand_act")(x)
    kernel = block.depthwise_conv.active_kernel(kernel_size, mid).numpy()
    x = builder.depthwise(x, kernel, block.strides, f"{name}_depthwise")
    x = builder.bn(x, block.depthwise_bn, mid, f"{name}_depthwise_bn")
    x = keras.layers.Activation(act, name=f"{name}_depthwise_act")(x)
    if block.use_se:
        se, hidden = block.se, block.se_channels(mid)
        y = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
        y = builder.conv(y, se.reduce_kernel.numpy()[None, None, :mid, :hidden], 1, f"{name}_se_reduce",
                         bias=se.reduce_bias.numpy()[:hidden])
        y = keras.layers.ReLU(name=f"{name}_se_relu")(y)
        y = builder.conv(y, se.expand_kernel.numpy()[None, None, :hidden, :mid], 1, f"{name}_se_expand",
                         bias=se.expand_bias.numpy()[:mid])
        y = keras.layers.Activation("hard_sigmoid", name=f"{name}_se_gate")(y)
        x = keras.layers.Multiply(name=f"{name}_se_excite")([x, y])
    kernel = block.project_conv.kernel.numpy()[:, :, :mid, :]
    x = builder.conv(x, kernel, 1, f"{name}_project")
    x = builder.bn(x, block.project_bn, block.out_channels, f"{name}_project_bn")
    if block.has_shortcut:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def global_pool(builder: StockModelBuilder, x, supernet):
    return keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)


def classifier_head(builder: StockModelBuilder, x, supernet):
    x = keras.layers.Flatten(name="flatten")(x)
    if supernet.dropout_rate > 0:
        x = keras.layers.Dropout(supernet.dropout_rate, name="dropout")(x)
    classifier = keras.layers.Dense(supernet.n_classes, name="classifier")
    return builder.layer(classifier, x, [v.numpy() for v in (supernet.classifier.kernel, supernet.classifier.bias)])


def subnet_name(config: SubnetConfig) -> str:
    """Short id, e.g. `ofa_d4-4-4-4-4_r224` plus a hash of ks/e."""
    import hashlib

    digest = hashlib.sha1(repr((config.ks, config.e, config.d)).encode()).hexdigest()[:8]
    res = f"_r{config.r}" if config.r else ""
    return f"ofa_subnet_d{''.join(map(str, config.d))}{res}_{digest}"
