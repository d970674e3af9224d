"""The OFA-ResNet family: search space, elastic supernet, stock-Keras subnets, reference weights."""
from ofa_tf.resnet.space import ResNetConfig as ResNetConfig
from ofa_tf.resnet.space import ResNetSearchSpace as ResNetSearchSpace
from ofa_tf.resnet.supernet import OFAResNets as OFAResNets
