"""Quantization-aware fine-tuning of a materialized subnet with tfmot, for an all-int8 TFLite model.

tfmot 0.8.1 only accepts tf_keras (Keras 2) models and has no support for hard-swish or the SE multiply, so
the Keras 3 subnet is rebuilt layer by layer in tf_keras with annotated layers
(`tensorflow_model_optimization/python/core/quantization/keras/quantize.py`, `quantize_annotate_layer`):
hard-swish becomes a `HardSwish` layer and the SE `Multiply` an annotated Multiply, both with an output
quantizer; hard-sigmoid becomes `AddConst(3)` → `ReLU(6)` → `Scale(1/6)`, so the converter emits int8
ADD/MUL instead of a float island.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)


def _import_tfmot():
    """Imports tfmot without its process-wide side effects.

    tfmot sets `TF_USE_LEGACY_KERAS=1` on import, which would also switch an unresolved `tf.keras` to
    tf_keras for the rest of the process. Resolve `tf.keras` first (Keras 3, as configured) and restore the
    variable afterwards; tfmot then uses `tf_keras` directly.
    """
    previous = os.environ.get("TF_USE_LEGACY_KERAS")
    _ = tf.keras.layers  # resolves the lazy loader now, with the caller's setting
    try:
        import tensorflow_model_optimization as tfmot
    finally:
        if previous is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = previous
    return tfmot


tfmot = _import_tfmot()
import tf_keras  # noqa: E402

_quantizers = tfmot.quantization.keras.quantizers
_QuantizeConfig = tfmot.quantization.keras.QuantizeConfig
_annotate = tfmot.quantization.keras.quantize_annotate_layer


class HardSwish(tf_keras.layers.Layer):
    """x · relu6(x + 3) / 6 (the converter fuses it to HARD_SWISH)."""

    def call(self, inputs):
        return inputs * tf.nn.relu6(inputs + 3.0) * (1.0 / 6.0)


class AddConst(tf_keras.layers.Layer):
    """x + value."""

    def __init__(self, value, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def call(self, inputs):
        return inputs + self.value

    def get_config(self):
        return {**super().get_config(), "value": self.value}


class Scale(tf_keras.layers.Layer):
    """x · value."""

    def __init__(self, value, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def call(self, inputs):
        return inputs * self.value

    def get_config(self):
        return {**super().get_config(), "value": self.value}


class OutputQuantizeConfig(_QuantizeConfig):
    """Quantizes only a layer's output (8 bit, asymmetric, per tensor); the layer has no weights."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}


CUSTOM_OBJECTS = {
    "HardSwish": HardSwish,
    "AddConst": AddConst,
    "Scale": Scale,
    "OutputQuantizeConfig": OutputQuantizeConfig,
}


@dataclasses.dataclass(frozen=True)
class QATOptions:
    """Quantization-aware fine-tuning settings.

    Args:
        steps: optimizer steps (0 only calibrates the quantizer ranges on one batch).
        batch_size: training batch size.
        learning_rate: Adam learning rate (small: the float weights are already trained).
        freeze_bn: keep BN statistics fixed (inference-mode BN), as they were (re)calibrated before export.
        seed: training-pipeline seed.
    """

    steps: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-5
    freeze_bn: bool = True
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"Invalid QAT steps={self.steps!r}: expected an integer >= 0.")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"Invalid QAT batch_size={self.batch_size!r}: expected a positive integer.")
        if not self.learning_rate >= 0:
            raise ValueError(f"Invalid QAT learning_rate={self.learning_rate!r}: expected a value >= 0.")


# === Keras 3 → tf_keras ===


def _inbound_names(node_args) -> list[str]:
    """Names of the layers feeding a node, from its serialized `args`."""
    out = []
    if isinstance(node_args, dict):
        if node_args.get("class_name") == "__keras_tensor__":
            out.append(node_args["config"]["keras_history"][0])
    elif isinstance(node_args, (list, tuple)):
        for item in node_args:
            out.extend(_inbound_names(item))
    return out


def _build_layer(class_name: str, config: dict, inputs, annotate: bool):
    """Applies the tf_keras equivalent of one Keras 3 layer; returns (output tensor, {k3 name: tf_keras layer})."""
    name = config["name"]
    layers = tf_keras.layers
    simple = {
        "Conv2D": lambda: layers.Conv2D(
            config["filters"], config["kernel_size"], strides=config["strides"], padding=config["padding"],
            use_bias=config["use_bias"], name=name,
        ),
        "DepthwiseConv2D": lambda: layers.DepthwiseConv2D(
            config["kernel_size"], strides=config["strides"], padding=config["padding"],
            depth_multiplier=config["depth_multiplier"], use_bias=config["use_bias"], name=name,
        ),
        "BatchNormalization": lambda: layers.BatchNormalization(
            axis=config["axis"], momentum=config["momentum"], epsilon=config["epsilon"], name=name
        ),
        "ZeroPadding2D": lambda: layers.ZeroPadding2D(config["padding"], name=name),
        "GlobalAveragePooling2D": lambda: layers.GlobalAveragePooling2D(keepdims=config["keepdims"], name=name),
        "ReLU": lambda: layers.ReLU(
            max_value=config["max_value"], negative_slope=config["negative_slope"], threshold=config["threshold"],
            name=name,
        ),
        "Add": lambda: layers.Add(name=name),
        "Flatten": lambda: layers.Flatten(name=name),
        "Dropout": lambda: layers.Dropout(config["rate"], name=name),
        "Dense": lambda: layers.Dense(config["units"], use_bias=config["use_bias"], name=name),
    }
    wrap = (lambda layer: _annotate(layer, OutputQuantizeConfig())) if annotate else (lambda layer: layer)
    if class_name in simple:
        layer = simple[class_name]()
        return layer(inputs), {name: layer}
    if class_name == "Multiply":
        return wrap(layers.Multiply(name=name))(inputs), {}
    if class_name == "Activation":
        activation = config["activation"]
        if activation == "relu":
            return layers.ReLU(name=name)(inputs), {}
        if activation in ("hard_silu", "hard_swish"):
            return wrap(HardSwish(name=name))(inputs), {}
        if activation == "hard_sigmoid":
            x = wrap(AddConst(3.0, name=f"{name}_add3"))(inputs)
            x = layers.ReLU(6.0, name=f"{name}_relu6")(x)
            return wrap(Scale(1.0 / 6.0, name=name))(x), {}
        raise ValueError(
            f"Layer {name!r}: activation {activation!r} has no QAT equivalent; supported: relu, hard_silu, "
            "hard_sigmoid."
        )
    raise ValueError(
        f"Layer {name!r} of type {class_name} has no tf_keras QAT equivalent; supported layers: "
        f"{', '.join(sorted(list(simple) + ['Multiply', 'Activation', 'InputLayer']))}."
    )


