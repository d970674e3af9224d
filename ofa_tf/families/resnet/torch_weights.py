"""The reference `OFAResNets` state-dict keys and their Keras variables."""
from __future__ import annotations

import numpy as np

from ofa_tf.torch_checkpoint import add_batch_norm
from ofa_tf.torch_checkpoint import conv_kernel
from ofa_tf.torch_checkpoint import identity


def resnet_weight_table(net) -> dict:
    """`torch key -> (keras variable, layout transform)` for every tensor of an `OFAResNets`."""
    table = {}

    def conv_bn(conv_key, bn_prefix, conv, bn):
        table[conv_key] = (conv.kernel, conv_kernel)
        add_batch_norm(table, bn_prefix, bn)

    conv_bn("input_stem.0.conv.conv.weight", "input_stem.0.bn.bn", net.stem_conv0, net.stem_bn0)
    conv_bn("input_stem.1.conv.conv.conv.weight", "input_stem.1.conv.bn.bn", net.stem_conv1, net.stem_bn1)
    conv_bn("input_stem.2.conv.conv.weight", "input_stem.2.bn.bn", net.stem_conv2, net.stem_bn2)
    for i, block in enumerate(net.blocks):
        p = f"blocks.{i}"
        for n in (1, 2, 3):
            conv_bn(f"{p}.conv{n}.conv.conv.weight", f"{p}.conv{n}.bn.bn", getattr(block, f"conv{n}"),
                    getattr(block, f"bn{n}"))
        if block.has_downsample:
            conv_bn(f"{p}.downsample.conv.conv.weight", f"{p}.downsample.bn.bn", block.downsample_conv,
                    block.downsample_bn)
    table["classifier.linear.linear.weight"] = (net.classifier.kernel, np.transpose)
    table["classifier.linear.linear.bias"] = (net.classifier.bias, identity)
    return table


def remap_resnet_key(key: str, known: set[str]) -> str:
    """The reference's `OFAResNets.load_state_dict` renaming of older (static-layer) checkpoint keys."""
    if key in known:
        return key
    if ".linear." in key:
        return key.replace(".linear.", ".linear.linear.")
    if "bn." in key:
        return key.replace("bn.", "bn.bn.")
    if "conv.weight" in key:
        return key.replace("conv.weight", "conv.conv.weight")
    return key
