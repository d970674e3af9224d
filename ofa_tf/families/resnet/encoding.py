"""Feature vectors of OFA-ResNet subnets, as the reference's `ResNetArchEncoder`
(`ofa/nas/accuracy_predictor/arch_encoder.py`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ofa_tf.families.encoding import choice_indices
from ofa_tf.families.encoding import encoded_resolutions
from ofa_tf.families.encoding import value_index_table
from ofa_tf.families.resnet.config import ResNetBatch
from ofa_tf.families.resnet.config import ResNetConfig


class ResNetArchEncoder:
    """Encodes OFA-ResNet subnets as `[r | stem residual | w per stem conv and stage | e per block]`, one-hot.

    The stem part has two bits: skipped (d[0] below the largest depth) or run, as the supernet decides it (the
    reference encodes `d[0] > 0`, which is the same for the stem depths it samples: the smallest and the largest).
    Width parts one-hot the supernet's width indices (`n_widths`, whatever `width_list` a phase allows); blocks a
    stage's depth skips are all zeros. For ofa_resnet50 (18 blocks) n_dim is 75 with resolutions [224].

    Args:
        space: the OFA-ResNet search space.
        resolutions: the resolutions to one-hot encode; defaults to `space.resolutions`.
    """

    def __init__(self, space: ResNetSearchSpace, resolutions: Sequence[int] | None = None):
        self.space = space
        self.resolutions = encoded_resolutions(space, resolutions)
        lengths = space.lengths
        self.stem_offset = len(self.resolutions)
        self.w_offset = self.stem_offset + 2
        self.e_offset = self.w_offset + lengths["w"] * space.n_widths
        self.n_dim = self.e_offset + lengths["e"] * len(space.expand_list)
        self._r_lookup = value_index_table(self.resolutions)
        self._w_lookup = value_index_table(range(space.n_widths))

    def encode(self, configs: ResNetBatch | Sequence[ResNetConfig] | ResNetConfig) -> np.ndarray:
        """Float32 matrix (N, n_dim), one row per config."""
        batch = ResNetBatch.coerce(configs)
        space = self.space
        lengths = space.lengths
        for name in ("d", "e", "w"):
            if getattr(batch, name).shape[1] != lengths[name]:
                raise ValueError(f"Configs have {getattr(batch, name).shape[1]} `{name}` entries; this encoder "
                                 f"expects {lengths[name]} (the search space's).")
        r_idx = choice_indices("r", batch.r, self._r_lookup, self.resolutions)
        w_idx = choice_indices("w", batch.w, self._w_lookup, range(space.n_widths))
        choice_indices("d", batch.d, value_index_table(space.depth_list), space.depth_list)
        expands = np.asarray(space.expand_list)
        e_idx = np.abs(batch.e[:, :, None] - expands[None, None, :]).argmin(axis=2)
        bad = ~np.isclose(expands[e_idx], batch.e)
        if bad.any():
            raise ValueError(f"Invalid value for `e`: expected one of {list(space.expand_list)}. "
                             f"Received e={float(batch.e[bad][0])}.")
        n = len(batch)
        rows = np.arange(n)
        features = np.zeros((n, self.n_dim), dtype=np.float32)
        features[rows, r_idx] = 1.0
        features[rows, self.stem_offset + (batch.d[:, 0] >= space.max_depth)] = 1.0
        n_w = space.n_widths
        features[rows[:, None], self.w_offset + np.arange(lengths["w"])[None, :] * n_w + w_idx] = 1.0
        row, block = np.nonzero(batch.active_mask(space))
        features[row, self.e_offset + block * len(expands) + e_idx[row, block]] = 1.0
        return features
