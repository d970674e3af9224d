"""Exported subnet vs the same architecture written by hand as a static Keras model: latency ratio and ops.

The hand-written builder below knows nothing about the supernet's code: it follows the MobileNetV3 recipe
(stem conv, inverted-residual blocks with optional SE, final expand, pooled feature mix, classifier) from the
subnet config and the stage table. Both models are converted by `tools.quantize.convert` and timed
interleaved with the ai_edge_litert interpreter, so load on the machine hits both alike.

    python benchmarks/export_overhead.py [--net ofa_mbv3_small_d234_e346_k357_w1.0] [--resolution R] [--rounds 5]
"""
from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

import ofa_tf  # noqa: F401,E402  (before TensorFlow: applies ofa_tf's TensorFlow settings)
import click
import keras
import numpy as np

from ofa_tf.utils import make_divisible
from ofa_tf.zoo import ofa_net
from ofa_tf_tools.host_runner import run_tflite
from ofa_tf_tools.inspect_model import inspect_tflite
from ofa_tf_tools.quantize import QuantizeOptions
from ofa_tf_tools.quantize import convert


def _conv(x, filters, k, stride, name, bias=False):
    if stride > 1 and k > 1:
        x = keras.layers.ZeroPadding2D(k // 2)(x)
    return keras.layers.Conv2D(filters, k, stride, "valid" if stride > 1 and k > 1 else "same", use_bias=bias,
                               name=name)(x)


def _bn_act(x, act):
    x = keras.layers.BatchNormalization(epsilon=1e-5)(x)
    return x if act is None else keras.layers.Activation(act)(x)


def _inverted_residual(x, out_ch, k, stride, mid, act, se, name, expand=True):
    in_ch = x.shape[-1]
    shortcut = x
    if expand:
        x = _bn_act(_conv(x, mid, 1, 1, f"{name}_expand"), act)
    if stride > 1:
        x = keras.layers.ZeroPadding2D(k // 2)(x)
    x = keras.layers.DepthwiseConv2D(k, stride, "valid" if stride > 1 else "same", use_bias=False)(x)
    x = _bn_act(x, act)
    if se:
        s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
        s = keras.layers.Conv2D(make_divisible(mid // 4), 1, activation="relu")(s)
        s = keras.layers.Conv2D(mid, 1, activation="hard_sigmoid")(s)
        x = keras.layers.Multiply()([x, s])
    x = _bn_act(_conv(x, out_ch, 1, 1, f"{name}_project"), None)
    if stride == 1 and in_ch == out_ch:
        x = keras.layers.Add()([x, shortcut])
    return x


def hand_written_mobilenet_v3(net, config, resolution, batch_size=1):
    """MobileNetV3 from the config, written directly with Keras layers (random weights)."""
    inputs = keras.Input(batch_shape=(batch_size, resolution, resolution, 3))
    x = _bn_act(_conv(inputs, net.stem_width, 3, net.first_stride, "stem"), "hard_silu")
    x = _inverted_residual(x, net.first_block_width, 3, 1, net.stem_width, "relu", False, "b0", expand=False)
    block = 0
    for s, stage in enumerate(net.stages):
        for j in range(net.search_space.max_depth):
            if j < config.d[s]:
                k, e = config.ks[block], config.e[block]
                mid = make_divisible(round(x.shape[-1] * e))
                x = _inverted_residual(x, stage.width, k, stage.stride if j == 0 else 1, mid, stage.activation,
                                       stage.use_se, f"b{block + 1}")
            block += 1
    x = _bn_act(_conv(x, net.final_expand_width, 1, 1, "final_expand"), "hard_silu")
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = keras.layers.Activation("hard_silu")(_conv(x, net.feature_mix_width, 1, 1, "feature_mix"))
    x = keras.layers.Dense(net.n_classes)(keras.layers.Flatten()(x))
    return keras.Model(inputs, x)


@click.command()
@click.option("--net", "net_id", default="ofa_mbv3_small_d234_e346_k357_w1.0", show_default=True)
@click.option("--resolution", type=int, default=None, help="Default: the largest of the net's resolutions.")
@click.option("--mode", type=click.Choice(["none", "dynamic", "float16"]), default="none", show_default=True)
@click.option("--rounds", type=int, default=5, show_default=True)
@click.option("--runs", type=int, default=100, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(net_id, resolution, mode, rounds, runs, threads, seed):
    keras.utils.set_random_seed(seed)
    net = ofa_net(net_id, n_classes=1000 if "small" not in net_id else 10)
    config = net.search_space.sample(np.random.default_rng(seed))
    resolution = resolution or max(net.search_space.resolutions)
    net.set_active_config(config)
    exported = net.get_active_subnet(resolution=resolution, batch_size=1)
    by_hand = hand_written_mobilenet_v3(net, config, resolution)
    click.echo(f"{net_id} r={resolution} d={list(config.d)}; params exported={exported.count_params()} "
               f"hand-written={by_hand.count_params()}")
    folder = Path(tempfile.mkdtemp())
    paths = {}
    for name, model in (("exported", exported), ("hand-written", by_hand)):
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(convert(model, QuantizeOptions(mode)))
    hist = {name: inspect_tflite(p).op_histogram for name, p in paths.items()}
    for name, h in hist.items():
        click.echo(f"{name:>12}: {os.path.getsize(paths[name])} bytes, ops {h}")
    click.echo(f"op histograms identical: {hist['exported'] == hist['hand-written']}")
    means = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            means[name].append(run_tflite(path, threads=threads, warmup=10, runs=runs).p50_us)
    for name, values in means.items():
        click.echo(f"{name:>12}: median-of-rounds p50 {statistics.median(values) / 1e3:.3f} ms  ({rounds} rounds)")
    ratios = [a / b for a, b in zip(means["exported"], means["hand-written"])]
    click.echo(f"latency ratio exported / hand-written: {statistics.median(ratios):.3f} "
               f"(per round: {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
