"""The reference's pretrained ImageNet accuracy predictors, for zero-training specialization of its supernets.

- `acc_predictor.pth` (ofa_mbv3_d234_e346_k357_w1.2; `ofa/tutorial/accuracy_predictor.py`): an MLP 128-400-400-400-1
  (ReLU) over 128 one-hot features `[ks one-hot 20x3 | e one-hot 20x3 | r one-hot 8]` (a block beyond its stage's
  depth is all zeros; the resolution bin is `(r - 112) // 16`), saved as the plain state dict of an `nn.Sequential`
  (`0.*`, `2.*`, `4.*`, `6.*`).
- `ofa_resnet50_acc_predictor.pth` (ofa_resnet50; `tutorial/ofa_resnet50_example.ipynb`): the reference's
  `AccuracyPredictor(ResNetArchEncoder(image_size_list=[128, 144, 160, 176, 192, 224, 240, 256], ...), 400, 3)`
  (`ofa/nas/accuracy_predictor/`): 82 one-hot features `[r 8 | stem skip 2 | width 6x3 | e 18x3]`, three
  Linear(400) + ReLU, a Linear(400, 1) without bias, plus `base_acc` (keys `layers.0.0.*`, `layers.1.0.*`,
  `layers.2.0.*`, `layers.3.weight`, `base_acc`).

Both predict top-1 as a fraction. The forward pass runs in NumPy float32, as the reference's float32 PyTorch: a
search calls it once per generation, where a Keras call costs milliseconds.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ofa_tf.families.mbconv.encoding import ArchEncoder
from ofa_tf.families.resnet.encoding import ResNetArchEncoder
from ofa_tf.families.mbconv.config import reference_predictor_batch as mbconv_predictor_batch
from ofa_tf.families.resnet.config import reference_predictor_batch as resnet_predictor_batch
from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.families.mbconv.space import SearchSpace

NET_ID = "ofa_mbv3_d234_e346_k357_w1.2"
FILE = "acc_predictor.pth"
RESOLUTION_BINS = tuple(range(112, 225, 16))  # r one-hot index (r - 112) // 16, 8 bins
RESNET_NET_ID = "ofa_resnet50"
RESNET_FILE = "ofa_resnet50_acc_predictor.pth"
RESNET_IMAGE_SIZES = (128, 144, 160, 176, 192, 224, 240, 256)  # the notebook's image_size_list
_HIDDEN = 400


class _MLP:
    """A PyTorch MLP's Linear layers (ReLU between them) and optional `base_acc`, checked key by key."""

    def __init__(self, state_dict: dict[str, np.ndarray], layers: Sequence[tuple[str, int, int, bool]],
                 base_key: str | None, source: str, what: str):
        shapes = {}
        for name, fan_in, fan_out, bias in layers:
            shapes[f"{name}.weight"] = (fan_out, fan_in)
            if bias:
                shapes[f"{name}.bias"] = (fan_out,)
        if base_key:
            shapes[base_key] = (1,)
        unknown = sorted(set(state_dict) - set(shapes))
        missing = sorted(set(shapes) - set(state_dict))
        if unknown or missing:
            raise ValueError(f"{source} is not {what}: unexpected keys {unknown}, missing keys {missing} (expected "
                             f"{sorted(shapes)}).")
        for key, shape in shapes.items():
            if tuple(np.shape(state_dict[key])) != shape:
                raise ValueError(f"{source}: {key!r} has shape {tuple(np.shape(state_dict[key]))}; {what} has "
                                 f"{shape}.")
        self.layers = [(np.ascontiguousarray(np.asarray(state_dict[f"{name}.weight"], np.float32).T),
                        np.asarray(state_dict[f"{name}.bias"], np.float32) if bias else None)
                       for name, _, _, bias in layers]
        self.base = np.asarray(state_dict[base_key], np.float32).reshape(()) if base_key else None

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, np.float32)
        for i, (kernel, bias) in enumerate(self.layers):
            x = x @ kernel
            if bias is not None:
                x = x + bias
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0)
        x = x.reshape(-1)
        if self.base is not None:
            x = x + self.base
        return x.astype(np.float64)


