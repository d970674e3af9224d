"""Named supernets (`ofa_net`) and their official weights."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import keras

from ofa_tf.network_shape import PROXYLESS_STRIDES
from ofa_tf.proxyless import OFAProxylessNASNets
from ofa_tf.resnet.supernet import ResNetPreset
from ofa_tf.supernet import OFAMobileNetV3

logger = logging.getLogger(__name__)

WEIGHTS_URL = "https://raw.githubusercontent.com/han-cai/files/master/ofa/ofa_nets/{net_id}"


@dataclasses.dataclass(frozen=True)
class Preset:
    """Constructor arguments of a named supernet; `url` when official weights exist."""

    width_mult: float
    first_stride: int = 2
    stage_strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    url: str | None = None

    def build(self, **kwargs) -> OFAMobileNetV3:
        return OFAMobileNetV3(width_mult=self.width_mult, first_stride=self.first_stride,
                              stage_strides=self.stage_strides, resolutions=self.resolutions, **kwargs)


@dataclasses.dataclass(frozen=True)
class ProxylessPreset(Preset):
    """A named `OFAProxylessNASNets` (6 stage strides)."""

    stage_strides: tuple[int, ...] = PROXYLESS_STRIDES

    def build(self, **kwargs) -> OFAProxylessNASNets:
        return OFAProxylessNASNets(width_mult=self.width_mult, first_stride=self.first_stride,
                                   stage_strides=self.stage_strides, resolutions=self.resolutions, **kwargs)


_SMALL = dict(first_stride=1, stage_strides=(1, 2, 2, 1, 2), resolutions=(24, 28, 32))
PRESETS = {
    "ofa_mbv3_d234_e346_k357_w1.0": Preset(1.0, url=WEIGHTS_URL.format(net_id="ofa_mbv3_d234_e346_k357_w1.0")),
    "ofa_mbv3_d234_e346_k357_w1.2": Preset(
        1.2, resolutions=tuple(range(160, 225, 4)), url=WEIGHTS_URL.format(net_id="ofa_mbv3_d234_e346_k357_w1.2")
    ),
    # Small images (CIFAR-size): stride-1 stem and first stage, so 32x32 inputs end at 4x4.
    "ofa_mbv3_small_d234_e346_k357_w1.0": Preset(1.0, **_SMALL),
    "ofa_mbv3_small_d234_e346_k357_w0.5": Preset(0.5, **_SMALL),
    # Tiny images (8x8 digits): the small topology at 8-16 px, so a 16x16 input ends at 2x2.
    "ofa_mbv3_tiny_d234_e346_k357_w0.5": Preset(0.5, first_stride=1, stage_strides=(1, 2, 2, 1, 2),
                                                resolutions=(8, 12, 16)),
    "ofa_proxyless_d234_e346_k357_w1.3": ProxylessPreset(
        1.3, url=WEIGHTS_URL.format(net_id="ofa_proxyless_d234_e346_k357_w1.3")
    ),
    # ProxylessNAS at 8-16 px (stride-1 stem and first stage), for tests and the digits data.
    "ofa_proxyless_tiny_d234_e346_k357_w0.5": ProxylessPreset(0.5, first_stride=1, stage_strides=(1, 2, 2, 1, 2, 1),
                                                              resolutions=(8, 12, 16)),
    "ofa_resnet50": ResNetPreset((0.65, 0.8, 1.0),
                                 url="https://huggingface.co/han-cai/ofa/resolve/main/ofa_supernet_resnet50"),
    # Tests and small images: the ResNet-50 topology at a quarter of the width or less, 24-32 px (1x1 at the end).
    "ofa_resnet50_tiny": ResNetPreset((0.15, 0.2, 0.25), resolutions=(24, 28, 32)),
}


def net_ids() -> list[str]:
    return sorted(PRESETS)


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
    if net_id not in PRESETS:
        raise ValueError(f"Unknown net_id {net_id!r}. Known ids: {', '.join(net_ids())}.")
    if pretrained and weights is not None:
        raise ValueError("Pass either pretrained=True or weights=..., not both.")
    preset = PRESETS[net_id]
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
    """Loads every weight of `path` but the classifier into `net` and starts `net`'s classifier anew (its own
    initializer, `net.n_classes` outputs): a trained supernet brought to other classes. Every other variable equals
    the file's bit for bit. Returns the file's class count; says what it did in one log line."""
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
    net.weights_source = source.weights_source
    logger.info("Loaded every weight of %s but its %d-class classifier; new %d-class classifier (random init).",
                path, source.n_classes, net.n_classes)
    return source.n_classes


def download_weights(net_id: str) -> Path:
    """Fetches (and caches under ~/.keras/ofa_tf) the official checkpoint of `net_id`."""
    url = PRESETS[net_id].url
    if url is None:
        raise ValueError(f"No official weights exist for {net_id!r}; official ones: "
                         f"{', '.join(k for k, p in PRESETS.items() if p.url)}.")
    from ofa_tf.torch_checkpoint import read_state_dict

    for attempt in range(2):
        try:
            path = Path(keras.utils.get_file(fname=net_id, origin=url, cache_subdir="ofa_tf"))
        except Exception as err:  # urllib raises several types; all mean "could not fetch"
            raise ConnectionError(
                f"Could not download the official weights for {net_id} from {url} ({err}). "
                f"Offline? Download that file on a machine with internet and pass it as "
                f"ofa_net({net_id!r}, weights='/path/to/{net_id}') or `--weights /path/to/{net_id}`."
            ) from err
        try:  # a truncated download would stay in the cache and fail every later call: read it, else fetch again
            read_state_dict(path)
            return path
        except ValueError:
            path.unlink()
            if attempt:
                raise
            logger.warning("The cached %s does not read; downloading it again from %s.", path, url)


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
