"""Progressive-shrinking training, fine-tuning one subnet, BN-recalibrated evaluation."""
from ofa_tf.training.evaluation import SubnetAccuracy as SubnetAccuracy
from ofa_tf.training.evaluation import ModelAccuracy as ModelAccuracy
from ofa_tf.training.evaluation import evaluate as evaluate
from ofa_tf.training.evaluation import evaluate_model as evaluate_model
from ofa_tf.training.phases import Phase as Phase
from ofa_tf.training.phases import progressive_shrinking as progressive_shrinking
from ofa_tf.training.config import TrainConfig as TrainConfig
from ofa_tf.training.trainer import TrainResult as TrainResult
from ofa_tf.training.trainer import train as train
from ofa_tf.training.finetuning import FinetuneConfig as FinetuneConfig
from ofa_tf.training.finetuning import FinetuneResult as FinetuneResult
from ofa_tf.training.finetuning import finetune as finetune
