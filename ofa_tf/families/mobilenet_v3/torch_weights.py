"""The reference `OFAMobileNetV3` state-dict keys and their Keras variables."""
from __future__ import annotations

from collections.abc import Callable

from ofa_tf.families.mbconv.torch_weights import mbconv_weight_table
from ofa_tf.torch_checkpoint import add_batch_norm
from ofa_tf.torch_checkpoint import conv_kernel


def weight_table(supernet) -> dict[str, tuple[object, Callable]]:
    """`torch key -> (keras variable, layout transform)` for every tensor of an `OFAMobileNetV3`."""
    table = mbconv_weight_table(supernet)
    table["final_expand_layer.conv.weight"] = (supernet.final_expand_conv.kernel, conv_kernel)
    add_batch_norm(table, "final_expand_layer.bn", supernet.final_expand_bn)
    table["feature_mix_layer.conv.weight"] = (supernet.feature_mix_conv.kernel, conv_kernel)
    return table
