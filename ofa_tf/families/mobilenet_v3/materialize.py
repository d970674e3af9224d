"""Turn a supernet's subnet into a standalone Keras model of stock layers (no ofa_tf classes)."""
from __future__ import annotations

import keras

from ofa_tf.families.mbconv.materialize import classifier_head
from ofa_tf.families.mbconv.materialize import global_pool
from ofa_tf.families.mbconv.materialize import mbconv_block
from ofa_tf.families.mbconv.materialize import subnet_name
from ofa_tf.stock_keras import StockModelBuilder
from ofa_tf.families.mbconv.config import SubnetConfig


def _stem(builder: StockModelBuilder, x, supernet):
    x = builder.conv(x, supernet.first_conv.kernel.numpy(), supernet.first_stride, "first_conv")
    x = builder.bn(x, supernet.first_bn, supernet.stem_width, "first_conv_bn")
    return keras.layers.Activation("hard_silu", name="first_conv_act")(x)


def _final_expand(builder: StockModelBuilder, x, supernet):
    x = builder.conv(x, supernet.final_expand_conv.kernel.numpy(), 1, "final_expand")
    x = builder.bn(x, supernet.final_expand_bn, supernet.final_expand_width, "final_expand_bn")
    return keras.layers.Activation("hard_silu", name="final_expand_act")(x)


def _feature_mix(builder: StockModelBuilder, x, supernet):
    x = builder.conv(x, supernet.feature_mix_conv.kernel.numpy(), 1, "feature_mix")
    return keras.layers.Activation("hard_silu", name="feature_mix_act")(x)


def materialize(supernet, config: SubnetConfig, resolution=None, batch_size=None, name=None) -> keras.Model:
    """Builds `config` of `supernet` from stock Keras layers, weights copied (kernel transforms applied).

    Args:
        supernet: an `OFAMobileNetV3`.
        config: the subnet; must belong to the supernet's search space.
        resolution: fixed input size, or None for any size.
        batch_size: fixed batch size, or None.
        name: model name (default: the config's short id).
    """
    supernet.search_space.validate(config)
    size = resolution or None
    inputs = keras.Input(shape=(size, size, 3), batch_size=batch_size, name="image")
    builder = StockModelBuilder(momentum=supernet.bn_momentum, epsilon=supernet.bn_epsilon)

    x = _stem(builder, inputs, supernet)
    for i, (b, k, e) in enumerate(supernet.active_blocks(config)):
        x = mbconv_block(builder, x, supernet.blocks[b], k, e, f"blocks_{i}")
    for part in (_final_expand, global_pool, _feature_mix, classifier_head):
        x = part(builder, x, supernet)
    return builder.finish(inputs, x, name or subnet_name(config))


def _stem_and_first_block(builder: StockModelBuilder, x, supernet):
    x = _stem(builder, x, supernet)
    (index, kernel_size, expand_ratio), = supernet.active_blocks(supernet.search_space.min_config())[:1]
    return mbconv_block(builder, x, supernet.blocks[index], kernel_size, expand_ratio, f"blocks_{index}")


def _head(builder: StockModelBuilder, x, supernet):
    for part in (_final_expand, global_pool, _feature_mix, classifier_head):
        x = part(builder, x, supernet)
    return x


_PARTS = {
    "first_conv": _stem,
    "final_expand": _final_expand,
    "pool": global_pool,
    "feature_mix": _feature_mix,
    "classifier": classifier_head,
    "stem": _stem_and_first_block,
    "head": _head,
}
PARTS = ("first_conv", "block", *tuple(_PARTS)[1:])
"""Pieces `materialize_part` builds: the layers in network order (`classifier` includes the flatten), then
`stem` (first conv + the fixed first block) and `head` (final expand to classifier), as the interpreter runs them
in a whole subnet."""


def materialize_part(supernet, part: str, input_shape, block=None, kernel_size=None, expand_ratio=None,
                     batch_size=1, name=None) -> keras.Model:
    """One piece of a subnet alone, from exactly the layers `materialize` uses (weights copied from `supernet`).

    Used to time pieces in isolation (latency lookup tables).

    Args:
        supernet: an `OFAMobileNetV3`.
        part: one of `PARTS`.
        input_shape: (height, width, channels) of the piece's input.
        block: index into `supernet.blocks` (only for `part="block"`), with its `kernel_size` and `expand_ratio`.
        batch_size: fixed batch size, or None.
        name: model name (default: the part's name).
    """
    if part not in PARTS:
        raise ValueError(f"Unknown part {part!r}: expected one of {', '.join(PARTS)}.")
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"`input_shape` must be (height, width, channels); received {tuple(input_shape)}.")
    inputs = keras.Input(shape=tuple(input_shape), batch_size=batch_size, name="input")
    builder = StockModelBuilder(momentum=supernet.bn_momentum, epsilon=supernet.bn_epsilon)
    if part == "block":
        if block is None or not 0 <= block < len(supernet.blocks):
            raise ValueError(f"`block` must index supernet.blocks (0..{len(supernet.blocks) - 1}); received {block}.")
        b = supernet.blocks[block]
        if kernel_size not in b.kernel_sizes:
            raise ValueError(f"Invalid kernel_size {kernel_size} for block {block}: expected one of "
                             f"{list(b.kernel_sizes)}.")
        x = mbconv_block(builder, inputs, b, kernel_size, expand_ratio, f"blocks_{block}")
    else:
        x = _PARTS[part](builder, inputs, supernet)
    return builder.finish(inputs, x, name or part)
