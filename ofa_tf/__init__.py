"""Once-for-All networks for TensorFlow/Keras 3."""
from ofa_tf.subnet_config import SearchSpace as SearchSpace
from ofa_tf.subnet_config import SubnetConfig as SubnetConfig
from ofa_tf.supernet import OFAMobileNetV3 as OFAMobileNetV3
from ofa_tf.zoo import net_ids as net_ids
from ofa_tf.zoo import ofa_net as ofa_net

__version__ = "0.1.0"
from ofa_tf.calibrate import calibrate_bn as calibrate_bn  # noqa: E402
from ofa_tf.profile import profile as profile  # noqa: E402
from ofa_tf.profile import search_space_size as search_space_size  # noqa: E402
