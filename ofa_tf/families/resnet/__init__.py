"""The OFA-ResNet family: search space, elastic supernet, stock-Keras subnets, reference weights."""
from ofa_tf.lazy import lazy_exports

_EXPORTS = {
    "ResNetConfig": "ofa_tf.families.resnet.config",
    "ResNetSearchSpace": "ofa_tf.families.resnet.space",
    "OFAResNets": "ofa_tf.families.resnet.supernet",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
