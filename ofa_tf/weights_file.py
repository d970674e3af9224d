"""What a supernet's Keras `.weights.h5` file belongs to: an `ofa_tf` attribute on the HDF5 root (class, net id,
classes, search space, topology), written by the supernets' `save_weights` (`MBConvSupernet`) and checked by their
`load_weights`, so weights never load silently into another network of the same shapes."""
from __future__ import annotations

import json
from pathlib import Path

ATTRIBUTE = "ofa_tf"
# Constructor arguments that do not change what the weights are; every other one must agree between the file and
# the network it is loaded into (net_id only when both have one).
_UNCHECKED = ("name", "net_id", "resolutions", "dropout_rate", "bn_momentum", "bn_epsilon")


def identity(net) -> dict:
    """What `net`'s weights belong to (JSON-serializable): its class and constructor arguments."""
    return {"class": type(net).__name__, **{k: v for k, v in net.get_config().items() if k != "name"}}


def _checked(info: dict) -> list[str]:
    return [k for k in info if k not in _UNCHECKED]


def _h5py():
    import h5py

    return h5py


def write_identity(path: str | Path, net) -> None:
    with _h5py().File(path, "a") as handle:
        handle.attrs[ATTRIBUTE] = json.dumps(identity(net))


def read_identity(path: str | Path) -> dict | None:
    """The identity stored in `path` (None for files written before it existed, or by plain Keras).

    Raises:
        ValueError: `path` is not a readable HDF5 file (truncated, empty or of another format).
    """
    try:
        with _h5py().File(path, "r") as handle:
            raw = handle.attrs.get(ATTRIBUTE)
    except OSError as err:
        raise ValueError(
            f"{path} is not a readable Keras weights file ({' '.join(str(err).split())}); it may be truncated or of "
            "another format: pass a .weights.h5 written by save_weights / `ofa-tf train`, or a PyTorch .pth."
        ) from err
    return None if raw is None else json.loads(raw)


def describe(info: dict) -> str:
    width = info.get("width_mult", info.get("width_mult_list"))
    name = info.get("net_id") or f"a custom {info.get('class', 'OFAMobileNetV3')} (width {width})"
    return f"{name} with {info['n_classes']} classes"


def check_identity(path: str | Path, net) -> None:
    """Raises ValueError naming both sides when the weights in `path` belong to another network than `net`."""
    stored = read_identity(path)
    if stored is None:
        return
    mine = identity(net)
    differs = [k for k in _checked(mine) if k in stored and json.dumps(stored[k]) != json.dumps(mine[k])]
    if stored.get("net_id") and mine["net_id"] and stored["net_id"] != mine["net_id"]:
        differs.insert(0, "net_id")
    if differs:
        detail = ", ".join(f"{k} {stored.get(k)} vs {mine[k]}" for k in differs)
        # only the classes differ: the body fits, and ofa_tf.zoo.load_body can start a new classifier on it
        other_classes = differs == ["n_classes"]
        raise ValueError(
            f"The weights in {path} belong to {describe(stored)}, not to {describe(mine)} ({detail}): pass the "
            f"matching --net / --n-classes, or weights of {mine['net_id'] or 'this network'}"
            + (" (or new_classifier=True / --new-classifier to keep all but the classifier)." if other_classes
               else ".")
        )


class IdentifiedWeights:
    """Mixin for a supernet `keras.Model`: its `.weights.h5` files carry what they belong to, checked on load."""

    def save_weights(self, filepath, *args, **kwargs):
        """`keras.Model.save_weights`, plus what the weights belong to in a `.weights.h5`."""
        super().save_weights(filepath, *args, **kwargs)
        if str(filepath).endswith(".weights.h5"):
            write_identity(filepath, self)

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights` that first checks the file belongs to this network; errors name the file."""
        if str(filepath).endswith(".weights.h5"):
            check_identity(filepath, self)
        try:
            super().load_weights(filepath, *args, **kwargs)
        except (ValueError, OSError) as err:
            first = " ".join(str(err).split())
            first = first[:200] + ("..." if len(first) > 200 else "")
            raise ValueError(f"The weights in {filepath} do not fit {describe(identity(self))}"
                             f" ({first}); pass the matching --net / --n-classes.") from err
        check_finite(((v.path, v.numpy()) for v in self.weights), filepath)


def check_finite(named_values, source) -> None:
    """Raises ValueError naming `source` and its first tensor holding NaN or inf (weights of a diverged run, which
    would load and evaluate at chance without a word). `named_values`: `(name, array)` pairs."""
    import numpy as np

    for name, value in named_values:
        value = np.asarray(value)
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            bad = int(value.size - np.isfinite(value).sum())
            raise ValueError(f"The weights in {source} are not finite: {name} holds {bad} NaN or inf value(s) of "
                             f"{value.size} (a training run that diverged writes such weights): pass weights of a "
                             "run that trained without diverging.")
