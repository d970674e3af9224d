"""Feature vectors of MBConv subnets: one-hot per block as the reference's `MobileNetArchEncoder`
(`ofa/nas/accuracy_predictor/arch_encoder.py`), or per stage (`StageEncoder`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ofa_tf.families.encoding import choice_indices
from ofa_tf.families.encoding import encoded_resolutions
from ofa_tf.families.encoding import value_index_table
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.config import SubnetConfig


class ArchEncoder:
    """Encodes subnets as `[r one-hot | ks one-hot per block | e one-hot per block]`.

    Blocks beyond the active depth of their stage are all zeros. With the default 5 stages × 4 blocks, 3 kernel
    sizes and 3 expand ratios, n_dim is 121 for resolutions [224] and 124 for [128, 160, 192, 224].

    Args:
        space: the search space (ks/e choices and the number of blocks).
        resolutions: the resolutions to one-hot encode; defaults to `space.resolutions`.

    Example:
    >>> encoder = ArchEncoder(SearchSpace(), resolutions=[128, 160, 192, 224])
    >>> encoder.encode([SearchSpace().max_config(r=224)]).shape
    (1, 124)
    """

    def __init__(self, space: SearchSpace, resolutions: Sequence[int] | None = None):
        self.space = space
        self.resolutions = encoded_resolutions(space, resolutions)
        n_blocks = space.n_blocks
        self.r_offset = 0
        self.ks_offset = len(self.resolutions)
        self.e_offset = self.ks_offset + n_blocks * len(space.ks_list)
        self.n_dim = self.e_offset + n_blocks * len(space.expand_list)
        self._r_lookup = value_index_table(self.resolutions)
        self._ks_lookup = value_index_table(space.ks_list)
        self._e_lookup = value_index_table(space.expand_list)

    def choice_indices(self, batch: ConfigBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of each config's r, ks and e among the allowed values; raises naming a value outside the space."""
        space = self.space
        if batch.stage_depths != space.stage_depths:
            raise ValueError(
                f"Configs have {batch.ks.shape[1]} blocks in {batch.n_stages} stages; this encoder expects "
                f"{space.n_blocks} blocks in {space.n_stages} stages."
            )
        r_idx = choice_indices("r", batch.r, self._r_lookup, self.resolutions)
        ks_idx = choice_indices("ks", batch.ks, self._ks_lookup, space.ks_list)
        e_idx = choice_indices("e", batch.e, self._e_lookup, space.expand_list)
        for s in range(space.n_stages):
            choice_indices("d", batch.d[:, s], value_index_table(space.depth_choices(s)), space.depth_choices(s))
        return r_idx, ks_idx, e_idx

    def encode(self, configs: ConfigBatch | Sequence[SubnetConfig] | SubnetConfig) -> np.ndarray:
        """Float32 matrix (N, n_dim), one row per config."""
        batch = ConfigBatch.coerce(configs)
        space = self.space
        r_idx, ks_idx, e_idx = self.choice_indices(batch)
        n = len(batch)
        rows = np.arange(n)
        features = np.zeros((n, self.n_dim), dtype=np.float32)
        features[rows, self.r_offset + r_idx] = 1.0
        active = batch.active_mask()
        row, block = np.nonzero(active)
        features[row, self.ks_offset + block * len(space.ks_list) + ks_idx[row, block]] = 1.0
        features[row, self.e_offset + block * len(space.expand_list) + e_idx[row, block]] = 1.0
        return features

    def decode_batch(self, features: np.ndarray) -> ConfigBatch:
        """Inverse of `encode`; inactive blocks get the smallest ks and e of the space."""
        features = np.asarray(features)
        if features.ndim == 1:
            features = features[None, :]
        if features.ndim != 2 or features.shape[1] != self.n_dim:
            raise ValueError(f"Expected features of shape (N, {self.n_dim}); received {features.shape}.")
        space = self.space
        hot = features > 0.5
        r_part = hot[:, : self.ks_offset]
        ks_part = hot[:, self.ks_offset : self.e_offset].reshape(len(hot), space.n_blocks, len(space.ks_list))
        e_part = hot[:, self.e_offset :].reshape(len(hot), space.n_blocks, len(space.expand_list))
        bad = np.flatnonzero(r_part.sum(axis=1) != 1)
        if bad.size:
            raise ValueError(f"Row {int(bad[0])} does not have exactly one resolution bit set.")
        active = ks_part.any(axis=2)
        one_hot = ks_part.sum(axis=2).max() <= 1 and e_part.sum(axis=2).max() <= 1
        if not one_hot or not np.array_equal(active, e_part.any(axis=2)):
            raise ValueError("Every block must have either no bits or exactly one ks bit and one e bit set.")
        depths = space.stage_depths
        d = np.stack([active[:, a : a + n].sum(axis=1) for a, n in zip(space.stage_starts, depths)], axis=1)
        position = np.concatenate([np.arange(n) for n in depths])
        if not np.array_equal(active, position[None, :] < np.repeat(d, depths, axis=1)):
            raise ValueError("Active blocks must form a prefix of each stage (blocks beyond the depth are zeros).")
        bad_d = ~np.stack([np.isin(d[:, s], space.depth_choices(s)) for s in range(space.n_stages)], axis=1)
        if bad_d.any():
            row, stage = np.argwhere(bad_d)[0]
            raise ValueError(
                f"Row {row} decodes to depth {d[row, stage]} in stage {stage}; "
                f"allowed depths are {list(space.depth_choices(stage))}."
            )
        ks = np.where(active, np.asarray(space.ks_list)[ks_part.argmax(axis=2)], min(space.ks_list))
        e = np.where(active, np.asarray(space.expand_list)[e_part.argmax(axis=2)], min(space.expand_list))
        r = np.asarray(self.resolutions)[r_part.argmax(axis=1)]
        return ConfigBatch(ks, e, d, r)

    def decode(self, features: np.ndarray) -> list[SubnetConfig]:
        return self.decode_batch(features).to_configs()


