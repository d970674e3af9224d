"""Fine-tunes a tiny supernet's min subnet for 3 steps under a strategy; used by test_finetune_distributed.py in
subprocesses (the data trick of distributed_worker.py: each of 2 replicas sees the whole batch's images).

    python finetune_worker.py STRATEGY OUT_DIR
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

STRATEGY, OUT = sys.argv[1], sys.argv[2]
if STRATEGY == "mirrored":  # two logical CPUs, before TensorFlow initializes
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ps_helpers import RepeatedHalves  # noqa: E402
from ps_helpers import tiny_supernet  # noqa: E402

from ofa_tf.data import load_dataset  # noqa: E402
from ofa_tf.training import finetune  # noqa: E402

data = RepeatedHalves(load_dataset("digits", validation_split=0.2, seed=0))
net = tiny_supernet(ks_list=(3,), dropout_rate=0.0, seed=5)
result = finetune(net, net.search_space.min_config(16), data, OUT, epochs=1, batch_size=16, steps_per_epoch=3,
                  lr=0.05, calibrate_bn=32, dropout_rate=0.0, strategy=STRATEGY, validate=False, verbose=0)
print("DONE", result.record["options"]["strategy"], len(result.history))
