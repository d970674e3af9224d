"""The reference tutorial's pretrained ImageNet accuracy predictor for OFA-MobileNetV3 w1.2.

ofa/tutorial/accuracy_predictor.py: an MLP 128-400-400-400-1 (ReLU) over 128 one-hot features
`[ks one-hot 20x3 | e one-hot 20x3 | r one-hot 8]` (a block beyond its stage's depth is all zeros; the
resolution bin is `(r - 112) // 16`), saved as the plain state dict of an `nn.Sequential` (`0.*`, `2.*`, `4.*`,
`6.*`). It predicts top-1 as a fraction.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from ofa_tf.nas.arch_encoding import ArchEncoder
from ofa_tf.nas.config_batch import ConfigBatch
from ofa_tf.subnet_config import SearchSpace
from ofa_tf.subnet_config import SubnetConfig

NET_ID = "ofa_mbv3_d234_e346_k357_w1.2"
FILE = "acc_predictor.pth"
RESOLUTION_BINS = tuple(range(112, 225, 16))  # r one-hot index (r - 112) // 16, 8 bins
_HIDDEN = 400
_LAYERS = ("0", "2", "4", "6")  # the Linear layers of the nn.Sequential (1, 3, 5 are ReLUs)


class ReferenceAccuracyPredictor:
    """`.predict(configs)` = the reference tutorial's `AccuracyPredictor.predict_accuracy`, as a (N,) array.

    Configs are `SubnetConfig`s, a `ConfigBatch`, or the tutorial's dicts `{ks, e, d, r}` (`r` an int or a
    one-element list). Calling the predictor on a `ConfigBatch` makes it the objective of `evolution_search`
    / `nsga2_search` directly.

    Args:
        state_dict: the `nn.Sequential` state dict (NumPy arrays; keys `0.*`, `2.*`, `4.*`, `6.*`).
        source: how errors name the state dict's file.
    """

    net_id = NET_ID

    def __init__(self, state_dict: dict[str, np.ndarray], source: str = FILE):
        from ofa_tf.zoo import PRESETS

        self.space = SearchSpace(resolutions=PRESETS[NET_ID].resolutions)
        self._encoder = ArchEncoder(SearchSpace(resolutions=RESOLUTION_BINS))
        n_in = self._encoder.n_dim
        shapes = {}
        for i, layer in enumerate(_LAYERS):
            fan_in, fan_out = (n_in if i == 0 else _HIDDEN), (1 if i == len(_LAYERS) - 1 else _HIDDEN)
            shapes[f"{layer}.weight"], shapes[f"{layer}.bias"] = (fan_out, fan_in), (fan_out,)
        unknown = sorted(set(state_dict) - set(shapes))
        missing = sorted(set(shapes) - set(state_dict))
        if unknown or missing:
            raise ValueError(f"{source} is not the tutorial's accuracy predictor: unexpected keys {unknown}, missing "
                             f"keys {missing} (expected {sorted(shapes)}).")
        for key, shape in shapes.items():
            if tuple(np.shape(state_dict[key])) != shape:
                raise ValueError(f"{source}: {key!r} has shape {tuple(np.shape(state_dict[key]))}; the tutorial's "
                                 f"predictor has {shape}.")
        inputs = keras.Input((n_in,), name="features")
        x = inputs
        for i, layer in enumerate(_LAYERS):
            last = i == len(_LAYERS) - 1
            dense = keras.layers.Dense(1 if last else _HIDDEN, activation=None if last else "relu",
                                       name=f"linear_{layer}")
            x = dense(x)
            dense.set_weights([np.asarray(state_dict[f"{layer}.weight"], np.float32).T,
                               np.asarray(state_dict[f"{layer}.bias"], np.float32)])
        self.model = keras.Model(inputs, x, name="reference_accuracy_predictor")

    def features(self, configs) -> np.ndarray:
        """The tutorial's 128-d features (`spec2feats`), one row per config."""
        batch = _batch(configs)
        bad = (batch.r < RESOLUTION_BINS[0]) | (batch.r >= RESOLUTION_BINS[-1] + 16)
        if bad.any():
            raise ValueError(f"Invalid resolution r={int(batch.r[bad][0])}: the reference predictor encodes "
                             f"{RESOLUTION_BINS[0]} <= r < {RESOLUTION_BINS[-1] + 16}, in bins (r - 112) // 16.")
        binned = ConfigBatch(batch.ks, batch.e, batch.d, RESOLUTION_BINS[0] + (batch.r - RESOLUTION_BINS[0]) // 16 * 16)
        encoded = self._encoder.encode(binned)  # [r | ks | e] -> the tutorial's [ks | e | r]
        return np.concatenate([encoded[:, self._encoder.ks_offset :], encoded[:, : self._encoder.ks_offset]], axis=1)

    def predict(self, configs) -> np.ndarray:
        """Predicted top-1 (fraction, float64, shape (N,))."""
        features = self.features(configs)
        return np.asarray(self.model(features, training=False), np.float64).reshape(-1)

    __call__ = predict
    predict_batch = predict


def pretrained_accuracy_predictor(pretrained: bool = False, weights: str | Path | None = None
                                  ) -> ReferenceAccuracyPredictor:
    """The tutorial's ImageNet accuracy predictor for `ofa_mbv3_d234_e346_k357_w1.2`.

    Args:
        pretrained: download `acc_predictor.pth` from the reference's files (once, into `~/.keras/ofa_tf/`).
        weights: a local copy of that file instead.
    """
    import urllib.error

    from ofa_tf.download import cache_dir
    from ofa_tf.download import fetch
    from ofa_tf.download import files_url
    from ofa_tf.torch_checkpoint import read_state_dict

    if pretrained == (weights is not None):
        raise ValueError("Pass exactly one of pretrained=True (download) or weights=PATH (a local acc_predictor.pth).")
    if pretrained:
        try:
            weights = fetch(FILE, cache_dir() / FILE, read_state_dict)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise ConnectionError(
                f"Could not download {FILE} from {files_url()}/{FILE} ({err}). Offline? Download it on a machine "
                f"with internet and pass it: pretrained_accuracy_predictor(weights='/path/to/{FILE}') or "
                f"`--predictor-weights /path/to/{FILE}`."
            ) from err
    return ReferenceAccuracyPredictor(read_state_dict(weights), source=str(weights))


def _batch(configs) -> ConfigBatch:
    if isinstance(configs, ConfigBatch):
        return configs
    if isinstance(configs, (SubnetConfig, dict)):
        configs = [configs]
    if not isinstance(configs, Sequence):
        raise ValueError(f"Expected configs as a list of dicts/SubnetConfigs or a ConfigBatch; received "
                         f"{type(configs).__name__}.")
    configs = [SubnetConfig.from_dict(c) if isinstance(c, dict) else c for c in configs]
    missing = [i for i, c in enumerate(configs) if c.r is None]
    if missing:
        raise ValueError(f"Config {missing[0]} has no resolution 'r'; the reference predictor needs one.")
    return ConfigBatch.from_configs(configs)
