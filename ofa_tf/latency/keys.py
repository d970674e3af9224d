"""Latency-table key formats (granularities): the table keys whose entries sum to a subnet's latency.

`block` keys name the pieces the TFLite interpreter runs back to back (`stem`, `mbconv`, `head`); `layer` keys are the
reference's `MBv3LatencyTable` keys (once-for-all `ofa/nas/efficiency_predictor/latency_lookup_table.py`). Both are
described in `ofa_tf/latency/__init__.py`.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from collections.abc import Sequence

from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.shape import NetworkShape
from ofa_tf.families.mbconv.shape import StageShape
from ofa_tf.families.mbconv.config import SubnetConfig

GRANULARITIES = ("block", "layer")
OVERHEAD_KEY = "Overhead-input:1x1x1-output:1x1x1"
"""Entry of a near-empty model (one ReLU on one value): the per-invoke cost every timed entry includes."""
_STEM_IN_CHANNELS = 3
_INPUT = re.compile(r"-input:(\d+)x(\d+)x(\d+)-")
_STEM = re.compile(r"^(?:Conv|stem)-input:(\d+)x\1x3-")  # the first conv's key: its input is the image


def hwc(*dims: int) -> str:
    """`HxWxC` as keys spell a shape."""
    return "x".join(str(int(v)) for v in dims)


@dataclasses.dataclass(frozen=True)
class BlockKey:
    """One elastic block position with a kernel and expand ratio: everything its key is made of."""

    f_in: int
    f_out: int
    in_ch: int
    out_ch: int
    mid: int
    kernel: int
    expand: float
    stride: int
    use_se: bool
    use_hswish: bool

    @property
    def skip(self) -> bool:
        return self.stride == 1 and self.in_ch == self.out_ch

    def key(self, granularity: str) -> str:
        io = f"-input:{hwc(self.f_in, self.f_in, self.in_ch)}-output:{hwc(self.f_out, self.f_out, self.out_ch)}"
        if granularity == "layer":
            return (f"expanded_conv{io}-expand:{self.mid}-kernel:{self.kernel}-stride:{self.stride}"
                    f"-idskip:{int(self.skip)}-se:{int(self.use_se)}-hs:{int(self.use_hswish)}")
        return (f"mbconv{io}-kernel:{self.kernel}-expand:{self.expand:g}-stride:{self.stride}"
                f"-act:{'hswish' if self.use_hswish else 'relu'}-se:{int(self.use_se)}-skip:{int(self.skip)}")


def check_granularity(granularity: str) -> str:
    """`granularity` if it is one of `GRANULARITIES`; raises naming it otherwise."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {granularity!r}: expected one of {', '.join(GRANULARITIES)}.")
    return granularity


def fixed_keys(shape: NetworkShape, r: int, granularity: str) -> tuple[list[str], list[str]]:
    """Keys every subnet at resolution `r` sums: (before the elastic blocks, after them)."""
    if shape.final_expand_width is None:
        raise ValueError("Latency table keys follow the reference's MBv3LatencyTable: OFA-MobileNetV3 shapes only "
                         "(this shape has no final expand layer, as ProxylessNAS).")
    f0 = int(shape.stem_size(r))
    f_last = f0
    for stage in shape.stages:
        f_last = -(-f_last // stage.stride)
    stem, first = shape.stem_width, shape.first_block_width
    last, fe, fm = shape.stages[-1].width, shape.final_expand_width, shape.feature_mix_width
    if granularity == "block":
        return (
            [f"stem-input:{hwc(r, r, _STEM_IN_CHANNELS)}-output:{hwc(f0, f0, first)}-conv:{stem}"
             f"-kernel:{shape.first_block_kernel}"],
            [f"head-input:{hwc(f_last, f_last, last)}-output:{shape.n_classes}-expand:{fe}-mix:{fm}"],
        )
    first_block = BlockKey(f0, f0, stem, first, stem, shape.first_block_kernel, 1, 1, False, False)
    return (
        [f"Conv-input:{hwc(r, r, _STEM_IN_CHANNELS)}-output:{hwc(f0, f0, stem)}", first_block.key("layer")],
        [
            f"Conv_1-input:{hwc(f_last, f_last, last)}-output:{hwc(f_last, f_last, fe)}",
            f"AvgPool2D-input:{hwc(f_last, f_last, fe)}-output:{hwc(1, 1, fe)}",
            f"Conv_2-input:{hwc(1, 1, fe)}-output:{hwc(1, 1, fm)}",
            f"Logits-input:{hwc(1, 1, fm)}-output:{shape.n_classes}",
        ],
    )


def block_positions(shape: NetworkShape, stage_depths: Sequence[int], r: int):
    """Yields (column, f_in, f_out, in_ch, stage, first in its stage) for every elastic block position at `r`."""
    inputs = shape.stage_inputs()
    f = int(shape.stem_size(r))
    col = 0
    for s, (stage, depth) in enumerate(zip(shape.stages, stage_depths)):
        f_out = -(-f // stage.stride)
        for j in range(depth):
            yield col, (f if j == 0 else f_out), f_out, (inputs[s] if j == 0 else stage.width), stage, j == 0
            col += 1
        f = f_out


def block_key_at(shape: NetworkShape, f_in, f_out, in_ch, stage: StageShape, kernel, expand, first: bool) -> BlockKey:
    """The `BlockKey` of a block position of `block_positions` with kernel `kernel` and expand ratio `expand`."""
    return BlockKey(int(f_in), int(f_out), int(in_ch), stage.width, int(shape.mid_channels(in_ch, expand)),
                  int(kernel), float(expand), stage.stride if first else 1, stage.use_se, stage.use_hswish)


def check_stages(shape: NetworkShape, batch: ConfigBatch) -> None:
    """Raises unless `batch` has `shape`'s number of stages and a resolution."""
    if batch.n_stages != shape.n_stages:
        raise ValueError(f"Configs have {batch.n_stages} stages but the network shape has {shape.n_stages}.")
    batch.require_resolution()


def latency_table_keys(shape: NetworkShape, config: SubnetConfig, granularity: str = "layer") -> list[str]:
    """The table keys whose entries sum to the latency of `config`, in network order."""
    check_granularity(granularity)
    batch = ConfigBatch.coerce(config)
    check_stages(shape, batch)
    active = batch.active_mask()[0]
    r = int(batch.r[0])
    keys = []
    for col, f_in, f_out, in_ch, stage, first in block_positions(shape, batch.stage_depths, r):
        if active[col]:
            block = block_key_at(shape, f_in, f_out, in_ch, stage, batch.ks[0, col], batch.e[0, col], first)
            keys.append(block.key(granularity))
    before, after = fixed_keys(shape, r, granularity)
    return before + keys + after


def detect_granularity(keys: Iterable[str]) -> str:
    """`block` if any key is a block-format key (`stem-`, `mbconv-`, `head-`), else `layer`."""
    return "block" if any(k.split("-", 1)[0] in ("stem", "mbconv", "head") for k in keys) else "layer"


def key_input_shape(key: str) -> tuple[int, int, int]:
    """The `(H, W, C)` input of the entry `key`."""
    match = _INPUT.search(key)
    return tuple(int(v) for v in match.groups())


def stem_resolutions(keys: Iterable[str]) -> tuple[int, ...]:
    """The image sizes of the stem entries (`Conv-input:RxRx3-...` or `stem-input:RxRx3-...`) among `keys`."""
    return tuple(sorted({int(m.group(1)) for key in keys if (m := _STEM.match(key))}))


