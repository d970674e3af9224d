"""The OFA-ResNets family's registry entry (`ofa_tf/registry.py`)."""
from ofa_tf.families.resnet.presets import PRESETS
from ofa_tf.families.resnet.supernet import OFAResNets
from ofa_tf.families.spec import Family

FAMILY = Family(name="resnet", title="OFA-ResNets", supernet_type=OFAResNets, presets=PRESETS,
                reference="ofa/imagenet_classification/elastic_nn/networks/ofa_resnets.py")
