"""Runs 3 training steps of a tiny supernet under a strategy; used by test_distributed.py in subprocesses.

    python distributed_worker.py STRATEGY OUT_DIR

Every global batch is one half-batch repeated twice, so each of 2 replicas sees the same images as the
whole batch: batch-norm statistics match a single-device run and the summed gradients must too.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

STRATEGY, OUT = sys.argv[1], sys.argv[2]
if STRATEGY == "mirrored":  # two logical CPUs, before TensorFlow initializes
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

strategy = STRATEGY
if STRATEGY == "multiworker":  # collective ops must be configured before any other op runs
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ps_helpers import RepeatedHalves  # noqa: E402
from ps_helpers import tiny_supernet  # noqa: E402

from ofa_tf.data import load_dataset  # noqa: E402
from ofa_tf.training import train  # noqa: E402

data = RepeatedHalves(load_dataset("digits", validation_split=0.2, seed=0))
net = tiny_supernet(ks_list=(3,), dropout_rate=0.0, seed=5)
result = train(net, data, OUT, task="full", epochs=1, batch_size=16, steps_per_epoch=3, image_sizes=(16, 20),
               lr=0.05, warmup_epochs=0, strategy=strategy, validate=False, verbose=0)
print("DONE", result.completed, result.trace_counts)
