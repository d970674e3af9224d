"""Read the reference's PyTorch OFA checkpoints into an ofa_tf supernet (torch needed only here)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

BATCH_NORM_KEYS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def conv_kernel(w):  # [out, in, kh, kw] -> [kh, kw, in, out]
    return np.transpose(w, (2, 3, 1, 0))


def depthwise_kernel(w):  # [C, 1, kh, kw] -> [kh, kw, C, 1]
    return np.transpose(w, (2, 3, 0, 1))


def se_kernel(w):  # [out, in, 1, 1] -> [in, out]
    return np.transpose(w[:, :, 0, 0])


def identity(w):
    return w


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Loads a `.pth` file (`{"state_dict": ...}` or a bare state dict) as NumPy arrays."""
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            "Reading PyTorch checkpoints needs torch: `pip install 'ofa_tf[torch]'`. "
            "Convert once, then save with `supernet.save_weights('net.weights.h5')` to drop the dependency."
        ) from err
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint file not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (bad zip), EOFError (empty file), ...
        detail = " ".join(str(err).split()).split(". ")[0][:160] or type(err).__name__
        raise ValueError(
            f"{path} is not a readable PyTorch checkpoint ({detail}); it may be truncated or of another format: "
            "download it again or pass a .pth state dict / a .weights.h5 file."
        ) from err
    state_dict = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path} holds no state dict: expected a dict (optionally under 'state_dict').")
    arrays = {k: v.detach().cpu().numpy() for k, v in state_dict.items()}
    from ofa_tf.weights_file import check_finite

    check_finite(arrays.items(), path)
    return arrays


def add_batch_norm(table: dict, prefix: str, layer) -> None:
    """Adds the four tensors of a BatchNorm under `prefix` (`prefix.weight` -> gamma, ...)."""
    for torch_name, keras_name in BATCH_NORM_KEYS.items():
        table[f"{prefix}.{torch_name}"] = (getattr(layer, keras_name), identity)


def load_state_dict(supernet, state_dict: dict[str, np.ndarray]) -> None:
    """Copies a reference state dict into `supernet`: every key used, every shape checked.

    Transform matrices missing from the checkpoint (e.g. a full-net checkpoint) keep their identity
    initialisation, as in the reference; any other missing, unexpected or mis-shaped key raises.
    Every supernet family brings its key table and renaming (`torch_weight_table`, `remap_torch_key`, in
    `ofa_tf/families/<family>/torch_weights.py`).
    """
    table = supernet.torch_weight_table()
    remap = supernet.remap_torch_key
    known = set(table)
    assigned = {}
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        target = remap(key, known)
        if target not in table:
            raise ValueError(
                f"Unexpected key {key!r} in checkpoint (no {type(supernet).__name__} tensor of that name"
                f"{'' if target == key else f', also tried {target!r}'})."
            )
        variable, transform = table[target]
        value = transform(np.asarray(value, np.float32))
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"Shape mismatch for checkpoint key {key!r}: got {tuple(value.shape)} (Keras layout), this "
                f"{type(supernet).__name__} ({supernet.width_text}, n_classes={supernet.n_classes}) expects "
                f"{tuple(variable.shape)}. The checkpoint is probably for another width multiplier or class count."
            )
        assigned[target] = (variable, value)
    missing = sorted(k for k in known - set(assigned) if not k.endswith("_matrix"))
    if missing:
        raise ValueError(f"Checkpoint is missing {len(missing)} key(s), first {missing[0]!r}; all: {missing}")
    kept = sorted(k for k in known - set(assigned))
    if kept:
        logger.warning("%d transform matrices not in the checkpoint keep their identity init.", len(kept))
    for variable, value in assigned.values():
        variable.assign(value)
