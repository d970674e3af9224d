"""Efficiency predictors measured on the host: measured latency and latency fitted to MACs, vectorised over configs.

Exact MACs and params are the families' (`ofa_tf/families/<family>/efficiency.py`); latency lookup tables live in
`ofa_tf.latency`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence

import numpy as np

from ofa_tf.efficiency import EfficiencyModel
from ofa_tf.families.config import config_key
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mbconv.efficiency import MacsModel
from ofa_tf.families.mbconv.shape import NetworkShape


class MeasuredLatencyModel(EfficiencyModel):
    """Wraps a measurement `config -> ms` and caches it per distinct subnet (inactive blocks ignored).

    Args:
        measure_fn: returns the latency of one config (e.g. a timed forward pass on this host).
        name: reported name.
        unit: unit of `measure_fn`'s values.
    """

    def __init__(self, measure_fn: Callable[[SubnetConfig], float], name: str = "host_latency", unit: str = "ms"):
        self.measure_fn = measure_fn
        self.name = name
        self.unit = unit
        self.cache: dict[str, float] = {}

    def predict_batch(self, batch: ConfigBatch) -> np.ndarray:
        out = np.empty(len(batch), dtype=np.float64)
        for i, config in enumerate(batch.to_configs()):
            key = config_key(config)
            if key not in self.cache:
                value = float(self.measure_fn(config))
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"`measure_fn` returned {value} for {key}; expected a finite value >= 0.")
                self.cache[key] = value
            out[i] = self.cache[key]
        return out


class MacsLatencyModel(EfficiencyModel):
    """Latency as a line in MACs, `intercept_ms + ms_per_mmac * MACs(M)`, fitted to measurements.

    A fallback where no lookup table exists: it ranks subnets exactly as MACs do and maps them to milliseconds
    with a least-squares fit to a few measured subnets (see `fit`). The intercept is >= 0 and the slope > 0, so a
    prediction is never negative and grows with MACs.

    Args:
        shape: block structure of the network, or the exact MACs model (in millions) of another supernet family
            (e.g. `ResNetMacsModel`).
        intercept_ms: latency of a network with no MACs (fixed overhead), >= 0.
        ms_per_mmac: milliseconds per million MACs, > 0.
        name: reported name.
    """

    unit = "ms"

    def __init__(self, shape: NetworkShape | EfficiencyModel, intercept_ms: float, ms_per_mmac: float,
                 name: str = "latency"):
        if not (math.isfinite(intercept_ms) and math.isfinite(ms_per_mmac)) or ms_per_mmac <= 0 or intercept_ms < 0:
            raise ValueError(
                f"Invalid linear latency model: expected finite values, intercept_ms >= 0 and ms_per_mmac > 0; "
                f"received intercept_ms={intercept_ms}, ms_per_mmac={ms_per_mmac}."
            )
        self.shape = shape
        self.macs = shape if isinstance(shape, EfficiencyModel) else MacsModel(shape)
        if self.macs.unit != "M":
            raise ValueError(f"MacsLatencyModel needs MACs in millions; received a model in {self.macs.unit}.")
        self.intercept_ms = float(intercept_ms)
        self.ms_per_mmac = float(ms_per_mmac)
        self.name = name

    @classmethod
    def fit(
        cls, shape: NetworkShape | EfficiencyModel, configs, latencies_ms: Sequence[float], name: str = "latency"
    ) -> MacsLatencyModel:
        """Least-squares fit of `latencies_ms` against the configs' MACs with intercept >= 0 and slope > 0 (a
        negative intercept or slope from noise falls back to the line through the origin; needs two distinct MACs
        values)."""
        macs = (shape if isinstance(shape, EfficiencyModel) else MacsModel(shape)).predict(configs)
        latencies = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
        if latencies.shape != macs.shape:
            raise ValueError(f"Received {len(macs)} configs but {len(latencies)} latencies.")
        if np.any(~np.isfinite(latencies)) or np.any(latencies <= 0):
            raise ValueError(f"Latencies must be finite and positive; received {latencies.tolist()}.")
        if len(np.unique(macs)) < 2:
            raise ValueError("Fitting latency against MACs needs configs with at least two distinct MACs values.")
        slope, intercept = np.polyfit(macs, latencies, 1)
        if slope <= 0 or intercept < 0:  # constrained optimum on the boundary intercept = 0
            slope, intercept = float(macs @ latencies / (macs @ macs)), 0.0
        return cls(shape, float(intercept), float(slope), name)

    def predict(self, configs) -> np.ndarray:
        return self.intercept_ms + self.ms_per_mmac * self.macs.predict(configs)

    def predict_batch(self, batch) -> np.ndarray:
        return self.intercept_ms + self.ms_per_mmac * self.macs.predict_batch(batch)
