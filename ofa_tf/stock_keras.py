"""Build a subnet as a functional Keras model of stock layers and copy the supernet's weights into it.

Shared by every family's materializer (`ofa_tf/families/<family>/materialize.py`) and by `ofa_tf.layer_config`
(the reference's `net.config` subnets)."""
from __future__ import annotations

import keras
import numpy as np

KERAS_ACTIVATION = {"relu": "relu", "relu6": "relu6", "hard_silu": "hard_silu"}
"""Activation names of the elastic layers -> Keras activation names."""


def bn_weights(bn, channels):
    """The first `channels` of a batch norm's gamma, beta, moving mean and variance (NumPy)."""
    return [v.numpy()[:channels] for v in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)]


class StockModelBuilder:
    """Applies stock layers to a functional graph and records the weights to copy into each; `finish` makes the
    model and copies them."""

    def __init__(self, momentum, epsilon):
        self.momentum = momentum
        self.epsilon = epsilon
        self.weights = []

    def layer(self, layer, x, weights=None):
        y = layer(x)
        if weights is not None:
            self.weights.append((layer, weights))
        return y

    def bn(self, x, bn, channels, name):
        layer = keras.layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon, name=name)
        return self.layer(layer, x, bn_weights(bn, channels))

    def conv(self, x, kernel, strides, name, bias=None):
        """Conv with symmetric k//2 padding (explicit ZeroPadding2D at stride > 1, "same" at stride 1)."""
        k = kernel.shape[0]
        padding = "same"
        if strides > 1 and k > 1:
            x = keras.layers.ZeroPadding2D(k // 2, name=f"{name}_pad")(x)
            padding = "valid"
        layer = keras.layers.Conv2D(kernel.shape[-1], k, strides=strides, padding=padding,
                                    use_bias=bias is not None, name=name)
        return self.layer(layer, x, [kernel] if bias is None else [kernel, bias])

    def depthwise(self, x, kernel, strides, name):
        k = kernel.shape[0]
        padding = "same"
        if strides > 1:
            x = keras.layers.ZeroPadding2D(k // 2, name=f"{name}_pad")(x)
            padding = "valid"
        layer = keras.layers.DepthwiseConv2D(k, strides=strides, padding=padding, use_bias=False, name=name)
        return self.layer(layer, x, [kernel])

    def finish(self, inputs, outputs, name) -> keras.Model:
        """The model from `inputs` to `outputs`, with every recorded layer's weights set."""
        model = keras.Model(inputs, outputs, name=name)
        for layer, weights in self.weights:
            layer.set_weights([np.asarray(w, np.float32) for w in weights])
        return model
