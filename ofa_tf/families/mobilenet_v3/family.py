"""The OFA-MobileNetV3 family's registry entry (`ofa_tf/registry.py`)."""
from ofa_tf.families.mobilenet_v3.presets import PRESETS
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3
from ofa_tf.families.spec import Family

FAMILY = Family(name="mobilenet_v3", title="OFA-MobileNetV3", supernet_type=OFAMobileNetV3, presets=PRESETS,
                reference="ofa/imagenet_classification/elastic_nn/networks/ofa_mbv3.py")
