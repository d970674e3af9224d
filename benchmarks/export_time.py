"""Wall time of `tools.export_subnet` for one subnet in every quantization mode on this machine.

    python benchmarks/export_time.py [--net ofa_mbv3_small_d234_e346_k357_w0.5] [--data digits] [--qat-steps 10]
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import ofa_tf  # noqa: F401,E402  (before TensorFlow: applies ofa_tf's TensorFlow settings)
import click
import keras
import numpy as np

from ofa_tf.data import load_dataset
from ofa_tf.zoo import ofa_net
from ofa_tf_tools import QUANTIZE_MODES
from ofa_tf_tools import export_subnet


@click.command()
@click.option("--net", "net_id", default="ofa_mbv3_small_d234_e346_k357_w0.5", show_default=True)
@click.option("--resolution", type=int, default=None, help="Default: the largest of the net's resolutions.")
@click.option("--data", default="digits", show_default=True)
@click.option("--qat-steps", type=int, default=10, show_default=True)
@click.option("--modes", default=",".join(QUANTIZE_MODES), show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(net_id, resolution, data, qat_steps, modes, seed):
    keras.utils.set_random_seed(seed)
    images = load_dataset(data, validation_split=0.2, seed=seed)
    net = ofa_net(net_id, n_classes=images.num_classes)
    config = net.search_space.sample(np.random.default_rng(seed)).with_resolution(
        resolution or max(net.search_space.resolutions))
    folder = Path(tempfile.mkdtemp())
    for mode in modes.split(","):
        qat = None
        if mode == "qat":
            from ofa_tf_tools.qat import QATOptions

            qat = QATOptions(steps=qat_steps, batch_size=32)
        start = time.perf_counter()
        result = export_subnet(net, config, folder / f"{mode}.tflite", quantize=mode, data=images, qat=qat)
        total = time.perf_counter() - start
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items() if k != "total")
        click.echo(f"{mode:>8}: {total:6.1f}s  ({steps})  {result.size_bytes / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
