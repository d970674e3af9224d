"""Once-for-All networks for TensorFlow/Keras 3."""
from ofa_tf.subnet_config import SearchSpace as SearchSpace
from ofa_tf.subnet_config import SubnetConfig as SubnetConfig
from ofa_tf.supernet import OFAMobileNetV3 as OFAMobileNetV3
from ofa_tf.zoo import net_ids as net_ids
from ofa_tf.zoo import ofa_net as ofa_net

__version__ = "0.1.0"
