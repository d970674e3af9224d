"""The OFA-MobileNetV3 family: supernet, stock-Keras subnets and parts, reference weights, presets."""
from ofa_tf.lazy import lazy_exports

_EXPORTS = {
    "OFAMobileNetV3": "ofa_tf.families.mobilenet_v3.supernet",
    "materialize_part": "ofa_tf.families.mobilenet_v3.materialize",
    "PARTS": "ofa_tf.families.mobilenet_v3.materialize",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
