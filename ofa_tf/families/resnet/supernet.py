"""OFA-ResNet: the elastic ResNet-50 supernet (`elastic_nn/networks/ofa_resnets.py`) as a Keras 3 model."""
from __future__ import annotations


import keras
import numpy as np
import tensorflow as tf

from ofa_tf.layers.channel_order import reorganize_bottleneck
from ofa_tf.layers.channel_order import sort_widths
from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.layers.elastic_bottleneck import ElasticBottleneck
from ofa_tf.layers.elastic_conv import ElasticConv2D
from ofa_tf.layers.elastic_conv import ElasticDense
from ofa_tf.families.resnet.space import BASE_DEPTHS
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.families.resnet.efficiency import ResNetMacsModel
from ofa_tf.families.resnet.efficiency import ResNetParamsModel
from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.utils import make_divisible
from ofa_tf.families.supernet import OFASupernet
from ofa_tf.weights_file import IdentifiedWeights

# `ResNets.STAGE_WIDTH_LIST` (`networks/resnets.py`) and the stem width 64 of `OFAResNets`.
STAGE_WIDTHS = (256, 512, 1024, 2048)
STEM_WIDTH = 64
STAGE_STRIDES = (1, 2, 2, 2)


def max_pool_3x3_s2(x):
    """`nn.MaxPool2d(3, 2, padding=1)`. The input follows a ReLU (>= 0), so zero padding equals the
    reference's -inf padding."""
    x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.nn.max_pool2d(x, 3, 2, "VALID")


