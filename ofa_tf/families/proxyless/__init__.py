"""The OFA-ProxylessNAS family: supernet, stock-Keras subnets, reference weights, presets."""
from ofa_tf.lazy import lazy_exports

_EXPORTS = {"OFAProxylessNASNets": "ofa_tf.families.proxyless.supernet"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
