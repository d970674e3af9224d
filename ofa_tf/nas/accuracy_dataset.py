"""Accuracy datasets for the predictor: sampled subnets and their measured top-1, cached as JSON lines."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.families.config import config_key
from ofa_tf.progress import progress_bar
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig

_MAX_SAMPLING_ROUNDS = 100


@dataclasses.dataclass(frozen=True, eq=False)
class AccuracyDataset:
    """Subnets (`SubnetConfig`s or `ResNetConfig`s) with their top-1 accuracy on a 0..1 scale."""

    configs: tuple[SubnetConfig | ResNetConfig, ...]
    accuracies: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "configs", tuple(self.configs))
        accuracies = np.asarray(self.accuracies, dtype=np.float64).reshape(-1)
        if len(accuracies) != len(self.configs):
            raise ValueError(f"Received {len(self.configs)} configs but {len(accuracies)} accuracies.")
        _check_accuracies(accuracies)
        object.__setattr__(self, "accuracies", accuracies)

    def __len__(self) -> int:
        return len(self.configs)

    @classmethod
    def load(cls, path: str | Path) -> AccuracyDataset:
        """Reads a cache file written by `build_accuracy_dataset` (a truncated last line is ignored)."""
        entries = _read_cache(Path(path))
        return cls(tuple(c for c, _ in entries.values()), np.array([a for _, a in entries.values()]))

    def split(
        self, val_fraction: float = 0.2, seed: int | np.random.Generator = 0
    ) -> tuple[AccuracyDataset, AccuracyDataset]:
        """Shuffled (train, validation) split."""
        if not 0 < val_fraction < 1:
            raise ValueError(f"`val_fraction` must be in (0, 1); received {val_fraction}.")
        n_val = int(round(len(self) * val_fraction))
        if n_val < 1 or n_val >= len(self):
            raise ValueError(f"A {val_fraction} split of {len(self)} samples leaves an empty side; use more samples.")
        order = np.random.default_rng(seed).permutation(len(self))
        return self._take(order[n_val:]), self._take(order[:n_val])

    def folds(self, k: int, seed: int | np.random.Generator = 0) -> list[tuple[AccuracyDataset, AccuracyDataset]]:
        """`k` shuffled (train, validation) splits whose validation parts cover every sample exactly once."""
        if not 2 <= k <= len(self):
            raise ValueError(f"`k` must be in [2, {len(self)}] (the number of samples); received k={k}.")
        order = np.random.default_rng(seed).permutation(len(self))
        parts = np.array_split(order, k)
        rest = [np.concatenate(parts[:i] + parts[i + 1 :]) for i in range(k)]
        return [(self._take(train), self._take(val)) for train, val in zip(rest, parts)]

    def _take(self, indices: np.ndarray) -> AccuracyDataset:
        return AccuracyDataset(tuple(self.configs[i] for i in indices), self.accuracies[indices])


def build_accuracy_dataset(
    evaluate_fn: Callable[[SubnetConfig | ResNetConfig], float],
    space: SearchSpace | ResNetSearchSpace,
    n_subnets: int,
    cache_path: str | Path,
    resolutions: Sequence[int] | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> tuple[list[SubnetConfig], np.ndarray]:
    """Samples `n_subnets` distinct subnets and measures each with `evaluate_fn`, resuming from `cache_path`.

    Every result is appended to the JSON-lines cache as soon as it is measured, so an interrupted build resumes
    where it stopped; configs already in the cache are never evaluated again. The sample is fixed by `seed`.

    Args:
        evaluate_fn: `config -> top-1 accuracy in [0, 1]` (e.g. BN recalibration + validation on the supernet).
        space: the search space to sample from (either family; the cache holds its configs' dicts).
        n_subnets: number of distinct subnets (inactive blocks ignored; resolution included).
        cache_path: the JSON-lines file that is the dataset (one `{"config": ..., "acc": ...}` per line).
        resolutions: resolutions to draw from uniformly; defaults to `space.resolutions`.
        seed: seed of the sample.
        verbose: show a progress bar.

    Returns:
        The sampled configs (with resolution) and their accuracies, in sampling order.
    """
    resolutions = tuple(space.resolutions if resolutions is None else resolutions)
    configs = _sample_distinct(space, n_subnets, resolutions, np.random.default_rng(seed))
    cache_path = Path(cache_path)
    cached = _read_cache(cache_path, space)
    accuracies = np.empty(len(configs))
    todo = []
    for i, config in enumerate(configs):
        key = _key(config, space)
        if key in cached:
            accuracies[i] = cached[key][1]
        else:
            todo.append(i)
    progbar = progress_bar(len(configs), verbose=1 if verbose else 0, unit_name="subnet")
    progbar.update(len(configs) - len(todo))
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    _drop_partial_line(cache_path)
    with cache_path.open("a") as cache:
        for done, i in enumerate(todo, start=len(configs) - len(todo) + 1):
            acc = float(evaluate_fn(configs[i]))
            _check_accuracies(np.array([acc]), f"`evaluate_fn` for {_key(configs[i], space)}")
            cache.write(json.dumps({"config": configs[i].to_dict(), "acc": acc}) + "\n")
            cache.flush()
            accuracies[i] = acc
            progbar.update(done)
    return configs, accuracies


def evaluation_noise(accuracies: Sequence[float], n_images: int) -> float:
    """The sampling noise of a top-1 measured on `n_images` held-out images: the binomial standard error
    sqrt(a (1 - a) / n), root-mean-squared over `accuracies`. Subnets whose accuracies spread by about this much are
    indistinguishable on that evaluation set, so no accuracy predictor can beat predicting their mean there."""
    if n_images < 1:
        raise ValueError(f"`n_images` must be >= 1; received n_images={n_images}.")
    a = np.asarray(accuracies, np.float64)
    _check_accuracies(a)
    return float(np.sqrt(np.mean(a * (1 - a)) / n_images))


def _sample_distinct(
    space: SearchSpace | ResNetSearchSpace, n: int, resolutions: tuple[int, ...], rng: np.random.Generator
) -> list[SubnetConfig | ResNetConfig]:
    if n < 1:
        raise ValueError(f"`n_subnets` must be >= 1; received {n}.")
    available = space.size() * len(resolutions)
    if n > available:
        raise ValueError(f"Cannot sample {n} distinct subnets from a space of {available} (resolutions included).")
    seen: dict[str, SubnetConfig] = {}
    for _ in range(_MAX_SAMPLING_ROUNDS):
        for _ in range(n - len(seen)):
            config = space.sample(rng).with_resolution(int(rng.choice(resolutions)))
            seen.setdefault(_key(config, space), config)
        if len(seen) == n:
            return list(seen.values())
    raise ValueError(
        f"Found only {len(seen)} distinct subnets out of {n} requested after {_MAX_SAMPLING_ROUNDS} rounds of "
        f"sampling from a space of {available}; request fewer subnets."
    )


def _check_accuracies(accuracies: np.ndarray, source: str = "accuracies") -> None:
    bad = ~np.isfinite(accuracies) | (accuracies < 0) | (accuracies > 1)
    if bad.any():
        raise ValueError(f"{source} returned {accuracies[bad][0]}; accuracies must be in [0, 1] (top-1 / 100).")


def _key(config, space=None) -> str:
    """Canonical string of a config (inactive blocks ignored: `space.canonical_key`; for OFA-ResNets that needs the
    space, without one the whole arch dict is the key)."""
    return config_key(config) if space is None else space.canonical_key(config)


def _config_from_dict(config: dict):
    """A cache line's config: OFA-ResNets' `{"d", "e", "w"}` dicts or `{"ks", "e", "d"}` (`registry.config_from_dict`)."""
    from ofa_tf import registry  # the registry knows every family's supernet: TensorFlow, only when reading a cache

    return registry.config_from_dict(config)


def _read_cache(path: Path, space=None) -> dict[str, tuple[SubnetConfig | ResNetConfig, float]]:
    """key -> (config, acc); a last line without newline (interrupted write) is skipped."""
    if not path.exists():
        return {}
    text = path.read_text()
    lines = text.split("\n")
    complete = lines[:-1]  # the text after the last newline is either empty or an interrupted write
    entries = {}
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            config = _config_from_dict(record["config"])
            acc = float(record["acc"])
            key = _key(config, space)
        except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as error:
            raise ValueError(f"Malformed line {number} in accuracy cache {path}: {error}") from error
        if config.r is None or not math.isfinite(acc):
            raise ValueError(f"Line {number} of {path} needs a config with resolution and a finite 'acc'.")
        entries[key] = (config, acc)
    return entries


def _drop_partial_line(path: Path) -> None:
    """Truncates an interrupted last write so that appended lines stay valid JSON lines."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as f:
            f.truncate(end)
