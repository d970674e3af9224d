"""OFA-ResNet configs for the searches: batches of `{"d", "e", "w", "r"}` subnets, exact MACs / params models and
the candidate sampler that `evolution_search` uses for a `ResNetSearchSpace`."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ofa_tf.nas.candidates import CandidateSampler
from ofa_tf.nas.config_batch import NO_RESOLUTION
from ofa_tf.nas.efficiency import EfficiencyModel
from ofa_tf.resnet.space import ResNetConfig
from ofa_tf.resnet.space import ResNetSearchSpace


@dataclasses.dataclass(frozen=True, eq=False)
class ResNetBatch:
    """N OFA-ResNet configs: `d` (N, 5), `e` (N, n_blocks) expand ratios, `w` (N, 6) width indices, `r` (N,)."""

    d: np.ndarray
    e: np.ndarray
    w: np.ndarray
    r: np.ndarray

    @classmethod
    def coerce(cls, configs: ResNetBatch | Sequence[ResNetConfig] | ResNetConfig) -> ResNetBatch:
        if isinstance(configs, ResNetBatch):
            return configs
        configs = [configs] if isinstance(configs, ResNetConfig) else list(configs)
        if not configs:
            raise ValueError("Received an empty list of configs; at least one ResNetConfig is needed.")
        return cls(np.array([c.d for c in configs]), np.array([c.e for c in configs]),
                   np.array([c.w for c in configs]), np.array([NO_RESOLUTION if c.r is None else c.r for c in configs]))

    def to_configs(self) -> list[ResNetConfig]:
        return [ResNetConfig(d, e, w, None if r == NO_RESOLUTION else r)
                for d, e, w, r in zip(self.d.tolist(), self.e.tolist(), self.w.tolist(), self.r.tolist())]

    def __len__(self) -> int:
        return self.d.shape[0]

    def take(self, indices) -> ResNetBatch:
        return ResNetBatch(self.d[indices], self.e[indices], self.w[indices], self.r[indices])

    @staticmethod
    def concat(batches: Sequence[ResNetBatch]) -> ResNetBatch:
        return ResNetBatch(*(np.concatenate([getattr(b, n) for b in batches]) for n in ("d", "e", "w", "r")))

    def active_mask(self, space: ResNetSearchSpace) -> np.ndarray:
        """(N, n_blocks) bool: the blocks each subnet runs (a stage's first base + d blocks)."""
        return np.concatenate([np.arange(n)[None, :] < b + self.d[:, s + 1, None]
                               for s, (b, n) in enumerate(zip(space.base_depths, space.stage_blocks))], axis=1)

    def canonical_codes(self, space: ResNetSearchSpace) -> np.ndarray:
        """Float rows that are equal exactly when two configs are the same subnet (skipped blocks' ratios ignored)."""
        active = self.active_mask(space)
        stem_skip = self.d[:, :1] >= space.max_depth
        return np.concatenate([stem_skip, self.d[:, 1:], np.where(active, self.e, 0), self.w, self.r[:, None]], axis=1)

    def unique_indices(self, space: ResNetSearchSpace) -> np.ndarray:
        """Sorted indices of the first occurrence of each distinct subnet (skipped blocks' ratios ignored)."""
        _, first = np.unique(self.canonical_codes(space), axis=0, return_index=True)
        return np.sort(first)


def _ceil_div(a, b):
    return -(-a // b)


def count_resnet(net, configs) -> dict[str, np.ndarray]:
    """Exact `{"macs", "params"}` (int64, one per config) of OFA-ResNet subnets under the reference's counting
    rules (convs and the classifier; BN gamma/beta are parameters), from the supernet's geometry: equal to
    `ofa_tf.profile`'s `macs_exact` and `params` of the materialized subnet."""
    batch = ResNetBatch.coerce(configs)
    if np.any(batch.r == NO_RESOLUTION):
        raise ValueError("MACs need a resolution: every config needs `r`.")
    n = len(batch)
    macs = np.zeros(n, np.int64)
    params = np.zeros(n, np.int64)

    def conv(k, c_in, c_out, size, on=True):
        macs[:] += np.where(on, k * k * c_in * c_out * size * size, 0)
        params[:] += np.where(on, k * k * c_in * c_out + 2 * c_out, 0)

    mid = np.asarray(net.stem_mid_widths)[batch.w[:, 0]]
    stem = np.asarray(net.stem_widths)[batch.w[:, 1]]
    size = _ceil_div(batch.r, 2)
    conv(3, 3, mid, size)
    conv(3, mid, mid, size, batch.d[:, 0] >= net.search_space.max_depth)
    conv(3, mid, stem, size)
    size = _ceil_div(size, 2)  # max pool
    channels = stem
    expand = np.asarray(net.search_space.expand_list)
    for s, stage_blocks in enumerate(net.block_group_info):
        base = net.search_space.base_depths[s]
        for j, b in enumerate(stage_blocks):
            block = net.blocks[b]
            on = j < base + batch.d[:, s + 1]
            out = np.asarray(block.out_channels)[batch.w[:, s + 2]]
            e_index = np.argmax(batch.e[:, b, None] == expand[None, :], axis=1)
            middle = np.asarray(block.mid_table)[batch.w[:, s + 2], e_index]
            out_size = _ceil_div(size, block.strides)
            conv(1, channels, middle, size, on)
            conv(block.kernel_size, middle, middle, out_size, on)
            conv(1, middle, out, out_size, on)
            if block.has_downsample:
                conv(1, channels, out, out_size, on)
            channels = np.where(on, out, channels)
            size = np.where(on, out_size, size)
    macs += channels * net.n_classes
    params += channels * net.n_classes + net.n_classes
    return {"macs": macs, "params": params}


class _ResNetModel(EfficiencyModel):
    key: str

    def __init__(self, net, millions: bool = True):
        self.net = net
        self.scale = 1e6 if millions else 1.0
        self.unit = "M" if millions else self.unit

    def predict(self, configs) -> np.ndarray:
        return self.predict_batch(ResNetBatch.coerce(configs))

    def predict_batch(self, batch: ResNetBatch) -> np.ndarray:
        return count_resnet(self.net, batch)[self.key] / self.scale


class ResNetMacsModel(_ResNetModel):
    """Exact multiply-accumulates of an OFA-ResNet subnet (millions by default)."""

    name, unit, key = "macs", "MACs", "macs"


class ResNetParamsModel(_ResNetModel):
    """Exact parameters of an OFA-ResNet subnet (millions by default)."""

    name, unit, key = "params", "params", "params"


def candidate_sampler(space, *args) -> CandidateSampler:
    """The sampler of the searches for `space`: `ResNetCandidateSampler` for a `ResNetSearchSpace`, else
    `CandidateSampler` (arguments as `CandidateSampler`'s)."""
    return (ResNetCandidateSampler if isinstance(space, ResNetSearchSpace) else CandidateSampler)(space, *args)


class ResNetCandidateSampler(CandidateSampler):
    """`CandidateSampler` over a `ResNetSearchSpace`: random subnets as the reference samples them, mutation
    resamples each expand ratio, width index and stage depth with `arch_mutate_prob` (the stem skip too), and
    crossover takes every entry from one of two parents."""

    def _draw(self, n: int) -> ResNetBatch:
        rng, space = self.rng, self.space
        lengths = space.lengths
        stem = rng.choice([space.max_depth, min(space.depth_list)], size=(n, 1))
        return ResNetBatch(
            np.concatenate([stem, rng.choice(space.depth_list, size=(n, space.n_stages))], axis=1),
            rng.choice(space.expand_list, size=(n, lengths["e"])),
            rng.choice(space.width_list, size=(n, lengths["w"])),
            rng.choice(space.resolutions, size=n),
        )

    def codes(self, batch: ResNetBatch) -> np.ndarray:
        return batch.canonical_codes(self.space)

    def _mutants(self, base: ResNetBatch) -> ResNetBatch:
        rng, p = self.rng, self.arch_mutate_prob
        fresh = self._draw(len(base))
        pick = {k: rng.random(getattr(base, k).shape) < p for k in ("d", "e", "w")}
        pick["r"] = rng.random(len(base)) < self.resolution_mutate_prob
        return ResNetBatch(*(np.where(pick[k], getattr(fresh, k), getattr(base, k)) for k in ("d", "e", "w", "r")))

    def _crossed(self, a: ResNetBatch, b: ResNetBatch) -> ResNetBatch:
        return ResNetBatch(*(np.where(self.rng.random(getattr(a, k).shape) < 0.5, getattr(a, k), getattr(b, k))
                             for k in ("d", "e", "w", "r")))
