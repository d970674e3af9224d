"""Parameter and multiply-accumulate counts under the reference's counting rules."""
from __future__ import annotations

import keras
import numpy as np

from ofa_tf.utils import float32_sum


def profile(model_or_supernet, resolution: int | None = None) -> dict[str, int]:
    """`{"params", "macs"}` of a supernet's active subnet or of a Keras model, batch 1.

    params: trainable weights (conv kernels, conv/dense biases, BN gamma/beta); BN running statistics
    excluded. macs: convolutions and dense layers only (BN, activations, pooling, element-wise ops
    count zero), as the reference's `count_parameters` and `flops_counter.profile`.

    Args:
        model_or_supernet: a supernet (its active subnet is counted) or a Keras model.
        resolution: input size; default the active config's `r`, else 224 (or the model's fixed size).
    """
    model = model_or_supernet
    if hasattr(model, "get_active_config"):  # a supernet of any family
        config = model.get_active_config()
        model = model.get_active_subnet(resolution=resolution or config.r or 224)
    else:
        model = _with_resolution(model, resolution)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    per_layer = _layer_macs(model)
    return {"params": params, "macs": float32_sum(per_layer), "macs_exact": int(sum(per_layer))}


def _with_resolution(model: keras.Model, resolution):
    shape = model.inputs[0].shape
    if resolution is None:
        if None in shape[1:3]:
            raise ValueError(f"Model input {tuple(shape)} has no fixed size; pass `resolution`.")
        return model
    if tuple(shape[1:3]) == (resolution, resolution):
        return model
    return keras.models.clone_model(model, input_tensors=keras.Input((resolution, resolution, shape[-1])))


def _layer_macs(model: keras.Model) -> list[int]:
    """MACs of each conv/dense layer, in layer (= reference module) order."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(_layer_macs(layer))
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            out.append(kh * kw * c_out * h * w)
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            out.append(kh * kw * (c_in // layer.groups) * c_out * h * w)
        elif isinstance(layer, keras.layers.Dense):
            spatial = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            out.append(layer.input.shape[-1] * layer.units * spatial)
    return [int(v) for v in out]


def search_space_size(net) -> int:
    """Exact number of subnets of a supernet (or `SearchSpace`), resolution not counted."""
    space = getattr(net, "search_space", net)
    return space.size()
