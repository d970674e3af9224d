"""Images/s of a progressive-shrinking training step (one subnet per step) on this machine.

    python benchmarks/train_throughput.py [--net ofa_mbv3_d234_e346_k357_w1.0] [--batch 32] [--resolution 128]

Modes: random subnets without / with the distillation teacher (the frozen max net as a stock Keras
model), and the max and min subnets. All modes share one traced step per teacher setting; configs are
step inputs. The PyTorch reference reaches about 36 images/s for random subnets at batch 32, 128 px
on a 2-core CPU.
"""
from __future__ import annotations

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ofa_tf  # noqa: F401,E402  (before TensorFlow: applies ofa_tf's TensorFlow settings)
import click  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ofa_tf.training.distribute import model_scope  # noqa: E402
from ofa_tf.training.optimizer import OptimizerConfig  # noqa: E402
from ofa_tf.training.optimizer import build_optimizer  # noqa: E402
from ofa_tf.training.runtime import tensorflow_setting  # noqa: E402
from ofa_tf.training.step import make_train_step  # noqa: E402
from ofa_tf.training.step import stack_configs  # noqa: E402
from ofa_tf.zoo import ofa_net  # noqa: E402


def supernet_with_teacher(net: str, n_classes: int, dropout_rate: float = 0.1):
    """The supernet, its built SGD optimizer and the frozen max subnet as a stock-Keras distillation teacher."""
    supernet = ofa_net(net, n_classes=n_classes, dropout_rate=dropout_rate)
    optimizer = build_optimizer(OptimizerConfig(), 0.01)
    optimizer.build(supernet.trainable_variables)
    supernet.set_max_net()
    teacher = supernet.get_active_subnet(name="teacher")
    teacher.trainable = False
    return supernet, optimizer, teacher


def measure(step, images, labels, configs, steps):
    """(wall seconds, process CPU seconds) per step over `steps` steps, and the seconds of the warm-up step
    before them (the trace and graph optimization when it is the step function's first call).

    CPU seconds matter on a shared machine: `batch / (cpu_seconds / cores)` estimates the images/s of
    an otherwise idle machine with all cores busy.
    """
    kd_ratio, label_ratio = tf.constant(1.0), tf.constant(0.0)
    ks, e, d = stack_configs([configs[0]])
    t0 = time.perf_counter()
    float(step(images, labels, ks, e, d, kd_ratio, label_ratio))
    first = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        ks, e, d = stack_configs([configs[(i + 1) % len(configs)]])
        float(step(images, labels, ks, e, d, kd_ratio, label_ratio))
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps, first


@click.command()
@click.option("--net", default="ofa_mbv3_d234_e346_k357_w1.0", show_default=True)
@click.option("--batch", default=32, show_default=True)
@click.option("--resolution", default=128, show_default=True)
@click.option("--steps", default=10, show_default=True, help="Timed steps per mode.")
@click.option("--n-classes", default=1000, show_default=True)
@click.option("--json-out", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON.")
def main(net, batch, resolution, steps, n_classes, json_out):
    setting = tensorflow_setting()
    click.echo(f"{net}, batch {batch}, {resolution} px; {setting}")
    strategy = tf.distribute.get_strategy()
    with model_scope(strategy):
        supernet, optimizer, teacher = supernet_with_teacher(net, n_classes)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(batch, resolution, resolution, 3)).astype(np.float32))
    labels = tf.constant(rng.integers(0, n_classes, batch).astype(np.int32))
    spec = (tf.TensorSpec([batch, None, None, 3], tf.float32), tf.TensorSpec([batch], tf.int32))
    space = supernet.search_space
    randoms = [space.sample(rng) for _ in range(steps + 1)]
    common = dict(element_spec=spec, global_batch_size=batch, weight_decay=3e-5)
    plain = make_train_step(supernet, optimizer, strategy, teacher=None, **common)
    distill = make_train_step(supernet, optimizer, strategy, teacher=teacher, **common)
    rows = {}
    for name, step, configs in (
        ("random subnet", plain, randoms),
        ("random subnet + teacher", distill, randoms),
        ("max subnet", plain, [space.max_config()]),
        ("min subnet", plain, [space.min_config()]),
    ):
        seconds, cpu, first = measure(step, images, labels, configs, steps)
        cores = os.cpu_count() or 1
        rows[name] = {"images_per_sec": batch / seconds, "images_per_cpu_sec_x_cores": batch / (cpu / cores),
                      "first_step_seconds": first}
        click.echo(f"{name:<26} {batch / seconds:8.1f} images/s wall ({1000 * seconds:.0f} ms/step); "
                   f"{batch / (cpu / cores):8.1f} images/s at full use of {cores} cores (CPU time); "
                   f"first call {first:.1f} s")
    click.echo(f"traces: plain {plain.experimental_get_tracing_count()}, "
               f"teacher {distill.experimental_get_tracing_count()}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"net": net, "batch": batch, "resolution": resolution, "setting": setting,
                       "images_per_sec": rows}, f, indent=2)


if __name__ == "__main__":
    main()