class StageEncoder:
    """Encodes subnets as `[r one-hot | per stage: depth, mean kernel size, mean expand ratio]`, each of the last
    three divided by the largest allowed (means over the stage's active blocks).

    The one-hot block layout of `ArchEncoder` (124 features for the default space) needs thousands of subnets (the
    reference fits 16,000); fitted to a few dozen it learns the evaluation noise of single blocks. These
    3 * n_stages + n_resolutions features (18 for the tiny preset) keep what separates subnets at that size:
    resolution, depth and width. On `ofa-tf demo`'s accuracy datasets they beat the mean predictor and
    `ArchEncoder`'s did not (measured in docs/demo.md, "Settings and why").

    Args:
        space: the search space (ks/e choices, stages and depths).
        resolutions: the resolutions to one-hot encode; defaults to `space.resolutions`.
    """

    def __init__(self, space: SearchSpace, resolutions: Sequence[int] | None = None):
        self.space = space
        self.resolutions = encoded_resolutions(space, resolutions)
        self.n_dim = len(self.resolutions) + 3 * space.n_stages
        self._one_hot = ArchEncoder(space, self.resolutions)  # checks configs against the space

    def encode(self, configs: ConfigBatch | Sequence[SubnetConfig] | SubnetConfig) -> np.ndarray:
        """Float32 matrix (N, n_dim), one row per config."""
        batch = ConfigBatch.coerce(configs)
        r_idx = self._one_hot.choice_indices(batch)[0]
        space = self.space
        active = batch.active_mask()
        columns = [np.eye(len(self.resolutions))[r_idx]]
        for s, (start, n) in enumerate(zip(space.stage_starts, space.stage_depths)):
            mask = active[:, start : start + n]
            count = mask.sum(axis=1)
            columns += [
                batch.d[:, s, None] / n,
                ((batch.ks[:, start : start + n] * mask).sum(axis=1) / count / max(space.ks_list))[:, None],
                ((batch.e[:, start : start + n] * mask).sum(axis=1) / count / max(space.expand_list))[:, None],
            ]
        return np.concatenate(columns, axis=1).astype(np.float32)
