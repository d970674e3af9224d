"""The interface of every efficiency model (MACs, params, latency): a cost per subnet, vectorised over a batch of
configs of any family (`ofa_tf/families/`)."""
from __future__ import annotations

import abc

import numpy as np


class EfficiencyModel(abc.ABC):
    """A cost of a subnet (lower is better), predicted for many configs at once.

    Subclasses set `name` and `unit` and implement `predict_batch`.

    Example:
    >>> class BlockCount(EfficiencyModel):
    ...     name, unit = "blocks", "blocks"
    ...     def predict_batch(self, batch):
    ...         return batch.d.sum(axis=1).astype(np.float64)
    """

    name: str
    unit: str

    def predict(self, configs) -> np.ndarray:
        """Float64 array (N,), one value per config (a batch, a config, or a list of configs)."""
        return self.predict_batch(as_batch(configs))

    @abc.abstractmethod
    def predict_batch(self, batch) -> np.ndarray:
        """Float64 array (N,) for a batch of configs (`ConfigBatch`, `ResNetBatch`)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, unit={self.unit!r})"


def as_batch(configs):
    """`configs` as a batch of their family (`type(config).batch_type`): a batch as it is, a config or a list."""
    if hasattr(configs, "take"):
        return configs
    items = [configs] if hasattr(configs, "to_dict") else list(configs)
    if not items:
        raise ValueError("Received an empty list of configs; at least one config is needed.")
    return type(items[0]).batch_type.coerce(items)
