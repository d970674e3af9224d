"""Progressive-shrinking training, BN-recalibrated evaluation and their command line."""
from ofa_tf.training.evaluation import SubnetAccuracy as SubnetAccuracy
from ofa_tf.training.evaluation import evaluate as evaluate
from ofa_tf.training.phases import Phase as Phase
from ofa_tf.training.phases import progressive_shrinking as progressive_shrinking
from ofa_tf.training.config import TrainConfig as TrainConfig
from ofa_tf.training.trainer import TrainResult as TrainResult
from ofa_tf.training.trainer import train as train
