"""Input pipelines for training and evaluating OFA supernets: sources, transforms, elastic resolution."""
from ofa_tf.data.image_data import CALIBRATION_SEED as CALIBRATION_SEED
from ofa_tf.data.image_data import ImageData as ImageData
from ofa_tf.data.image_data import load_dataset as load_dataset
from ofa_tf.data.image_data import split_indices as split_indices
from ofa_tf.data.resolution import resolution_candidates as resolution_candidates
from ofa_tf.data.resolution import sample_resolution as sample_resolution
from ofa_tf.data.sources import CorruptImageWarning as CorruptImageWarning
from ofa_tf.data.sources import index_image_folder as index_image_folder
from ofa_tf.data.transforms import IMAGENET_MEAN as IMAGENET_MEAN
from ofa_tf.data.transforms import IMAGENET_STD as IMAGENET_STD
from ofa_tf.data.transforms import CifarPolicy as CifarPolicy
from ofa_tf.data.transforms import ImageNetPolicy as ImageNetPolicy
from ofa_tf.data.transforms import denormalize as denormalize
from ofa_tf.data.transforms import eval_transform as eval_transform
from ofa_tf.data.transforms import normalize as normalize
