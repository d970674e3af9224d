"""The folder a training run writes (`ofa_tf.train(net, data, out)`, `ofa-tf train --out`), and loading a trained
supernet from it or from a weights file.

    out/config_<run>.json            the resolved settings of each run (net id, classes, phases, ...)
    out/metrics.jsonl                one record per epoch and phase
    out/tensorboard/                 TensorBoard scalars
    out/checkpoints/<run>/           resumable checkpoints (model, optimizer, position, sampler state)
    out/weights/<phase>.weights.h5   the supernet after each phase; `final_phase(net id)` is the finished supernet

`<run>` is the task selection (`all`, `kernel`, `depth_1`, ...), so runs of single tasks can share one folder.
"""
from __future__ import annotations

import json
from pathlib import Path

CONFIG_FILE = "config_{run}.json"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINT_DIR = "checkpoints"
WEIGHTS_DIR = "weights"
FINAL_PHASE = "expand_2"
"""The last phase of progressive shrinking (`ofa_tf.training.progressive_shrinking()`): the finished supernet."""


def final_phase(net_id: str | None) -> str:
    """The last phase of `net_id`'s schedule (`FINAL_PHASE`; OFA-ResNets end with the width phases)."""
    from ofa_tf import registry

    return registry.PRESETS[net_id].final_phase if net_id in registry.PRESETS else FINAL_PHASE


def config_path(out: str | Path, run: str) -> Path:
    return Path(out) / CONFIG_FILE.format(run=run)


def weights_path(out: str | Path, phase: str = FINAL_PHASE) -> Path:
    """`out/weights/<phase>.weights.h5`: the supernet after `phase`."""
    return Path(out) / WEIGHTS_DIR / f"{phase}.weights.h5"


def checkpoint_dir(out: str | Path, run: str) -> Path:
    """`out/checkpoints/<run>`: one folder per task selection, so tasks can share `out`."""
    return Path(out) / CHECKPOINT_DIR / run


def read_run_config(folder: str | Path) -> dict:
    """The resolved settings a training run wrote into `folder` (`config_all.json`, else any `config_*.json`), or
    {} when there are none."""
    folder = Path(folder)
    candidates = [config_path(folder, "all"), *sorted(folder.glob(CONFIG_FILE.format(run="*"))),
                  folder / "config.json"]
    for path in candidates:
        if path.is_file():
            return json.loads(path.read_text())
    return {}


def run_folder_of(weights: str | Path) -> Path | None:
    """The training run folder of `weights` (the folder itself, or the folder of `out/weights/<phase>.weights.h5`),
    or None for a weights file kept elsewhere."""
    path = Path(weights)
    if path.is_dir():
        return path
    if path.parent.name == WEIGHTS_DIR:
        return path.parent.parent
    return None


def infer_n_classes(weights: str | Path) -> int | None:
    """Classes of a training run (its config file) or of a Keras `.weights.h5` file (its classifier kernel)."""
    from ofa_tf.zoo import weights_n_classes

    folder = run_folder_of(weights)
    n = read_run_config(folder).get("num_classes") if folder is not None else None
    if n:
        return int(n)
    return weights_n_classes(weights)


def resolve_weights(weights: str | Path, net_id: str | None) -> tuple[Path, str]:
    """A weights file, or a training run folder (→ its final phase's weights and its net id)."""
    path = Path(weights)
    if path.is_dir():
        net = read_run_config(path).get("net")
        if net_id is not None and isinstance(net, str) and net != net_id:
            raise ValueError(f"The training run in {path} is of {net}, not {net_id}: pass --net {net} or omit it.")
        if net_id is None:
            net_id = net if isinstance(net, str) else None
        final = weights_path(path, final_phase(net_id))
        if not final.is_file():
            raise FileNotFoundError(f"{path} is a folder without {final.relative_to(path)}; pass a weights file or "
                                    "a finished training run folder.")
        path = final
    elif not path.is_file():
        raise FileNotFoundError(f"Weights not found: {path}")
    if net_id is None:
        raise ValueError(f"Pass --net: the net id of {path} is not known (e.g. ofa_mbv3_small_d234_e346_k357_w0.5).")
    return path, net_id


def files_read(weights: str | Path | None, net_id: str | None = None) -> list[Path]:
    """The files that loading `weights` reads: a weights file itself, or a run folder's final weights and config
    files (for commands that must not write over their inputs); [] when there is nothing to read."""
    if weights is None:
        return []
    path = Path(weights)
    if not path.is_dir():
        return [path]
    try:
        final, _ = resolve_weights(path, net_id)
    except (ValueError, FileNotFoundError):  # the load itself reports what is wrong with the folder
        final = None
    configs = sorted(path.glob(CONFIG_FILE.format(run="*")))
    return [p for p in (final, *configs) if p is not None]


def load_supernet(net_id: str | None = None, weights: str | Path | None = None, n_classes: int | None = None, *,
                  pretrained: bool = False, dropout_rate: float = 0.0):
    """A zoo supernet for evaluation, search and export, with its weights.

    Args:
        net_id: one of `ofa_tf.net_ids()`; may be omitted when `weights` is a training run folder.
        weights: a weights file (`.weights.h5`, `.pth`) or a training run folder (its final phase); None: random
            weights (or the official ones with `pretrained`).
        n_classes: classifier outputs; default: the run's config, else the weights file's classifier, else 1000.
        pretrained: the official ImageNet weights of `net_id` (`ofa_tf.ofa_net(..., pretrained=True)`).
        dropout_rate: dropout before the classifier (0 for inference).
    """
    from ofa_tf.zoo import ofa_net

    if weights is None:
        if net_id is None:
            raise ValueError("Pass --net (and usually --weights).")
        return ofa_net(net_id, pretrained=pretrained, n_classes=n_classes or 1000, dropout_rate=dropout_rate)
    path, net_id = resolve_weights(weights, net_id)
    n_classes = n_classes or infer_n_classes(weights) or infer_n_classes(path) or 1000
    return ofa_net(net_id, weights=path, n_classes=n_classes, dropout_rate=dropout_rate)