class ReferenceAccuracyPredictor:
    """`.predict(configs)` = the reference tutorial's `AccuracyPredictor.predict_accuracy`, as a (N,) array.

    Configs are `SubnetConfig`s, a `ConfigBatch`, or the tutorial's dicts `{ks, e, d, r}` (`r` an int or a
    one-element list). Calling the predictor on a `ConfigBatch` makes it the objective of `evolution_search`
    / `nsga2_search` directly; its `resolutions` (the bins 112, 128, ..., 224) limit the resolutions a search draws.

    Args:
        state_dict: the `nn.Sequential` state dict (NumPy arrays; keys `0.*`, `2.*`, `4.*`, `6.*`).
        source: how errors name the state dict's file.
    """

    net_id = NET_ID
    resolutions = RESOLUTION_BINS
    """The resolutions it encodes exactly: any other r falls into the bin below it."""

    def __init__(self, state_dict: dict[str, np.ndarray], source: str = FILE):
        from ofa_tf.zoo import PRESETS

        self.space = SearchSpace(resolutions=PRESETS[NET_ID].resolutions)
        self._encoder = ArchEncoder(SearchSpace(resolutions=RESOLUTION_BINS))  # its checks name a bad value
        self._choices = [_table(v) for v in (self.space.ks_list, self.space.expand_list, self.space.depth_list)]
        n_in = self._encoder.n_dim
        layout = [("0", n_in, _HIDDEN, True), ("2", _HIDDEN, _HIDDEN, True), ("4", _HIDDEN, _HIDDEN, True),
                  ("6", _HIDDEN, 1, True)]
        self._mlp = _MLP(state_dict, layout, None, source, "the tutorial's accuracy predictor")

    def features(self, configs) -> np.ndarray:
        """The tutorial's 128-d features (`spec2feats`): `[ks one-hot 20x3 | e one-hot 20x3 | r one-hot 8]`."""
        batch = mbconv_predictor_batch(configs)
        bad = (batch.r < RESOLUTION_BINS[0]) | (batch.r >= RESOLUTION_BINS[-1] + 16)
        if bad.any():
            raise ValueError(f"Invalid resolution r={int(batch.r[bad][0])}: the reference predictor encodes "
                             f"{RESOLUTION_BINS[0]} <= r < {RESOLUTION_BINS[-1] + 16}, in bins (r - 112) // 16.")
        ks, e, d = (_choice(table, values) for table, values in zip(self._choices, (batch.ks, batch.e, batch.d)))
        if batch.ks.shape[1] != 20 or batch.d.shape[1] != 5 or (ks < 0).any() or (e < 0).any() or (d < 0).any():
            self._encoder.choice_indices(batch.unchecked(batch.ks, batch.e, batch.d, np.full(len(batch), 224)))
        features = np.zeros((len(batch), self._encoder.n_dim), dtype=np.float32)
        rows, blocks = np.nonzero(batch.active_mask())
        features[rows, 3 * blocks + ks[rows, blocks]] = 1.0
        features[rows, 60 + 3 * blocks + e[rows, blocks]] = 1.0
        features[np.arange(len(batch)), 120 + (batch.r - RESOLUTION_BINS[0]) // 16] = 1.0
        return features

    def predict(self, configs) -> np.ndarray:
        """Predicted top-1 (fraction, float64, shape (N,))."""
        return self._mlp(self.features(configs))

    __call__ = predict
    predict_batch = predict


class ReferenceResNetAccuracyPredictor:
    """`.predict(configs)` = the reference's OFA-ResNet50 `AccuracyPredictor.predict_acc` (the notebook's), as a (N,)
    array.

    Configs are `ResNetConfig`s, a `ResNetBatch`, or the notebook's dicts `{d, e, w, image_size}` (or `r`). The
    predictor encodes image sizes 128, 144, 160, 176, 192, 224, 240, 256 (`resolutions`); a search over the
    `ofa_resnet50` space (128-224) draws those of them it holds.

    Args:
        state_dict: the `AccuracyPredictor` state dict (NumPy arrays).
        source: how errors name the state dict's file.
    """

    net_id = RESNET_NET_ID
    resolutions = RESNET_IMAGE_SIZES

    def __init__(self, state_dict: dict[str, np.ndarray], source: str = RESNET_FILE):
        from ofa_tf.zoo import PRESETS

        preset = PRESETS[RESNET_NET_ID]
        self.space = ResNetSearchSpace(preset.depth_list, preset.expand_list, len(preset.width_mult_list),
                                       resolutions=preset.resolutions)
        self._encoder = ResNetArchEncoder(self.space, RESNET_IMAGE_SIZES)
        n_in = self._encoder.n_dim
        layout = [("layers.0.0", n_in, _HIDDEN, True), ("layers.1.0", _HIDDEN, _HIDDEN, True),
                  ("layers.2.0", _HIDDEN, _HIDDEN, True), ("layers.3", _HIDDEN, 1, False)]
        self._mlp = _MLP(state_dict, layout, "base_acc", source, "the OFA-ResNet50 accuracy predictor")

    def features(self, configs) -> np.ndarray:
        """The reference's 82 `ResNetArchEncoder.arch2feature` features, one row per config."""
        return self._encoder.encode(resnet_predictor_batch(configs))

    def predict(self, configs) -> np.ndarray:
        """Predicted top-1 (fraction, float64, shape (N,))."""
        return self._mlp(self.features(configs))

    __call__ = predict
    predict_batch = predict


_PREDICTORS = {NET_ID: (ReferenceAccuracyPredictor, FILE),
               RESNET_NET_ID: (ReferenceResNetAccuracyPredictor, RESNET_FILE)}
PRETRAINED_PREDICTORS = {net_id: file for net_id, (_, file) in _PREDICTORS.items()}
"""net id -> the reference's file of its pretrained accuracy predictor."""


def pretrained_accuracy_predictor(pretrained: bool = False, weights: str | Path | None = None, net_id: str = NET_ID
                                  ) -> ReferenceAccuracyPredictor | ReferenceResNetAccuracyPredictor:
    """The reference's ImageNet accuracy predictor of `net_id`: the tutorial's for `ofa_mbv3_d234_e346_k357_w1.2`
    (`acc_predictor.pth`), or the OFA-ResNet50 notebook's for `ofa_resnet50` (`ofa_resnet50_acc_predictor.pth`).

    Args:
        pretrained: download the file from the reference's files (once, into `~/.keras/ofa_tf/`).
        weights: a local copy of that file instead.
        net_id: the supernet whose subnets it predicts.
    """
    import urllib.error

    from ofa_tf.download import cache_dir
    from ofa_tf.download import fetch
    from ofa_tf.download import files_url
    from ofa_tf.torch_checkpoint import read_state_dict

    if net_id not in _PREDICTORS:
        raise ValueError(f"No pretrained accuracy predictor for net_id={net_id!r}: the reference released "
                         f"predictors for {', '.join(_PREDICTORS)}.")
    kind, file = _PREDICTORS[net_id]
    if pretrained == (weights is not None):
        raise ValueError(f"Pass exactly one of pretrained=True (download) or weights=PATH (a local {file}).")
    if pretrained:
        try:
            weights = fetch(file, cache_dir() / file, read_state_dict)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise ConnectionError(
                f"Could not download {file} from {files_url()}/{file} ({err}). Offline? Download it on a machine "
                f"with internet and pass it: pretrained_accuracy_predictor(weights='/path/to/{file}') or "
                f"`--predictor-weights /path/to/{file}`."
            ) from err
    return kind(read_state_dict(weights), source=str(weights))


def _table(choices) -> np.ndarray:
    """Dense value -> index of `choices` (-1 elsewhere)."""
    table = np.full(max(choices) + 2, -1, dtype=np.int64)
    table[list(choices)] = np.arange(len(choices))
    return table


def _choice(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    return table[np.clip(values, 0, len(table) - 1)]
