"""Stock Keras layers from the reference's network configs (`set_layer_from_config`, ofa/utils/layers.py).

`build_network` reads the JSON of a static `MobileNetV3`, `ProxylessNASNets` or `ResNets`
(ofa/imagenet_classification/networks/) with every layer's config, and builds the same network from stock
Keras layers, weights taken from the reference's state dict. Every field of a layer config is honoured or
rejected by name; an unknown layer name is an error.
"""
from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from ofa_tf.stock_keras import StockModelBuilder
from ofa_tf.utils import make_divisible

# `build_activation` in ofa/utils/pytorch_modules.py -> Keras activation (h_swish / h_sigmoid are Keras 3's
# hard_silu / hard_sigmoid: x * relu6(x + 3) / 6 and relu6(x + 3) / 6).
ACTIVATIONS = {"relu": "relu", "relu6": "relu6", "h_swish": "hard_silu", "h_sigmoid": "hard_sigmoid",
               "sigmoid": "sigmoid", "tanh": "tanh", None: None, "none": None}

# Network name -> (its fields, default BN eps): `build_from_config` of each class.
NETWORKS = {
    "MobileNetV3": (("first_conv", "blocks", "final_expand_layer", "feature_mix_layer", "classifier"), 1e-5),
    "ProxylessNASNets": (("first_conv", "blocks", "feature_mix_layer", "classifier"), 1e-3),
    "ResNets": (("input_stem", "blocks", "classifier"), 1e-5),
}
_REQUIRED = object()
_MY2D = {"use_bn": True, "act_func": "relu", "dropout_rate": 0, "ops_order": "weight_bn_act"}
_FIELDS = {  # layer name -> field defaults (constructor signatures in ofa/utils/layers.py)
    "ConvLayer": {"in_channels": _REQUIRED, "out_channels": _REQUIRED, "kernel_size": 3, "stride": 1, "dilation": 1,
                  "groups": 1, "bias": False, "has_shuffle": False, "use_se": False, **_MY2D},
    "IdentityLayer": {"in_channels": _REQUIRED, "out_channels": _REQUIRED, **_MY2D, "use_bn": False,
                      "act_func": None},
    "LinearLayer": {"in_features": _REQUIRED, "out_features": _REQUIRED, "bias": True, "use_bn": False,
                    "act_func": None, "dropout_rate": 0, "ops_order": "weight_bn_act"},
    "MBConvLayer": {"in_channels": _REQUIRED, "out_channels": _REQUIRED, "kernel_size": 3, "stride": 1,
                    "expand_ratio": 6, "mid_channels": None, "act_func": "relu6", "use_se": False, "groups": None},
    "ResidualBlock": {"conv": _REQUIRED, "shortcut": _REQUIRED},
    "ResNetBottleneckBlock": {"in_channels": _REQUIRED, "out_channels": _REQUIRED, "kernel_size": 3, "stride": 1,
                              "expand_ratio": 0.25, "mid_channels": None, "act_func": "relu", "groups": 1,
                              "downsample_mode": "avgpool_conv"},
    "ZeroLayer": {},
}
# Older zoo configs: `MBInvertedConvLayer` (ofa/utils/layers.py: name2layer) and `MobileInvertedResidualBlock`
# (MobileNetV3 / ProxylessNASNets build every block with ResidualBlock.build_from_config, whatever its name).
_ALIASES = {"MBInvertedConvLayer": "MBConvLayer", "MobileInvertedResidualBlock": "ResidualBlock"}


