"""Once-for-All networks for TensorFlow/Keras 3.

The public API is re-exported here and imported on first use, so `import ofa_tf` stays cheap
(TensorFlow loads only when a name that needs it is touched).
"""
import os
import sys

from ofa_tf import _quiet_import
from ofa_tf.lazy import lazy_exports

# TensorFlow's oneDNN kernels make a training step ~1.5x faster on CPU, but with two ops running at once (inter-op
# parallelism) they corrupt the heap in elastic training within minutes (benchmarks/onednn_stress.py: glibc's
# malloc checker catches it within 20 steps; with one inter-op thread 300 steps ran clean). So ofa_tf turns oneDNN
# on with one inter-op thread (each op still uses every core), unless the user set either variable. Effective only
# when ofa_tf is imported before TensorFlow (the trainer warns otherwise).
if "tensorflow" not in sys.modules and os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1") != "0":
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
# TensorFlow prints its start-up lines twice from C++, past every log level: hidden when ofa_tf imports it
# (ofa_tf/_quiet_import.py; TF_CPP_MIN_LOG_LEVEL=0 shows them).
_quiet_import.install()

__version__ = "0.1.0"

_EXPORTS = {
    # supernet, subnets, counting
    "OFAMobileNetV3": "ofa_tf.families.mobilenet_v3.supernet",
    "OFAProxylessNASNets": "ofa_tf.families.proxyless.supernet",
    "OFAResNets": "ofa_tf.families.resnet",
    "ResNetConfig": "ofa_tf.families.resnet",
    "ofa_net": "ofa_tf.zoo",
    "net_ids": "ofa_tf.zoo",
    "load_weights": "ofa_tf.zoo",
    "load_supernet": "ofa_tf.run_folder",
    "ofa_specialized": "ofa_tf.specialized",
    "specialized_ids": "ofa_tf.specialized",
    "SubnetConfig": "ofa_tf.families.mbconv.config",
    "SearchSpace": "ofa_tf.families.mbconv.space",
    "calibrate_bn": "ofa_tf.calibrate",
    "profile": "ofa_tf.counting",
    "search_space_size": "ofa_tf.counting",
    # training and evaluation
    "train": "ofa_tf.training",
    "TrainConfig": "ofa_tf.training",
    "evaluate": "ofa_tf.training",
    "finetune": "ofa_tf.training",
    "FinetuneConfig": "ofa_tf.training",
    "evaluate_model": "ofa_tf.training",
    "load_finetuned": "ofa_tf.finetune_folder",
    # data
    "load_dataset": "ofa_tf.data",
    "ImageData": "ofa_tf.data",
    "resolution_candidates": "ofa_tf.data",
    # predictors and search
    "AccuracyPredictor": "ofa_tf.nas",
    "ArchEncoder": "ofa_tf.nas",
    "ResNetArchEncoder": "ofa_tf.nas",
    "StageEncoder": "ofa_tf.nas",
    "NetworkShape": "ofa_tf.families.mbconv.shape",
    "MacsModel": "ofa_tf.nas",
    "ParamsModel": "ofa_tf.nas",
    "LatencyTableModel": "ofa_tf.latency",
    "LatencyTable": "ofa_tf.latency",
    "LatencyPredictor": "ofa_tf.latency",
    "MeasuredLatencyModel": "ofa_tf.nas",
    "Constraint": "ofa_tf.nas",
    "evolution_search": "ofa_tf.nas",
    "nsga2_search": "ofa_tf.nas",
    "build_accuracy_dataset": "ofa_tf.nas",
    "pretrained_accuracy_predictor": "ofa_tf.nas",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
