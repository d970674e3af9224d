"""The distinct pieces of a supernet's search space to time for a latency table, each as a batch-1 Keras model."""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable

import numpy as np

from ofa_tf.latency.keys import OVERHEAD_KEY
from ofa_tf.latency.keys import check_granularity
from ofa_tf.latency.keys import key_input_shape
from ofa_tf.latency.keys import latency_table_keys
from ofa_tf.families.mbconv.config import SubnetConfig


@dataclasses.dataclass(frozen=True)
class TableLayer:
    """One distinct piece to time: its table key and how to build it (see `ofa_tf.families.mobilenet_v3.materialize.materialize_part`).

    `part` is `overhead` for `OVERHEAD_KEY`; `block`, `kernel_size`, `expand_ratio` only for `part="block"`.
    """

    key: str
    part: str
    input_shape: tuple[int, int, int]
    block: int | None = None
    kernel_size: int | None = None
    expand_ratio: int | None = None

    def build(self, supernet):
        """A batch-1 Keras model of exactly the stock layers `materialize` uses for this piece."""
        import keras

        from ofa_tf.families.mobilenet_v3.materialize import materialize_part

        if self.part == "overhead":
            inputs = keras.Input(shape=self.input_shape, batch_size=1, name="input")
            return keras.Model(inputs, keras.layers.ReLU(name="relu")(inputs), name="overhead")
        return materialize_part(supernet, self.part, self.input_shape, block=self.block,
                                kernel_size=self.kernel_size, expand_ratio=self.expand_ratio,
                                name=self.key.split("-", 1)[0].lower())



def check_resolutions(supernet, resolutions: Iterable[int] | None) -> tuple[int, ...]:
    """`resolutions` (default: all of the search space), sorted; raises naming any outside the search space."""
    space = supernet.search_space.resolutions
    if resolutions is None:
        return tuple(sorted(space))
    values = tuple(resolutions)
    bad = [r for r in values if not isinstance(r, (int, np.integer)) or int(r) not in space]
    if bad or not values:
        raise ValueError(
            f"Invalid resolutions {bad or values}: expected a non-empty subset of the supernet's search space "
            f"{list(space)}."
        )
    return tuple(sorted({int(r) for r in values}))


def table_layers(supernet, resolutions: Iterable[int] | None = None, overhead: bool = True,
                 granularity: str = "layer") -> list[TableLayer]:
    """Every distinct table entry of `supernet`'s search space at `resolutions`, in network order per resolution.

    Keys shared by several resolutions (e.g. the head, late blocks when feature sizes coincide) appear once.
    With `overhead`, `OVERHEAD_KEY` comes first.
    """
    check_granularity(granularity)
    resolutions = check_resolutions(supernet, resolutions)
    shape = supernet.network_shape
    space = supernet.search_space
    layers: dict[str, TableLayer] = {}
    if overhead:
        layers[OVERHEAD_KEY] = TableLayer(OVERHEAD_KEY, "overhead", (1, 1, 1))
    for r in resolutions:
        for k, e in itertools.product(space.ks_list, space.expand_list):
            config = SubnetConfig((k,) * space.n_blocks, (e,) * space.n_blocks, (space.max_depth,) * space.n_stages, r)
            first, *blocks = supernet.active_blocks(config)
            if granularity == "layer":
                before, after = [("first_conv", None), ("block", first)], ["final_expand", "pool", "feature_mix",
                                                                             "classifier"]
            else:
                before, after = [("stem", None)], ["head"]
            parts = before + [("block", b) for b in blocks] + [(p, None) for p in after]
            for key, (part, block) in zip(latency_table_keys(shape, config, granularity), parts, strict=True):
                if key not in layers:
                    layers[key] = TableLayer(key, part, key_input_shape(key), *(block or ()))
    return list(layers.values())