@keras.saving.register_keras_serializable(package="ofa_tf")
class OFAResNets(OFASupernet, IdentifiedWeights, keras.Model):
    """Once-for-All ResNet-50 supernet with elastic depth, expand ratio, width and resolution.

    Input stem (3x3 s2 conv → skippable residual 3x3 conv → 3x3 conv, each +BN+ReLU) → 3x3 s2 max
    pool → 4 stages of bottlenecks (base depths 2/2/4/2 plus max(depth_list), strides 1/2/2/2) →
    global average pool → dropout → linear. Every width is make_divisible(base * width multiplier); a
    width index picks one multiplier for each stem conv and each stage (the first channels).

    The active subnet lives in int32 variables (`active_d`, `active_e` as indices into `expand_list`,
    `active_w` width indices) or is passed to `call(..., subnet=(d, e_index, w))`, so one trace runs
    every subnet.

    Args:
        n_classes: classifier outputs.
        depth_list: elastic extra depths per stage (and the stem skip: only the largest keeps it).
        expand_list: bottleneck expand ratios.
        width_mult_list: width multipliers (indexed by `w`).
        dropout_rate: dropout before the classifier.
        resolutions: input sizes of the search space (metadata for sampling and search).
        bn_momentum, bn_epsilon: batch norm (Keras momentum convention; reference 0.9 / 1e-5).
    """

    space_type = ResNetSearchSpace
    latency_tables = False  # lookup tables time MobileNet (MBConv) blocks

    def __init__(
        self,
        n_classes=1000,
        depth_list=(0, 1, 2),
        expand_list=(0.2, 0.25, 0.35),
        width_mult_list=(0.65, 0.8, 1.0),
        dropout_rate=0.0,
        resolutions=tuple(range(128, 225, 4)),
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        net_id=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(n_classes) < 1:
            raise ValueError(f"`n_classes` must be >= 1. Received n_classes={n_classes}.")
        if not width_mult_list or min(width_mult_list) <= 0:
            raise ValueError(f"`width_mult_list` needs positive multipliers; received {list(width_mult_list)}.")
        self.n_classes = int(n_classes)
        self.width_mult_list = tuple(sorted(float(w) for w in width_mult_list))
        self.dropout_rate = float(dropout_rate)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.net_id = net_id
        self.search_space = ResNetSearchSpace(depth_list, expand_list, len(self.width_mult_list), BASE_DEPTHS,
                                              resolutions)
        self.active_resolution = None

        self.stem_widths = tuple(make_divisible(STEM_WIDTH * w) for w in self.width_mult_list)
        self.stem_mid_widths = tuple(make_divisible(c // 2) for c in self.stem_widths)
        self.stage_widths = tuple(tuple(make_divisible(s * w) for w in self.width_mult_list) for s in STAGE_WIDTHS)

        bn = dict(momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        mid, stem = max(self.stem_mid_widths), max(self.stem_widths)
        self.stem_conv0 = ElasticConv2D(3, mid, 3, 2, name="stem_conv0")
        self.stem_bn0 = ElasticBatchNorm(mid, name="stem_bn0", **bn)
        self.stem_conv1 = ElasticConv2D(mid, mid, 3, 1, name="stem_conv1")
        self.stem_bn1 = ElasticBatchNorm(mid, name="stem_bn1", **bn)
        self.stem_conv2 = ElasticConv2D(mid, stem, 3, 1, name="stem_conv2")
        self.stem_bn2 = ElasticBatchNorm(stem, name="stem_bn2", **bn)
        self.blocks = []
        in_channels = self.stem_widths
        for s, (n, widths, stride) in enumerate(zip(self.search_space.stage_blocks, self.stage_widths, STAGE_STRIDES)):
            for j in range(n):
                self.blocks.append(ElasticBottleneck(
                    in_channels, widths, self.search_space.expand_list, 3, stride if j == 0 else 1,
                    name=f"blocks_{len(self.blocks)}", bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
                ))
                in_channels = widths
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout")
        self.classifier = ElasticDense(max(in_channels), self.n_classes, name="classifier")
        self.build((None, None, None, 3))

    # === Structure ===
    @property
    def block_group_info(self) -> list[list[int]]:
        """Indices into `blocks` of each stage's blocks (`grouped_block_index`)."""
        out, start = [], 0
        for n in self.search_space.stage_blocks:
            out.append(list(range(start, start + n)))
            start += n
        return out

    def build(self, input_shape=None):
        if self.built:
            return
        for layer in (self.stem_conv0, self.stem_bn0, self.stem_conv1, self.stem_bn1, self.stem_conv2,
                      self.stem_bn2, *self.blocks, self.classifier):
            layer.build(None)
        n = self.search_space.lengths
        int_var = dict(dtype="int32", trainable=False, aggregation="only_first_replica")
        top_e = len(self.search_space.expand_list) - 1
        self.active_d = self.add_weight(shape=(n["d"],), initializer=keras.initializers.Constant(
            self.search_space.max_depth), name="active_d", **int_var)
        self.active_e = self.add_weight(shape=(n["e"],), initializer=keras.initializers.Constant(top_e),
                                        name="active_e", **int_var)
        self.active_w = self.add_weight(shape=(n["w"],), initializer=keras.initializers.Constant(
            self.search_space.n_widths - 1), name="active_w", **int_var)
        self.built = True

    # === Forward ===
    def call(self, inputs, training=None, subnet=None, calibration_weight=None):
        """Runs the active subnet, or `subnet=(d, e_index, w)` given as int tensors of the config's lengths."""
        channels = inputs.shape[-1]
        if channels is not None and channels != 3:
            raise ValueError(f"Expected RGB inputs with 3 channels; received input shape {tuple(inputs.shape)}.")
        d, e, w = (self.active_d, self.active_e, self.active_w) if subnet is None else subnet
        d, e, w = (tf.convert_to_tensor(v, tf.int32) for v in (d, e, w))
        bn = dict(training=training, calibration_weight=calibration_weight)
        space = self.search_space

        mid = tf.gather(tf.constant(self.stem_mid_widths, tf.int32), w[0])
        x = tf.nn.relu(self.stem_bn0(self.stem_conv0(inputs, out_channels=mid), **bn))

        def stem_residual(x=x):
            return x + tf.nn.relu(self.stem_bn1(self.stem_conv1(x, out_channels=mid), **bn))

        x = tf.cond(d[0] >= space.max_depth, stem_residual, lambda x=x: x) if len(space.depth_list) > 1 \
            else stem_residual()
        stem = tf.gather(tf.constant(self.stem_widths, tf.int32), w[1])
        x = tf.nn.relu(self.stem_bn2(self.stem_conv2(x, out_channels=stem), **bn))
        x = max_pool_3x3_s2(x)
        min_depth = min(space.depth_list)
        for s, stage_blocks in enumerate(self.block_group_info):
            for j, b in enumerate(stage_blocks):
                block = self.blocks[b]

                def run(x=x, block=block, b=b, s=s):
                    return block(x, width_index=w[s + 2], expand_index=e[b], **bn)

                base = space.base_depths[s]
                x = run() if j < base + min_depth else tf.cond(d[s + 1] > j - base, run, lambda x=x: x)
        x = tf.reduce_mean(x, axis=[1, 2])
        return self.classifier(self.dropout(x, training=training))

    # === Active subnet ===
    def set_active_subnet(self, d=None, e=None, w=None, r=None) -> None:
        """Sets depths (stem skip + per stage), expand ratios (per block) and width indices (2 stem convs +
        per stage); ints broadcast, `None` (or a `None` entry) keeps the current value, as the reference."""
        config = self.search_space.expand(d, e, w, r, base=self.get_active_config())
        self._assign(config)

    def _assign(self, config: ResNetConfig) -> None:
        for variable, value in zip((self.active_d, self.active_e, self.active_w), self.subnet_arrays(config)):
            variable.assign(value)
        self.active_resolution = config.r

    def get_active_config(self) -> ResNetConfig:
        expand = self.search_space.expand_list
        return ResNetConfig(self.active_d.numpy(), [expand[i] for i in self.active_e.numpy()],
                            self.active_w.numpy(), self.active_resolution)

    def get_active_subnet(self, resolution=None, batch_size=None, name=None) -> keras.Model:
        """The active subnet as a plain Keras model of stock layers, with weights copied."""
        from ofa_tf.families.resnet.materialize import materialize_resnet

        config = self.get_active_config()
        return materialize_resnet(self, config, resolution or config.r, batch_size=batch_size, name=name)

    def subnet_signature(self) -> tuple[tf.TensorSpec, ...]:
        """Specs of the `call(..., subnet=...)` tensors: d, expand-ratio indices, width indices."""
        n = self.search_space.lengths
        return tuple(tf.TensorSpec([n[k]], tf.int32) for k in ("d", "e", "w"))

    def subnet_arrays(self, config: ResNetConfig) -> tuple[np.ndarray, ...]:
        """`config` as the int32 arrays `call(..., subnet=...)` takes."""
        expand = self.search_space.expand_list
        return (np.asarray(config.d, np.int32), np.asarray([expand.index(v) for v in config.e], np.int32),
                np.asarray(config.w, np.int32))

    def active_blocks(self, config: ResNetConfig | None = None) -> list[tuple[int, int, float]]:
        """(block index, width index, expand ratio) of the blocks a config runs, in order."""
        config = config or self.get_active_config()
        out = []
        for s, stage_blocks in enumerate(self.block_group_info):
            for b in stage_blocks[: self.search_space.base_depths[s] + config.d[s + 1]]:
                out.append((b, config.w[s + 2], config.e[b]))
        return out

    def torch_weight_table(self):
        """`torch key -> (keras variable, layout transform)` for the reference's `OFAResNets` state dict."""
        from ofa_tf.families.resnet.torch_weights import resnet_weight_table

        return resnet_weight_table(self)

    @staticmethod
    def remap_torch_key(key: str, known: set[str]) -> str:
        from ofa_tf.families.resnet.torch_weights import remap_resnet_key

        return remap_resnet_key(key, known)

    def efficiency_models(self, millions: bool = True) -> tuple[ResNetMacsModel, ResNetParamsModel]:
        """The exact MACs and params models of this supernet's subnets."""
        return ResNetMacsModel(self, millions), ResNetParamsModel(self, millions)

    def latency_shape(self):
        """Refused: latency lookup tables time MobileNet (MBConv) blocks."""
        raise ValueError(
            f"Latency lookup tables time MobileNet (MBConv) blocks; {self.net_id} is an OFA-ResNet supernet: use a "
            f"macs=/params= budget, or no table to measure this host's latency."
        )

    def sort_channels(self, expand_ratio_stage: int = 0) -> None:
        """Sorts every bottleneck's middle channels by importance (`reorganize_bottleneck`)."""
        for block in self.blocks:
            reorganize_bottleneck(block, expand_ratio_stage)

    def sort_widths(self, width_stage: int = 0) -> list:
        """Sorts the stem and stage output channels by importance (`ofa_tf.layers.channel_order.sort_widths`)."""
        return sort_widths(self, width_stage)

    @property
    def width_text(self) -> str:
        """The width argument, for messages (`width_mult=(0.65, 0.8, 1.0)`)."""
        return f"width_mult={self.width_mult_list}"

    def _architecture_config(self) -> dict:
        space = self.search_space
        return {
            "depth_list": list(space.depth_list),
            "expand_list": list(space.expand_list),
            "width_mult_list": list(self.width_mult_list),
        }
