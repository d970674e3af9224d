"""The MBConv implementation OFA-MobileNetV3 and OFA-ProxylessNAS share (not a family of its own): `{ks, e, d}`
configs and search space, block shapes, the supernet base, stock-Keras blocks, weight keys, MACs and params,
arch encoders."""
from ofa_tf.lazy import lazy_exports

_EXPORTS = {
    "SubnetConfig": "ofa_tf.families.mbconv.config",
    "ConfigBatch": "ofa_tf.families.mbconv.config",
    "SearchSpace": "ofa_tf.families.mbconv.space",
    "NetworkShape": "ofa_tf.families.mbconv.shape",
    "StageShape": "ofa_tf.families.mbconv.shape",
    "MBConvSupernet": "ofa_tf.families.mbconv.supernet",
    "ArchEncoder": "ofa_tf.families.mbconv.encoding",
    "StageEncoder": "ofa_tf.families.mbconv.encoding",
    "MacsModel": "ofa_tf.families.mbconv.efficiency",
    "ParamsModel": "ofa_tf.families.mbconv.efficiency",
    "count_macs": "ofa_tf.families.mbconv.efficiency",
    "count_params": "ofa_tf.families.mbconv.efficiency",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
