"""An OFA-ResNet subnet as a standalone Keras model of stock layers (the reference's static `ResNets`)."""
from __future__ import annotations

import keras

from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.stock_keras import StockModelBuilder


def _conv_bn(builder: StockModelBuilder, x, conv, bn, c_in, c_out, name, relu=True):
    x = builder.conv(x, conv.kernel.numpy()[:, :, :c_in, :c_out], getattr(conv, "strides", 1), name)
    x = builder.bn(x, bn, c_out, f"{name}_bn")
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _bottleneck(builder: StockModelBuilder, x, block, c_in, width_index, expand_ratio, name):
    out = block.out_channels[width_index]
    mid = block.middle_channels(out, expand_ratio)
    inputs = x
    x = _conv_bn(builder, x, block.conv1, block.bn1, c_in, mid, f"{name}_conv1")
    x = _conv_bn(builder, x, block.conv2, block.bn2, mid, mid, f"{name}_conv2")
    x = _conv_bn(builder, x, block.conv3, block.bn3, mid, out, f"{name}_conv3", relu=False)
    shortcut = inputs
    if block.has_downsample:
        if block.strides > 1:
            # AvgPool2d(stride, stride, ceil_mode=True): SAME average pooling excludes the padding likewise.
            shortcut = keras.layers.AveragePooling2D(block.strides, block.strides, padding="same",
                                                     name=f"{name}_downsample_pool")(shortcut)
        shortcut = _conv_bn(builder, shortcut, block.downsample_conv, block.downsample_bn, c_in, out,
                            f"{name}_downsample", relu=False)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_relu")(x), out


def materialize_resnet(net, config: ResNetConfig, resolution=None, batch_size=None, name=None) -> keras.Model:
    """Builds `config` of an `OFAResNets` from stock Keras layers, weights copied.

    Layers are created in the reference's module order (a block's convs before its downsample), which
    `profile` relies on to reproduce the reference's float32 MAC totals.

    Args:
        net: an `OFAResNets`.
        config: the subnet; must belong to the supernet's search space.
        resolution: fixed input size, or None for any size.
        batch_size: fixed batch size, or None.
        name: model name (default: `ofa_resnet_subnet_` + the config's short id).
    """
    net.search_space.validate(config)
    size = resolution or None
    inputs = keras.Input(shape=(size, size, 3), batch_size=batch_size, name="image")
    builder = StockModelBuilder(momentum=net.bn_momentum, epsilon=net.bn_epsilon)

    mid, stem = net.stem_mid_widths[config.w[0]], net.stem_widths[config.w[1]]
    x = _conv_bn(builder, inputs, net.stem_conv0, net.stem_bn0, 3, mid, "stem_conv0")
    if config.d[0] >= net.search_space.max_depth:
        y = _conv_bn(builder, x, net.stem_conv1, net.stem_bn1, mid, mid, "stem_conv1")
        x = keras.layers.Add(name="stem_add")([x, y])
    x = _conv_bn(builder, x, net.stem_conv2, net.stem_bn2, mid, stem, "stem_conv2")
    # The input is >= 0 (after ReLU), so zero padding equals MaxPool2d's -inf padding.
    x = keras.layers.ZeroPadding2D(1, name="max_pool_pad")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="max_pool")(x)
    channels = stem
    for i, (b, w, e) in enumerate(net.active_blocks(config)):
        x, channels = _bottleneck(builder, x, net.blocks[b], channels, w, e, f"blocks_{i}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if net.dropout_rate > 0:
        x = keras.layers.Dropout(net.dropout_rate, name="dropout")(x)
    classifier = keras.layers.Dense(net.n_classes, name="classifier")
    x = builder.layer(classifier, x, [net.classifier.kernel.numpy()[:channels], net.classifier.bias.numpy()])
    return builder.finish(inputs, x, name or resnet_subnet_name(config))


def resnet_subnet_name(config: ResNetConfig) -> str:
    """Short id, e.g. `ofa_resnet_subnet_d20122_w222222_r224` plus a hash of the expand ratios."""
    import hashlib

    digest = hashlib.sha1(repr(config.e).encode()).hexdigest()[:8]
    res = f"_r{config.r}" if config.r else ""
    return f"ofa_resnet_subnet_d{''.join(map(str, config.d))}_w{''.join(map(str, config.w))}{res}_{digest}"