def _endpoint_names(endpoints) -> list[str]:
    """Layer names of a functional config's `input_layers` / `output_layers` (one `[name, 0, 0]` or a list)."""
    if endpoints and isinstance(endpoints[0], str):
        return [endpoints[0]]
    return [e[0] for e in endpoints]


def to_tf_keras(model, batch_size: int | None = None, annotate: bool = True):
    """Rebuilds a single-input Keras 3 functional subnet in tf_keras, weights copied.

    Args:
        model: the materialized subnet (`get_active_subnet()`), stock Keras 3 layers only.
        batch_size: fixed batch dimension of the input (None: any).
        annotate: wrap the layers tfmot cannot quantize by itself in `quantize_annotate_layer`.
    """
    config = model.get_config()
    input_names, output_names = _endpoint_names(config["input_layers"]), _endpoint_names(config["output_layers"])
    if len(input_names) != 1 or len(output_names) != 1:
        raise ValueError(
            f"Only single-input, single-output subnets can be rebuilt for QAT; received inputs {input_names} "
            f"and outputs {output_names}."
        )
    tensors, copies = {}, {}
    for spec in config["layers"]:
        name, class_name = spec["name"], spec["class_name"]
        if class_name == "InputLayer":
            shape = list(spec["config"]["batch_shape"])
            tensors[name] = tf_keras.Input(batch_size=batch_size, shape=shape[1:], name=name)
            continue
        nodes = spec["inbound_nodes"]
        if len(nodes) != 1:
            raise ValueError(f"Layer {name!r} is used {len(nodes)} times; shared layers are not supported.")
        sources = [tensors[n] for n in _inbound_names(nodes[0]["args"])]
        inputs = sources if class_name in ("Add", "Multiply") else sources[0]
        tensors[name], created = _build_layer(class_name, spec["config"], inputs, annotate)
        copies.update(created)
    rebuilt = tf_keras.Model(tensors[input_names[0]], tensors[output_names[0]], name=model.name)
    for name, layer in copies.items():
        layer.set_weights(model.get_layer(name).get_weights())
    return rebuilt


def quantize_model(model, batch_size: int | None = None, freeze_bn: bool = True):
    """The QAT model (tfmot `quantize_apply`) of a Keras 3 subnet."""
    rebuilt = to_tf_keras(model, batch_size=batch_size)
    if freeze_bn:
        for layer in rebuilt.layers:
            if isinstance(layer, tf_keras.layers.BatchNormalization):
                layer.trainable = False
    with tfmot.quantization.keras.quantize_scope(CUSTOM_OBJECTS):
        annotated = tfmot.quantization.keras.quantize_annotate_model(rebuilt)
        return tfmot.quantization.keras.quantize_apply(annotated)


def qat_finetune(model, dataset: tf.data.Dataset, options: QATOptions, batch_size: int = 1):
    """Fine-tunes a Keras 3 subnet quantization-aware; returns the tf_keras QAT model at `batch_size`.

    Args:
        model: the materialized Keras 3 subnet (fixed resolution).
        dataset: repeating `(images, labels)` training batches at the model's resolution, labels as class ids.
        options: steps, learning rate, BN freezing.
        batch_size: fixed batch dimension of the returned model (the exported model's input).
    """
    tf_keras.utils.set_random_seed(options.seed)
    start = time.perf_counter()
    trainable = quantize_model(model, batch_size=None, freeze_bn=options.freeze_bn)
    trainable.compile(
        optimizer=tf_keras.optimizers.Adam(options.learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    steps = max(options.steps, 1)
    lr = options.learning_rate if options.steps > 0 else 0.0
    tf_keras.backend.set_value(trainable.optimizer.learning_rate, lr)
    built = time.perf_counter()
    history = trainable.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    trained = time.perf_counter()
    fixed = quantize_model(model, batch_size=batch_size, freeze_bn=options.freeze_bn)
    fixed.set_weights(trainable.get_weights())
    logger.info(
        "QAT: %d steps, final loss %.4f (build %.1fs, train %.1fs, rebuild %.1fs)", steps,
        history.history["loss"][-1], built - start, trained - built, time.perf_counter() - trained,
    )
    return fixed, float(history.history["loss"][-1])


def finite_weights(model) -> bool:
    """True when every weight of `model` is finite (a diverged fine-tuning is not exported)."""
    return all(np.all(np.isfinite(w)) for w in model.get_weights())
