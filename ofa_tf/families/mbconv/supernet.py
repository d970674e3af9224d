"""OFA-MobileNetV3: the elastic supernet as a Keras 3 model, on the base every MBConv supernet shares."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ofa_tf.families.supernet import OFASupernet
from ofa_tf.families.mbconv.torch_weights import remap_key
from ofa_tf.weights_file import IdentifiedWeights
from ofa_tf.layers.channel_order import reorganize_channels
from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.layers.elastic_mbconv import ACTIVATIONS
from ofa_tf.layers.elastic_mbconv import ElasticMBConv
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig

def he_fan_out(kernel_area, out_channels):
    """He-normal init over the fan-out (the reference's `init_models`, "he_fout")."""
    return keras.initializers.RandomNormal(stddev=(2.0 / (kernel_area * out_channels)) ** 0.5)


class MBConvSupernet(OFASupernet, IdentifiedWeights, keras.Model):
    """What OFA supernets of MBConv blocks share: the `{ks, e, d}` search space, the active subnet in int32
    variables (`active_ks`, `active_e`, `active_d`) or passed to `call(..., subnet=(ks, e, d))` as tensors,
    so a single trace runs every subnet, and elastic depth over `blocks[1:]` (blocks[0] is fixed).

    The constructor, `build` and `call` are shared; a family sets `default_stage_strides`, `default_bn_epsilon`,
    `stem_activation`, `first_block_activation` and implements `_make_space_and_shape` (its `search_space` and `network_shape`), `_make_head`,
    `_build_head` and `_run_head` (the layers after the blocks), `materialize` (stock Keras subnet) and
    `torch_weight_table` (its reference checkpoint keys).
    """

    space_type = SearchSpace
    latency_tables = False  # whether block lookup tables (`ofa_tf.latency`) can time it (MobileNetV3's head only)
    default_stage_strides: tuple[int, ...]
    default_bn_epsilon: float
    stem_activation: str  # after the first conv (an `ACTIVATIONS` key)
    first_block_activation: str  # of the fixed blocks[0]

    def __init__(
        self,
        n_classes=1000,
        width_mult=1.0,
        ks_list=(3, 5, 7),
        expand_list=(3, 4, 6),
        depth_list=(2, 3, 4),
        dropout_rate=0.1,
        first_stride=2,
        stage_strides=None,
        resolutions=tuple(range(128, 225, 4)),
        bn_momentum=0.9,
        bn_epsilon=None,
        net_id=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        stage_strides = self.default_stage_strides if stage_strides is None else stage_strides
        n_stages = len(self.default_stage_strides)
        if int(n_classes) < 1:
            raise ValueError(f"`n_classes` must be >= 1. Received n_classes={n_classes}.")
        if len(stage_strides) != n_stages:
            raise ValueError(f"`stage_strides` needs {n_stages} entries; received {list(stage_strides)}.")
        self.n_classes = int(n_classes)
        self.width_mult = float(width_mult)
        self.dropout_rate = float(dropout_rate)
        self.first_stride = int(first_stride)
        self.stage_strides = tuple(int(s) for s in stage_strides)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(self.default_bn_epsilon if bn_epsilon is None else bn_epsilon)
        self.net_id = net_id
        self.active_resolution = None
        self._make_space_and_shape(ks_list, expand_list, depth_list, resolutions)
        self._make_stem_and_blocks(self.first_block_activation)
        self._make_head()
        self._make_classifier()
        self.build((None, None, None, 3))

    def build(self, input_shape=None):
        if self.built:
            return
        self._build_stem_and_blocks()
        self._build_head()
        self.classifier.build((None, self.feature_mix_width))
        self._build_active_subnet()
        self.built = True

    def call(self, inputs, training=None, subnet=None, calibration_weight=None):
        """Runs the active subnet, or `subnet=(ks, e, d)` given as int tensors of the config's lengths."""
        ks, e, d = self._subnet_tensors(inputs, subnet)
        bn = dict(training=training, calibration_weight=calibration_weight)
        x = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        x = ACTIVATIONS[self.stem_activation](self.first_bn(self.first_conv(x), **bn))
        x = self.blocks[0](x, **bn)
        x = self._run_blocks(x, ks, e, d, bn)
        x = self._run_head(x, bn)
        return self.classifier(self.dropout(x, training=training))

    def sort_channels(self, expand_ratio_stage: int = 0) -> None:
        """Sorts every block's middle channels by importance (blocks without expansion, like blocks[0], are
        never sorted)."""
        for block in self.blocks:
            reorganize_channels(block, expand_ratio_stage)

    # === Efficiency (`ofa_tf.nas` budgets, latency tables) ===
    def efficiency_models(self, millions: bool = True):
        """The exact MACs and params models of this supernet's subnets (`NetworkShape.efficiency_models`)."""
        return self.network_shape.efficiency_models(millions)

    def latency_shape(self) -> NetworkShape:
        """The shape latency lookup tables key this supernet's blocks by."""
        return self.network_shape

    # === Reference checkpoints (`ofa_tf.torch_checkpoint.load_state_dict`) ===
    remap_torch_key = staticmethod(remap_key)

    @property
    def width_text(self) -> str:
        """The width argument, for messages (`width_mult=1.0`)."""
        return f"width_mult={self.width_mult}"

    def _bn_kwargs(self):
        return {"bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon}

    # === Structure ===
    @property
    def network_shape(self) -> NetworkShape:
        """Widths, strides, SE and activations of every stage: what the supernet is built from, and what MACs,
        params and latency-table keys are computed from (`ofa_tf.nas.count_macs`, `ofa_tf.latency`)."""
        return self._network_shape

    def _set_network_shape(self, shape: NetworkShape) -> None:
        self._network_shape = shape
        self.stages = shape.stages
        self.stem_width = shape.stem_width
        self.first_block_width = shape.first_block_width
        self.final_expand_width = shape.final_expand_width
        self.feature_mix_width = shape.feature_mix_width

    @property
    def block_group_info(self) -> list[list[int]]:
        """Indices into `blocks` of each stage's blocks (blocks[0] is the fixed first block)."""
        space = self.search_space
        return [list(range(1 + a, 1 + a + n)) for a, n in zip(space.stage_starts, space.stage_depths)]

    # === Layers ===
    def _make_stem_and_blocks(self, first_block_activation: str) -> None:
        """First conv + BN, blocks[0] (depthwise 3x3, expand 1, no SE) and the elastic blocks of `stages`."""
        self.first_conv = keras.layers.Conv2D(
            self.stem_width, 3, strides=self.first_stride, use_bias=False,
            kernel_initializer=he_fan_out(9, self.stem_width), name="first_conv",
        )
        self.first_bn = ElasticBatchNorm(self.stem_width, name="first_bn", momentum=self.bn_momentum,
                                         epsilon=self.bn_epsilon)
        self.blocks = [
            ElasticMBConv(self.stem_width, self.first_block_width, 1, (3,), (1,), first_block_activation, False,
                          name="blocks_0", **self._bn_kwargs())
        ]
        in_ch = self.first_block_width
        space = self.search_space
        for stage, depth in zip(self.stages, space.stage_depths):
            for j in range(depth):
                self.blocks.append(
                    ElasticMBConv(
                        in_ch, stage.width, stage.stride if j == 0 else 1, space.ks_list, space.expand_list,
                        stage.activation, stage.use_se, name=f"blocks_{len(self.blocks)}", **self._bn_kwargs(),
                    )
                )
                in_ch = stage.width

    def _make_classifier(self) -> None:
        """Dropout and the classifier (uniform init, as the reference's `LinearLayer`)."""
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout")
        limit = 1.0 / self.feature_mix_width**0.5
        self.classifier = keras.layers.Dense(
            self.n_classes, kernel_initializer=keras.initializers.RandomUniform(-limit, limit), name="classifier"
        )

    def _build_stem_and_blocks(self) -> None:
        self.first_conv.build((None, None, None, 3))
        self.first_bn.build(None)
        for block in self.blocks:
            block.build(None)

    def _build_active_subnet(self):
        space = self.search_space
        int_var = dict(dtype="int32", trainable=False, aggregation="only_first_replica")
        self.active_ks = self.add_weight(
            shape=(space.n_blocks,), initializer=keras.initializers.Constant(max(space.ks_list)),
            name="active_ks", **int_var,
        )
        self.active_e = self.add_weight(
            shape=(space.n_blocks,), initializer=keras.initializers.Constant(max(space.expand_list)),
            name="active_e", **int_var,
        )
        self.active_d = self.add_weight(
            shape=(space.n_stages,), initializer=keras.initializers.Constant(space.stage_depths),
            name="active_d", **int_var,
        )

    def _subnet_tensors(self, inputs, subnet):
        channels = inputs.shape[-1]
        if channels is not None and channels != 3:
            raise ValueError(f"Expected RGB inputs with 3 channels; received input shape {tuple(inputs.shape)}.")
        ks, e, d = (self.active_ks, self.active_e, self.active_d) if subnet is None else subnet
        return tuple(tf.convert_to_tensor(v, tf.int32) for v in (ks, e, d))

    def _run_blocks(self, x, ks, e, d, bn):
        """The elastic blocks: a stage runs its first `d[s]` blocks (always its first `min(depth_list)`)."""
        min_depth = min(self.search_space.depth_list)
        for s, stage_blocks in enumerate(self.block_group_info):
            for j, b in enumerate(stage_blocks):
                block = self.blocks[b]

                def run(x=x, block=block, b=b):
                    return block(x, kernel_size=ks[b - 1], expand_ratio=e[b - 1], **bn)

                x = run() if j < min_depth else tf.cond(d[s] > j, run, lambda x=x: x)
        return x

    # === Active subnet ===
    def set_active_subnet(self, ks=None, e=None, d=None, r=None) -> None:
        """Sets kernel sizes, expand ratios (int or per-block list), depths (int or per-stage list).

        `None` (or a `None` list entry) keeps the current value, as in the reference.
        """
        current = self.get_active_config()
        config = self.search_space.expand(ks, e, d, r, base=current)
        self._assign(config)

    def _assign(self, config: SubnetConfig) -> None:
        self.active_ks.assign(np.asarray(config.ks, np.int32))
        self.active_e.assign(np.asarray(config.e, np.int32))
        self.active_d.assign(np.asarray(config.d, np.int32))
        self.active_resolution = config.r

    def get_active_config(self) -> SubnetConfig:
        return SubnetConfig(
            self.active_ks.numpy(), self.active_e.numpy(), self.active_d.numpy(), self.active_resolution
        )

    def get_active_subnet(self, resolution=None, batch_size=None, name=None) -> keras.Model:
        """The active subnet as a plain Keras model of stock layers, with weights copied."""
        config = self.get_active_config()
        return self.materialize(config, resolution or config.r, batch_size=batch_size, name=name)

    def subnet_signature(self) -> tuple[tf.TensorSpec, ...]:
        """Specs of the `call(..., subnet=...)` tensors: ks and e per block, d per stage."""
        space = self.search_space
        return tuple(tf.TensorSpec([n], tf.int32) for n in (space.n_blocks, space.n_blocks, space.n_stages))

    def subnet_arrays(self, config: SubnetConfig) -> tuple[np.ndarray, ...]:
        """`config` as the int32 arrays `call(..., subnet=...)` takes."""
        return tuple(np.asarray(v, np.int32) for v in (config.ks, config.e, config.d))

    def active_blocks(self, config: SubnetConfig | None = None) -> list[tuple[int, int, int]]:
        """(block index, kernel size, expand ratio) of the blocks a config runs, blocks[0] first."""
        config = config or self.get_active_config()
        out = [(0, 3, 1)]
        for s, stage_blocks in enumerate(self.block_group_info):
            for b in stage_blocks[: config.d[s]]:
                out.append((b, config.ks[b - 1], config.e[b - 1]))
        return out

    def _architecture_config(self) -> dict:
        space = self.search_space
        return {
            "width_mult": self.width_mult,
            "ks_list": list(space.ks_list),
            "expand_list": list(space.expand_list),
            "depth_list": list(space.depth_list),
            "first_stride": self.first_stride,
            "stage_strides": list(self.stage_strides),
        }
