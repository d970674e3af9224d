"""The OFA-ProxylessNAS family's registry entry (`ofa_tf/registry.py`)."""
from ofa_tf.families.proxyless.presets import PRESETS
from ofa_tf.families.proxyless.supernet import OFAProxylessNASNets
from ofa_tf.families.spec import Family

FAMILY = Family(name="proxyless", title="OFA-ProxylessNAS", supernet_type=OFAProxylessNASNets, presets=PRESETS,
                reference="ofa/imagenet_classification/elastic_nn/networks/ofa_proxyless.py")
