"""Once-for-All networks for TensorFlow/Keras 3."""
from ofa_tf.subnet_config import SearchSpace as SearchSpace
from ofa_tf.subnet_config import SubnetConfig as SubnetConfig

__version__ = "0.1.0"
