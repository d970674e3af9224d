"""OFA-MobileNetV3: the elastic supernet as a Keras 3 model, on the base every MBConv supernet shares."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ofa_tf.active_subnet import ActiveSubnet
from ofa_tf.weights_file import IdentifiedWeights
from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm
from ofa_tf.layers.elastic_mbconv import ACTIVATIONS
from ofa_tf.layers.elastic_mbconv import ElasticMBConv
from ofa_tf.network_shape import NetworkShape
from ofa_tf.subnet_config import SearchSpace
from ofa_tf.subnet_config import SubnetConfig

def he_fan_out(kernel_area, out_channels):
    """He-normal init over the fan-out (the reference's `init_models`, "he_fout")."""
    return keras.initializers.RandomNormal(stddev=(2.0 / (kernel_area * out_channels)) ** 0.5)


class MBConvSupernet(ActiveSubnet, IdentifiedWeights, keras.Model):
    """What OFA supernets of MBConv blocks share: the `{ks, e, d}` search space, the active subnet in int32
    variables (`active_ks`, `active_e`, `active_d`) or passed to `call(..., subnet=(ks, e, d))` as tensors,
    so a single trace runs every subnet, and elastic depth over `blocks[1:]` (blocks[0] is fixed).

    Subclasses set `search_space` and their `network_shape`, make their layers (`_make_stem_and_blocks`, ...) and
    define `call` and `materialize` (stock Keras subnet); families other than MobileNetV3 add `torch_weight_table`
    (their reference checkpoint keys).
    """

    def __init__(self, n_classes, width_mult, dropout_rate, first_stride, stage_strides, n_stages, bn_momentum,
                 bn_epsilon, net_id, **kwargs):
        super().__init__(**kwargs)
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
        self.bn_epsilon = float(bn_epsilon)
        self.net_id = net_id
        self.active_resolution = None

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # Keras 3 hides list attributes from `tf.train.Checkpoint`; name the blocks so checkpoints cover them.
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children.update({block.name: block for block in self.blocks})
        return children

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

    def get_config(self):
        space = self.search_space
        return {
            "name": self.name,
            "n_classes": self.n_classes,
            "width_mult": self.width_mult,
            "ks_list": list(space.ks_list),
            "expand_list": list(space.expand_list),
            "depth_list": list(space.depth_list),
            "dropout_rate": self.dropout_rate,
            "first_stride": self.first_stride,
            "stage_strides": list(self.stage_strides),
            "resolutions": list(space.resolutions),
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "net_id": self.net_id,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="ofa_tf")
class OFAMobileNetV3(MBConvSupernet):
    """Once-for-All MobileNetV3 supernet with elastic kernel size, expand ratio, depth and resolution.

    The active subnet lives in int32 variables (`active_ks`, `active_e`, `active_d`) or is passed to
    `call(..., subnet=(ks, e, d))` as tensors, so a single trace runs every subnet.

    Args:
        n_classes: classifier outputs.
        width_mult: multiplier on all base widths (make_divisible by 8).
        ks_list, expand_list, depth_list: elastic choices.
        dropout_rate: dropout before the classifier.
        first_stride: stride of the first conv (2 for ImageNet, 1 for small images).
        stage_strides: stride of each stage's first block.
        resolutions: input sizes of the search space (metadata for sampling and search).
        bn_momentum, bn_epsilon: batch norm (Keras momentum convention; reference 0.9 / 1e-5).

    Reference: Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient
    Deployment", ICLR 2020.
    """

    def __init__(
        self,
        n_classes=1000,
        width_mult=1.0,
        ks_list=(3, 5, 7),
        expand_list=(3, 4, 6),
        depth_list=(2, 3, 4),
        dropout_rate=0.1,
        first_stride=2,
        stage_strides=(2, 2, 2, 1, 2),
        resolutions=tuple(range(128, 225, 4)),
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        net_id=None,
        **kwargs,
    ):
        super().__init__(n_classes, width_mult, dropout_rate, first_stride, stage_strides, 5, bn_momentum, bn_epsilon,
                         net_id, **kwargs)
        self.search_space = SearchSpace(ks_list, expand_list, depth_list, 5, resolutions)
        self._set_network_shape(NetworkShape.mobilenet_v3(self.width_mult, self.n_classes,
                                                          stem_stride=self.first_stride, strides=self.stage_strides))

        self._make_stem_and_blocks(first_block_activation="relu")
        bn = dict(momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        self.final_expand_conv = keras.layers.Conv2D(
            self.final_expand_width, 1, use_bias=False,
            kernel_initializer=he_fan_out(1, self.final_expand_width), name="final_expand_conv",
        )
        self.final_expand_bn = ElasticBatchNorm(self.final_expand_width, name="final_expand_bn", **bn)
        self.feature_mix_conv = keras.layers.Conv2D(
            self.feature_mix_width, 1, use_bias=False,
            kernel_initializer=he_fan_out(1, self.feature_mix_width), name="feature_mix_conv",
        )
        self._make_classifier()
        self.build((None, None, None, 3))

    def build(self, input_shape=None):
        if self.built:
            return
        self._build_stem_and_blocks()
        self.final_expand_conv.build((None, None, None, self.stages[-1].width))
        self.final_expand_bn.build(None)
        self.feature_mix_conv.build((None, 1, 1, self.final_expand_width))
        self.classifier.build((None, self.feature_mix_width))
        self._build_active_subnet()
        self.built = True

    # === Forward ===
    def call(self, inputs, training=None, subnet=None, calibration_weight=None):
        """Runs the active subnet, or `subnet=(ks, e, d)` given as int tensors of the config's lengths."""
        ks, e, d = self._subnet_tensors(inputs, subnet)
        bn = dict(training=training, calibration_weight=calibration_weight)
        hswish = ACTIVATIONS["hard_silu"]

        x = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        x = hswish(self.first_bn(self.first_conv(x), **bn))
        x = self.blocks[0](x, **bn)
        x = self._run_blocks(x, ks, e, d, bn)
        x = hswish(self.final_expand_bn(self.final_expand_conv(x), **bn))
        x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        x = hswish(self.feature_mix_conv(x))
        x = tf.reshape(x, [-1, self.feature_mix_width])
        return self.classifier(self.dropout(x, training=training))

    def materialize(self, config: SubnetConfig, resolution=None, batch_size=None, name=None) -> keras.Model:
        """`config` as a Keras model of stock layers (see `ofa_tf.materialize.materialize`)."""
        from ofa_tf.materialize import materialize

        return materialize(self, config, resolution, batch_size=batch_size, name=name)
