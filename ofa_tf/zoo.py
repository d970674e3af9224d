"""Named supernets (`ofa_net`) and their official weights."""
from __future__ import annotations

import logging
import urllib.error
from pathlib import Path

import keras

from ofa_tf import registry
from ofa_tf.download import cache_dir
from ofa_tf.download import fetch_url
from ofa_tf.download import resolve_url

logger = logging.getLogger(__name__)

PRESETS = registry.PRESETS
"""Every family's named supernets (`ofa_tf/families/<family>/presets.py`) by net id."""


def net_ids() -> list[str]:
    return registry.net_ids()


def ofa_net(
    net_id: str,
    pretrained: bool = False,
    weights: str | Path | None = None,
    n_classes: int = 1000,
    dropout_rate: float = 0.1,
    new_classifier: bool = False,
) -> keras.Model:
    """Builds a named OFA supernet (`OFAMobileNetV3`, `OFAProxylessNASNets` or `OFAResNets`), optionally with weights.

    Args:
        net_id: one of `net_ids()`.
        pretrained: download and convert the official checkpoint (ImageNet nets, n_classes=1000).
        weights: a local PyTorch checkpoint (`.pth`) or Keras weights (`.weights.h5`).
        n_classes: classifier outputs.
        dropout_rate: dropout before the classifier (0.1 for supernet training, as the reference).
        new_classifier: load every weight but the classifier and start a new one for `n_classes` (your own
            classes on a trained body, `load_body`); without it the weights' classes must be `n_classes`.
    """
    preset = registry.preset(net_id)
    if pretrained and weights is not None:
        raise ValueError("Pass either pretrained=True or weights=..., not both.")
    net = preset.build(n_classes=n_classes, dropout_rate=dropout_rate, net_id=net_id, name=net_id.replace(".", "_"))
    if pretrained:
        weights = download_weights(net_id)
    if weights is None and new_classifier:
        raise ValueError("new_classifier=True replaces the classifier of loaded weights: pass weights= or "
                         "pretrained=True.")
    if weights is not None:
        (load_body if new_classifier else load_weights)(net, weights)
    return net


def load_weights(net: keras.Model, path: str | Path) -> None:
    """Loads a PyTorch `.pth` checkpoint (converted) or Keras `.weights.h5` / `.keras` weights; `net.weights_source`
    then names the file (what fine-tuning records as the supernet's weights)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path}")
    if path.name.endswith((".weights.h5", ".keras")):
        net.load_weights(path)
    else:
        from ofa_tf.torch_checkpoint import load_state_dict
        from ofa_tf.torch_checkpoint import read_state_dict

        load_state_dict(net, read_state_dict(path))
    net.weights_source = str(path.resolve())


def _file_n_classes(path: Path) -> int:
    """Classifier outputs of a weights file (`.weights.h5`: `weights_n_classes`; `.pth`: its classifier tensor)."""
    n = weights_n_classes(path)
    if n is None and not path.name.endswith((".weights.h5", ".keras")):
        from ofa_tf.torch_checkpoint import read_state_dict

        found = {int(v.shape[0]) for k, v in read_state_dict(path).items()
                 if k.startswith("classifier.") and k.endswith("weight") and v.ndim == 2}
        n = found.pop() if len(found) == 1 else None
    if n is None:
        raise ValueError(f"Cannot tell how many classes the classifier in {path} has; pass a .weights.h5 written by "
                         "ofa_tf or a reference .pth checkpoint.")
    return n


def load_body(net: keras.Model, path: str | Path) -> int:
    """Loads every weight of `path` but the classifier into `net` and starts `net`'s classifier anew at zero
    (`net.n_classes` outputs): a trained supernet brought to other classes. Every other variable equals the file's bit
    for bit. Returns the file's class count; says what it did in one log line.

    A zero classifier, as BiT (Kolesnikov et al., ECCV 2020) starts its new heads: the body's gradient is the
    classifier's weights times the loss's, so the first steps train the classifier alone and a random one does not
    scramble the body learned on the old classes (docs/finetune.md, "Measured on CIFAR-10": level with a random one at
    lr 0.06, +0.7 points mean of 12 on both seeds at lr 0.1 with a warmup epoch)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path}")
    source = type(net).from_config({**net.get_config(), "n_classes": _file_n_classes(path)})
    load_weights(source, path)
    fresh = {id(v) for v in net.classifier.weights}
    for mine, theirs in zip(net.weights, source.weights, strict=True):
        if id(mine) not in fresh:
            if mine.path != theirs.path or mine.shape != theirs.shape:
                raise ValueError(f"{path}: variable {theirs.path} {theirs.shape} does not match {mine.path} "
                                 f"{mine.shape} of {net.name}.")
            mine.assign(theirs)
    for variable in net.classifier.weights:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    net.weights_source = source.weights_source
    logger.info("Loaded every weight of %s but its %d-class classifier; new %d-class classifier (zeros).",
                path, source.n_classes, net.n_classes)
    return source.n_classes


def download_weights(net_id: str) -> Path:
    """Fetches (and caches under `$KERAS_HOME/ofa_tf`, default ~/.keras/ofa_tf) the official checkpoint of `net_id`:
    atomically, from the released files' root (`$OFA_TF_FILES_URL`, see `ofa_tf.download`) unless its URL is absolute;
    a cached file that does not read is fetched again."""
    relative_or_url = PRESETS[net_id].url
    if relative_or_url is None:
        raise ValueError(f"No official weights exist for {net_id!r}; official ones: "
                         f"{', '.join(k for k, p in PRESETS.items() if p.url)}.")
    from ofa_tf.torch_checkpoint import read_state_dict

    url = resolve_url(relative_or_url)
    try:
        return fetch_url(url, cache_dir() / net_id, read_state_dict)
    except (urllib.error.URLError, OSError) as err:  # every way of "could not fetch"
        raise ConnectionError(
            f"Could not download the official weights for {net_id} from {url} ({err}). "
            f"Offline? Download that file on a machine with internet and pass it as "
            f"ofa_net({net_id!r}, weights='/path/to/{net_id}') or `--weights /path/to/{net_id}`."
        ) from err


def weights_n_classes(path: str | Path) -> int | None:
    """Classifier outputs stored in a Keras `.weights.h5` file (from the classifier kernel), or None."""
    path = Path(path)
    if not (path.is_file() and path.name.endswith(".weights.h5")):
        return None
    from ofa_tf.weights_file import read_identity

    stored = read_identity(path)  # also names a file that is not readable
    if stored is not None:
        return int(stored["n_classes"])
    import h5py

    found = []

    def visit(name, item):
        if "classifier" in name and isinstance(item, h5py.Dataset) and item.ndim == 2:
            found.append(int(item.shape[-1]))

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    return found[0] if len(set(found)) == 1 else None
