"""The reference's state-dict keys every MBConv supernet shares, and its renaming of older checkpoint keys."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ofa_tf.torch_checkpoint import add_batch_norm
from ofa_tf.torch_checkpoint import conv_kernel
from ofa_tf.torch_checkpoint import depthwise_kernel
from ofa_tf.torch_checkpoint import identity
from ofa_tf.torch_checkpoint import se_kernel


def mbconv_weight_table(supernet) -> dict[str, tuple[object, Callable]]:
    """The keys every MBConv supernet shares: first conv, blocks (`blocks.0` static) and classifier."""
    table = {}
    table["first_conv.conv.weight"] = (supernet.first_conv.kernel, conv_kernel)
    add_batch_norm(table, "first_conv.bn", supernet.first_bn)
    first = supernet.blocks[0]
    table["blocks.0.conv.depth_conv.conv.weight"] = (first.depthwise_conv.kernel, depthwise_kernel)
    add_batch_norm(table, "blocks.0.conv.depth_conv.bn", first.depthwise_bn)
    table["blocks.0.conv.point_linear.conv.weight"] = (first.project_conv.kernel, conv_kernel)
    add_batch_norm(table, "blocks.0.conv.point_linear.bn", first.project_bn)
    for i, block in enumerate(supernet.blocks[1:], start=1):
        p = f"blocks.{i}.conv"
        table[f"{p}.inverted_bottleneck.conv.conv.weight"] = (block.expand_conv.kernel, conv_kernel)
        add_batch_norm(table, f"{p}.inverted_bottleneck.bn.bn", block.expand_bn)
        for name, matrix in block.depthwise_conv.transform_matrices.items():
            table[f"{p}.depth_conv.conv.{name}"] = (matrix, identity)
        table[f"{p}.depth_conv.conv.conv.weight"] = (block.depthwise_conv.kernel, depthwise_kernel)
        add_batch_norm(table, f"{p}.depth_conv.bn.bn", block.depthwise_bn)
        if block.use_se:
            se = block.se
            table[f"{p}.depth_conv.se.fc.reduce.weight"] = (se.reduce_kernel, se_kernel)
            table[f"{p}.depth_conv.se.fc.reduce.bias"] = (se.reduce_bias, identity)
            table[f"{p}.depth_conv.se.fc.expand.weight"] = (se.expand_kernel, se_kernel)
            table[f"{p}.depth_conv.se.fc.expand.bias"] = (se.expand_bias, identity)
        table[f"{p}.point_linear.conv.conv.weight"] = (block.project_conv.kernel, conv_kernel)
        add_batch_norm(table, f"{p}.point_linear.bn.bn", block.project_bn)
    table["classifier.linear.weight"] = (supernet.classifier.kernel, np.transpose)
    table["classifier.linear.bias"] = (supernet.classifier.bias, identity)
    return table


def remap_key(key: str, known: set[str]) -> str:
    """The reference's renaming of older checkpoint keys (`load_state_dict` of `OFAMobileNetV3` and
    `OFAProxylessNASNets`)."""
    new = key.replace(".mobile_inverted_conv.", ".conv.")
    if new in known:
        return new
    rules = [
        (".bn.bn.", ".bn.bn.", ".bn."),
        (".conv.conv.weight", ".conv.conv.weight", ".conv.weight"),
        (".linear.linear.", ".linear.linear.", ".linear."),
        (".linear.", ".linear.", ".linear.linear."),
        ("bn.", "bn.", "bn.bn."),
        ("conv.weight", "conv.weight", "conv.conv.weight"),
    ]
    for contains, old, replacement in rules:
        if contains in new:
            return new.replace(old, replacement)
    return new