class StateDict:
    """The reference's state dict, read tensor by tensor with its shape checked; tracks what was used.

    Without arrays (`arrays=None`) it hands out fresh weights: the reference's `init_models` ("he_fout")
    for convs, U(+-1/sqrt(in)) for linears, BN gamma 1 / beta 0 / mean 0 / var 1.
    """

    def __init__(self, arrays: dict[str, np.ndarray] | None, source: str = "init", seed: int = 0):
        self.source = source
        self.arrays = None if arrays is None else {k.replace(".mobile_inverted_conv.", ".conv."): v
                                                   for k, v in arrays.items()}
        self.used: set[str] = set()
        self._rng = np.random.default_rng(seed)

    def take(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        if self.arrays is None:
            return self._init(key, shape)
        if key not in self.arrays:
            raise ValueError(f"{self.source} has no tensor {key!r}, which net.config needs (shape {shape}).")
        value = np.asarray(self.arrays[key], np.float32)
        if tuple(value.shape) != tuple(shape):
            raise ValueError(f"{self.source}: {key!r} has shape {tuple(value.shape)}; net.config implies {shape}.")
        self.used.add(key)
        return value

    def check_all_used(self) -> None:
        if self.arrays is None:
            return
        unused = sorted(k for k in self.arrays if k not in self.used and not k.endswith("num_batches_tracked"))
        if unused:
            raise ValueError(f"{self.source} has {len(unused)} tensor(s) net.config does not use, first "
                             f"{unused[0]!r}; all: {unused}")

    def _init(self, key, shape):
        if key.endswith(("running_var", "bn.weight")):
            return np.ones(shape, np.float32)
        if key.endswith(("bias", "running_mean")):
            return np.zeros(shape, np.float32)
        if len(shape) == 2:
            limit = 1 / np.sqrt(shape[1])
            return self._rng.uniform(-limit, limit, shape).astype(np.float32)
        return self._rng.normal(0, np.sqrt(2 / (shape[0] * shape[2] * shape[3])), shape).astype(np.float32)


class _Network:
    """Applies stock layers for layer configs; weights from a `StateDict` by the reference's key names."""

    def __init__(self, state: StateDict, momentum: float, epsilon: float):
        self.state = state
        self.builder = StockModelBuilder(momentum=momentum, epsilon=epsilon)

    # -- primitives (torch layouts in, Keras layouts recorded) --
    def conv(self, x, prefix, c_in, c_out, k, stride, bias=False):
        kernel = self.state.take(f"{prefix}.weight", (c_out, c_in, k, k)).transpose(2, 3, 1, 0)
        b = self.state.take(f"{prefix}.bias", (c_out,)) if bias else None
        return self.builder.conv(x, kernel, stride, _name(prefix), bias=b)

    def depthwise(self, x, prefix, channels, k, stride):
        kernel = self.state.take(f"{prefix}.weight", (channels, 1, k, k)).transpose(2, 3, 0, 1)
        return self.builder.depthwise(x, kernel, stride, _name(prefix))

    def bn(self, x, prefix, channels):
        weights = [self.state.take(f"{prefix}.{n}", (channels,)) for n in
                   ("weight", "bias", "running_mean", "running_var")]
        layer = keras.layers.BatchNormalization(momentum=self.builder.momentum, epsilon=self.builder.epsilon,
                                                name=_name(prefix))
        return self.builder.layer(layer, x, weights)

    def dense(self, x, prefix, c_in, c_out, bias=True):
        weights = [self.state.take(f"{prefix}.weight", (c_out, c_in)).T]
        if bias:
            weights.append(self.state.take(f"{prefix}.bias", (c_out,)))
        return self.builder.layer(keras.layers.Dense(c_out, use_bias=bias, name=_name(prefix)), x, weights)

    @staticmethod
    def act(x, act_func, prefix, where):
        if act_func not in ACTIVATIONS:
            raise ValueError(f"{where}: unknown act_func={act_func!r}; supported: "
                             f"{sorted(str(a) for a in ACTIVATIONS)}.")
        if ACTIVATIONS[act_func] is None:
            return x
        return keras.layers.Activation(ACTIVATIONS[act_func], name=_name(prefix))(x)

    def se(self, x, prefix, channels):
        """`SEModule` (ofa/utils/pytorch_modules.py): mean -> reduce -> ReLU -> expand -> h_sigmoid -> scale."""
        mid = make_divisible(channels // 4)
        y = keras.layers.GlobalAveragePooling2D(keepdims=True, name=_name(f"{prefix}.squeeze"))(x)
        y = self.conv(y, f"{prefix}.fc.reduce", channels, mid, 1, 1, bias=True)
        y = keras.layers.ReLU(name=_name(f"{prefix}.fc.relu"))(y)
        y = self.conv(y, f"{prefix}.fc.expand", mid, channels, 1, 1, bias=True)
        y = keras.layers.Activation("hard_sigmoid", name=_name(f"{prefix}.fc.h_sigmoid"))(y)
        return keras.layers.Multiply(name=_name(f"{prefix}.excite"))([x, y])

    # -- layers of ofa/utils/layers.py --
    def layer(self, x, config, prefix):
        """`set_layer_from_config` for one layer config; returns the output tensor."""
        if not isinstance(config, dict) or "name" not in config:
            raise ValueError(f"{prefix}: expected a layer config dict with a 'name'; received {config!r}.")
        name = _ALIASES.get(config["name"], config["name"])
        if name not in _FIELDS or name == "ZeroLayer":
            known = sorted(set(_FIELDS) - {"ZeroLayer"} | set(_ALIASES))
            detail = " (only as a ResidualBlock's conv or shortcut)" if name == "ZeroLayer" else ""
            raise ValueError(f"{prefix}: unknown layer name {config['name']!r}{detail}; supported: {known}.")
        fields = _fields(config, name, prefix)
        return getattr(self, f"_{name}")(x, fields, prefix)

    def _my2d(self, x, cfg, prefix, name, weight_op: Callable | None):
        """`My2DLayer.forward`: bn / act / weight in `ops_order`, Dropout2d before the weight."""
        ops = cfg["ops_order"].split("_") if isinstance(cfg["ops_order"], str) else None
        if ops is None or sorted(ops) != ["act", "bn", "weight"]:
            raise ValueError(f"{prefix}: {name} field ops_order={cfg['ops_order']!r} is not a permutation of "
                             "weight, bn and act joined by '_'.")
        c_in, c_out = _channels(cfg, "in_channels", prefix), _channels(cfg, "out_channels", prefix)
        bn_channels = c_in if ops.index("bn") < ops.index("weight") else c_out
        for op in ops:
            if op == "weight" and weight_op is not None:
                if _number(cfg, "dropout_rate", prefix, name) > 0:
                    x = keras.layers.SpatialDropout2D(cfg["dropout_rate"], name=_name(f"{prefix}.dropout"))(x)
                x = weight_op(x)
            elif op == "bn" and _flag(cfg, "use_bn", prefix, name):
                x = self.bn(x, f"{prefix}.bn", bn_channels)
            elif op == "act":
                x = self.act(x, cfg["act_func"], f"{prefix}.act", f"{prefix}: {name}")
        return x

    def _ConvLayer(self, x, cfg, prefix):  # noqa: N802 (named after the reference class)
        k, stride = _int(cfg, "kernel_size", prefix, "ConvLayer"), _int(cfg, "stride", prefix, "ConvLayer")
        _only(cfg, "dilation", (1,), prefix, "ConvLayer")
        _only(cfg, "groups", (1,), prefix, "ConvLayer")
        _flag(cfg, "has_shuffle", prefix, "ConvLayer")  # shuffles only when groups > 1
        bias = _flag(cfg, "bias", prefix, "ConvLayer")
        c_in, c_out = _channels(cfg, "in_channels", prefix), _channels(cfg, "out_channels", prefix)
        x = self._my2d(x, cfg, prefix, "ConvLayer",
                       lambda y: self.conv(y, f"{prefix}.conv", c_in, c_out, k, stride, bias=bias))
        if _flag(cfg, "use_se", prefix, "ConvLayer"):
            x = self.se(x, f"{prefix}.se", c_out)
        return x

    def _IdentityLayer(self, x, cfg, prefix):  # noqa: N802
        if _channels(cfg, "in_channels", prefix) != _channels(cfg, "out_channels", prefix):
            raise ValueError(f"{prefix}: IdentityLayer with in_channels={cfg['in_channels']} != "
                             f"out_channels={cfg['out_channels']}.")
        return self._my2d(x, cfg, prefix, "IdentityLayer", None)

    def _LinearLayer(self, x, cfg, prefix):  # noqa: N802
        name = "LinearLayer"
        ops = cfg["ops_order"].split("_") if isinstance(cfg["ops_order"], str) else None
        if ops is None or sorted(ops) != ["act", "bn", "weight"]:
            raise ValueError(f"{prefix}: LinearLayer field ops_order={cfg['ops_order']!r} is not a permutation "
                             "of weight, bn and act joined by '_'.")
        c_in, c_out = _int(cfg, "in_features", prefix, name), _int(cfg, "out_features", prefix, name)
        bias = _flag(cfg, "bias", prefix, name)
        for op in ops:
            if op == "weight":
                if _number(cfg, "dropout_rate", prefix, name) > 0:
                    x = keras.layers.Dropout(cfg["dropout_rate"], name=_name(f"{prefix}.dropout"))(x)
                x = self.dense(x, f"{prefix}.linear", c_in, c_out, bias)
            elif op == "bn" and _flag(cfg, "use_bn", prefix, name):
                x = self.bn(x, f"{prefix}.bn", c_in if ops.index("bn") < ops.index("weight") else c_out)
            elif op == "act":
                x = self.act(x, cfg["act_func"], f"{prefix}.act", f"{prefix}: {name}")
        return x

    def _MBConvLayer(self, x, cfg, prefix):  # noqa: N802
        name = "MBConvLayer"
        c_in, c_out = _channels(cfg, "in_channels", prefix), _channels(cfg, "out_channels", prefix)
        k, stride = _int(cfg, "kernel_size", prefix, name), _int(cfg, "stride", prefix, name)
        _only(cfg, "groups", (None,), prefix, name)
        expand = _number(cfg, "expand_ratio", prefix, name)
        mid = cfg["mid_channels"]
        mid = round(c_in * expand) if mid is None else _int(cfg, "mid_channels", prefix, name)
        act = cfg["act_func"]
        if expand != 1:
            x = self.conv(x, f"{prefix}.inverted_bottleneck.conv", c_in, mid, 1, 1)
            x = self.bn(x, f"{prefix}.inverted_bottleneck.bn", mid)
            x = self.act(x, act, f"{prefix}.inverted_bottleneck.act", f"{prefix}: {name}")
        elif mid != c_in:
            raise ValueError(f"{prefix}: MBConvLayer with expand_ratio=1 has no expansion, so mid_channels={mid} "
                             f"must equal in_channels={c_in}.")
        x = self.depthwise(x, f"{prefix}.depth_conv.conv", mid, k, stride)
        x = self.bn(x, f"{prefix}.depth_conv.bn", mid)
        x = self.act(x, act, f"{prefix}.depth_conv.act", f"{prefix}: {name}")
        if _flag(cfg, "use_se", prefix, name):
            x = self.se(x, f"{prefix}.depth_conv.se", mid)
        x = self.conv(x, f"{prefix}.point_linear.conv", mid, c_out, 1, 1)
        return self.bn(x, f"{prefix}.point_linear.bn", c_out)

    def _ResidualBlock(self, x, cfg, prefix):  # noqa: N802
        conv, shortcut = cfg["conv"], cfg["shortcut"]
        if _is_zero(conv, f"{prefix}.conv"):
            return x
        y = self.layer(x, conv, f"{prefix}.conv")
        if _is_zero(shortcut, f"{prefix}.shortcut"):
            return y
        return keras.layers.Add(name=_name(f"{prefix}.add"))([y, self.layer(x, shortcut, f"{prefix}.shortcut")])

    def _ResNetBottleneckBlock(self, x, cfg, prefix):  # noqa: N802
        name = "ResNetBottleneckBlock"
        c_in, c_out = _channels(cfg, "in_channels", prefix), _channels(cfg, "out_channels", prefix)
        k, stride = _int(cfg, "kernel_size", prefix, name), _int(cfg, "stride", prefix, name)
        _only(cfg, "groups", (1,), prefix, name)
        mode = _only(cfg, "downsample_mode", ("avgpool_conv", "conv"), prefix, name)
        mid = cfg["mid_channels"]
        mid = round(c_out * _number(cfg, "expand_ratio", prefix, name)) if mid is None else \
            _int(cfg, "mid_channels", prefix, name)
        mid = make_divisible(mid)
        act = cfg["act_func"]
        if stride == 1 and c_in == c_out:
            residual = x
        elif mode == "conv":
            residual = self.conv(x, f"{prefix}.downsample.conv", c_in, c_out, 1, stride)
            residual = self.bn(residual, f"{prefix}.downsample.bn", c_out)
        else:  # AvgPool2d(stride, stride, ceil_mode=True) excludes the missing border, as "same" pooling does
            residual = x
            if stride > 1:
                residual = keras.layers.AveragePooling2D(stride, stride, padding="same",
                                                         name=_name(f"{prefix}.downsample.avg_pool"))(x)
            residual = self.conv(residual, f"{prefix}.downsample.conv", c_in, c_out, 1, 1)
            residual = self.bn(residual, f"{prefix}.downsample.bn", c_out)
        for i, (a, b, kernel, s) in enumerate(((c_in, mid, 1, 1), (mid, mid, k, stride), (mid, c_out, 1, 1)), 1):
            x = self.conv(x, f"{prefix}.conv{i}.conv", a, b, kernel, s)
            x = self.bn(x, f"{prefix}.conv{i}.bn", b)
            if i < 3:
                x = self.act(x, act, f"{prefix}.conv{i}.act", f"{prefix}: {name}")
        x = keras.layers.Add(name=_name(f"{prefix}.add"))([x, residual])
        return self.act(x, act, f"{prefix}.final_act", f"{prefix}: {name}")


def build_network(net_config: dict, state_dict: dict[str, np.ndarray] | None, resolution: int | None = None,
                  batch_size: int | None = None, name: str | None = None, source: str = "init") -> keras.Model:
    """A Keras model of stock layers for a reference network config (`get_net_by_name(...).build_from_config`).

    Args:
        net_config: the JSON of a `MobileNetV3`, `ProxylessNASNets` or `ResNets`.
        state_dict: the reference's state dict (NumPy arrays); every tensor is used and shape-checked.
            None: fresh weights (`StateDict`).
        resolution, batch_size: fixed input size / batch, or None for any.
        name: the model's name.
        source: how errors name the state dict's file.
    """
    kind = net_config.get("name") if isinstance(net_config, dict) else None
    if kind not in NETWORKS:
        raise ValueError(f"Unknown network name {kind!r} in net.config; supported: {sorted(NETWORKS)}.")
    fields, default_eps = NETWORKS[kind]
    unknown = sorted(set(net_config) - {"name", "bn", *fields})
    if unknown:
        raise ValueError(f"Unknown field(s) {unknown} in the {kind} net.config; known: {['name', 'bn', *fields]}.")
    missing = sorted(set(fields) - set(net_config))
    if missing:
        raise ValueError(f"The {kind} net.config is missing {missing}.")
    bn = net_config.get("bn") or {"momentum": 0.1, "eps": default_eps}
    bn_unknown = sorted(set(bn) - {"momentum", "eps", "ws_eps"})
    if bn_unknown:
        raise ValueError(f"Unknown field(s) {bn_unknown} in net.config 'bn'; known: ['eps', 'momentum', 'ws_eps'].")
    if bn.get("ws_eps") is not None:
        raise ValueError(f"net.config 'bn' field ws_eps={bn['ws_eps']!r} (weight standardization) is not "
                         "supported; only null.")
    state = StateDict(state_dict, source)
    # PyTorch momentum m updates the running mean by m * batch; Keras's momentum is the kept fraction 1 - m.
    net = _Network(state, momentum=1.0 - float(bn.get("momentum", 0.1)), epsilon=float(bn.get("eps", default_eps)))
    inputs = keras.Input(shape=(resolution, resolution, 3), batch_size=batch_size, name="image")
    x = inputs
    if kind == "ResNets":
        for i, layer in enumerate(_list(net_config, "input_stem")):
            x = net.layer(x, layer, f"input_stem.{i}")
        x = _max_pool(x, net_config["input_stem"])
        for i, block in enumerate(_list(net_config, "blocks")):
            x = net.layer(x, block, f"blocks.{i}")
        x = keras.layers.GlobalAveragePooling2D(name="global_avg_pool")(x)
    else:
        x = net.layer(x, net_config["first_conv"], "first_conv")
        for i, block in enumerate(_list(net_config, "blocks")):
            if not isinstance(block, dict) or _ALIASES.get(block.get("name"), block.get("name")) != "ResidualBlock":
                raise ValueError(f"blocks.{i}: {kind} blocks must be ResidualBlock configs; received "
                                 f"{block.get('name') if isinstance(block, dict) else block!r}.")
            x = net.layer(x, block, f"blocks.{i}")
        if kind == "MobileNetV3":
            x = net.layer(x, net_config["final_expand_layer"], "final_expand_layer")
            x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_avg_pool")(x)
            x = net.layer(x, net_config["feature_mix_layer"], "feature_mix_layer")
            x = keras.layers.Flatten(name="flatten")(x)
        else:
            if net_config["feature_mix_layer"] is not None:
                x = net.layer(x, net_config["feature_mix_layer"], "feature_mix_layer")
            x = keras.layers.GlobalAveragePooling2D(name="global_avg_pool")(x)
    x = net.layer(x, net_config["classifier"], "classifier")
    state.check_all_used()
    model = keras.Model(inputs, x, name=name or kind)
    for layer, weights in net.builder.weights:
        layer.set_weights(weights)
    return model


def _max_pool(x, input_stem):
    """`ResNets.max_pooling` = MaxPool2d(3, 2, padding=1): zero padding equals its -inf padding because the
    input stem ends in ReLU (checked), so every value is >= 0."""
    last = input_stem[-1] if input_stem else None
    if isinstance(last, dict) and last.get("name") == "ResidualBlock":
        last = last.get("conv")
    ok = (isinstance(last, dict) and last.get("name") == "ConvLayer" and last.get("act_func") in ("relu", "relu6")
          and str(last.get("ops_order", "weight_bn_act")).endswith("act"))
    if not ok:
        raise ValueError("ResNets input_stem must end in a ConvLayer with act_func relu or relu6 applied last "
                         "(the max pooling after it is built for non-negative inputs).")
    x = keras.layers.ZeroPadding2D(1, name="max_pooling_pad")(x)
    return keras.layers.MaxPooling2D(3, 2, name="max_pooling")(x)


def _name(prefix: str) -> str:
    return prefix.replace(".", "_")


def _fields(config: dict, name: str, prefix: str) -> dict:
    defaults = _FIELDS[name]
    given = {k: v for k, v in config.items() if k != "name"}
    if name == "ResidualBlock" and "mobile_inverted_conv" in given and "conv" not in given:
        given["conv"] = given.pop("mobile_inverted_conv")  # older zoo configs
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{prefix}: unknown field(s) {unknown} in {config['name']} config; known fields: "
                         f"{sorted(defaults)}.")
    out = {}
    for key, default in defaults.items():
        if key not in given and default is _REQUIRED:
            raise ValueError(f"{prefix}: {config['name']} config is missing the field {key!r}.")
        out[key] = given.get(key, default)
    return out


def _is_zero(config, prefix) -> bool:
    if isinstance(config, dict) and config.get("name") == "ZeroLayer":
        _fields(config, "ZeroLayer", prefix)  # rejects any field
        return True
    return config is None


def _list(net_config, key):
    value = net_config[key]
    if not isinstance(value, list):
        raise ValueError(f"net.config field {key!r} must be a list of layer configs; received {type(value).__name__}.")
    return value


def _channels(cfg, key, prefix) -> int:
    value = cfg[key]
    if isinstance(value, list) and len(value) == 1:  # list-valued channels in older zoo configs
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{prefix}: field {key}={cfg[key]!r} must be a positive int.")
    return value


def _int(cfg, key, prefix, name) -> int:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{prefix}: {name} field {key}={value!r} must be a positive int.")
    return value


def _number(cfg, key, prefix, name) -> float:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{prefix}: {name} field {key}={value!r} must be a non-negative number.")
    return value


def _flag(cfg, key, prefix, name) -> bool:
    value = cfg[key]
    if not isinstance(value, bool):
        raise ValueError(f"{prefix}: {name} field {key}={value!r} must be true or false.")
    return value


def _only(cfg, key, allowed, prefix, name):
    value = cfg[key]
    if value not in allowed or isinstance(value, bool):
        raise ValueError(f"{prefix}: {name} field {key}={value!r} is not supported; supported: {list(allowed)}.")
    return value
