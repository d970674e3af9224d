"""Runs expand-phase training steps (4 random subnets + teacher, random resolution) until `--steps` or a crash.

    TF_NUM_INTEROP_THREADS=2 python benchmarks/onednn_stress.py --steps 200      # oneDNN, ops in parallel
    python benchmarks/onednn_stress.py --steps 300                               # ofa_tf's default

TensorFlow 2.21's oneDNN kernels corrupt the heap when ops run in parallel (Xeon with AVX-512/AMX): with 2
inter-op threads the process aborted after 40-120 steps ("malloc_consolidate(): invalid chunk size",
"corrupted double-linked list"), and under glibc's malloc checker (LD_PRELOAD=libc_malloc_debug.so.0
MALLOC_CHECK_=3) within 20 steps, at a tensor's free ("free(): invalid pointer": its buffer was written past
its end). With one inter-op thread, 300 steps ran clean under the same checker. That is why `import ofa_tf`
turns oneDNN on with TF_NUM_INTEROP_THREADS=1. Prints the step count and seconds as it goes.
"""
from __future__ import annotations

import time

import ofa_tf  # noqa: F401  (before TensorFlow: applies ofa_tf's oneDNN / inter-op defaults)
import click
import numpy as np
import tensorflow as tf

from ofa_tf.training.runtime import tensorflow_setting
from ofa_tf.training.step import make_train_step
from ofa_tf.training.step import stack_configs
from train_throughput import supernet_with_teacher  # benchmarks/ is on sys.path when run as a script


@click.command()
@click.option("--net", default="ofa_mbv3_small_d234_e346_k357_w0.5", show_default=True)
@click.option("--steps", default=400, show_default=True)
@click.option("--batch", default=64, show_default=True)
@click.option("--subnets", default=4, show_default=True, help="Subnets per step (expand phases: 4).")
@click.option("--seed", default=1, show_default=True)
def main(net, steps, batch, subnets, seed):
    supernet, optimizer, teacher = supernet_with_teacher(net, n_classes=10, dropout_rate=0.0)
    spec = (tf.TensorSpec([batch, None, None, 3], tf.float32), tf.TensorSpec([batch], tf.int32))
    step = make_train_step(supernet, optimizer, tf.distribute.get_strategy(), teacher=teacher, element_spec=spec,
                           global_batch_size=batch, weight_decay=3e-5)
    space, rng = supernet.search_space, np.random.default_rng(seed)
    click.echo(f"{tensorflow_setting()}; {steps} steps of {subnets} subnets, batch {batch}")
    start = time.perf_counter()
    for i in range(1, steps + 1):
        r = int(rng.choice(space.resolutions))
        images = tf.constant(rng.normal(size=(batch, r, r, 3)).astype(np.float32))
        labels = tf.constant(rng.integers(0, 10, batch).astype(np.int32))
        loss = float(step(images, labels, *stack_configs([space.sample(rng) for _ in range(subnets)]),
                          tf.constant(1.0), tf.constant(0.0)))
        if i % 20 == 0 or i == steps:
            click.echo(f"step {i} @{r}: loss {loss:.3f}, {time.perf_counter() - start:.0f} s")
    click.echo("finished without a crash")


if __name__ == "__main__":
    main()
