"""What a supernet's Keras `.weights.h5` file belongs to: an `ofa_tf` attribute on the HDF5 root (class, net id,
classes, search space, topology), written by the supernets' `save_weights` (`MBConvSupernet`) and checked by their
`load_weights`, so weights never load silently into another network of the same shapes."""
from __future__ import annotations

import json
from pathlib import Path

ATTRIBUTE = "ofa_tf"
# Fields that must agree between the file and the network it is loaded into (net_id only when both have one).
_CHECKED = ("class", "n_classes", "width_mult", "ks_list", "expand_list", "depth_list", "first_stride", "stage_strides")


def identity(net) -> dict:
    """What `net`'s weights belong to (JSON-serializable)."""
    config = net.get_config()
    return {"class": type(net).__name__, "net_id": config.get("net_id"),
            **{k: config.get(k) for k in (*_CHECKED[1:], "resolutions")}}


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
    name = info.get("net_id") or f"a custom {info.get('class', 'OFAMobileNetV3')} (width {info['width_mult']})"
    return f"{name} with {info['n_classes']} classes"


def check_identity(path: str | Path, net) -> None:
    """Raises ValueError naming both sides when the weights in `path` belong to another network than `net`."""
    stored = read_identity(path)
    if stored is None:
        return
    mine = identity(net)
    differs = [k for k in _CHECKED if k in stored and json.dumps(stored[k]) != json.dumps(mine[k])]
    if stored.get("net_id") and mine["net_id"] and stored["net_id"] != mine["net_id"]:
        differs.insert(0, "net_id")
    if differs:
        detail = ", ".join(f"{k} {stored.get(k)} vs {mine[k]}" for k in differs)
        raise ValueError(
            f"The weights in {path} belong to {describe(stored)}, not to {describe(mine)} ({detail}): pass the "
            f"matching --net / --n-classes, or weights of {mine['net_id'] or 'this network'}."
        )
