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

import dataclasses
import json
import shutil
from pathlib import Path

from ofa_tf.files import write_atomic

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


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The folder a training run writes (layout in the module docstring): its paths, what it holds, and its writes.

    `chief`: whether this process writes the run's files (in a multi-worker run only the chief does; the others
    compute everything and write nothing).
    """

    root: Path
    chief: bool = True

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # === Paths ===
    def config_path(self, run: str) -> Path:
        """`out/config_<run>.json`: the resolved settings of the run of task selection `run`."""
        return self.root / CONFIG_FILE.format(run=run)

    def weights_path(self, phase: str = FINAL_PHASE) -> Path:
        """`out/weights/<phase>.weights.h5`: the supernet after `phase`."""
        return self.root / WEIGHTS_DIR / f"{phase}.weights.h5"

    def checkpoint_dir(self, run: str) -> Path:
        """`out/checkpoints/<run>`: one folder per task selection, so tasks can share `out`."""
        return self.root / CHECKPOINT_DIR / run

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def tensorboard_dir(self) -> Path:
        return self.root / TENSORBOARD_DIR

    @classmethod
    def of_weights(cls, weights: str | Path) -> RunFolder | None:
        """The training run folder of `weights` (the folder itself, or the folder of `out/weights/<phase>.weights.h5`),
        or None for a weights file kept elsewhere."""
        path = Path(weights)
        if path.is_dir():
            return cls(path)
        if path.parent.name == WEIGHTS_DIR:
            return cls(path.parent.parent)
        return None

    # === Reading ===
    def config_paths(self) -> list[Path]:
        """The config files of the runs in this folder (one per task selection), by name."""
        return sorted(self.root.glob(CONFIG_FILE.format(run="*")))

    def read_config(self) -> dict:
        """The resolved settings a training run wrote here (`config_all.json`, else any `config_*.json`), or {} when
        there are none."""
        for path in (self.config_path("all"), *self.config_paths(), self.root / "config.json"):
            if path.is_file():
                return json.loads(path.read_text())
        return {}

    def net_ids(self) -> dict[str, str]:
        """Config file name -> net id of each run here that trained a zoo supernet."""
        nets = {path.name: json.loads(path.read_text()).get("net") for path in self.config_paths()}
        return {name: net for name, net in nets.items() if isinstance(net, str)}

    def finished(self, phases) -> list[str]:
        """The phases of `phases` (names) whose weights this folder holds."""
        return [name for name in phases if self.weights_path(name).is_file()]

    def final_weights(self, net_id: str | None) -> tuple[Path, str | None]:
        """The weights of the finished supernet (its net's final phase) and the net id of the run.

        Raises:
            ValueError: the run is of another net than `net_id`.
            FileNotFoundError: the run did not finish.
        """
        net = self.read_config().get("net")
        if net_id is not None and isinstance(net, str) and net != net_id:
            raise ValueError(f"The training run in {self.root} is of {net}, not {net_id}: pass --net {net} or omit it.")
        if net_id is None:
            net_id = net if isinstance(net, str) else None
        final = self.weights_path(final_phase(net_id))
        if not final.is_file():
            raise FileNotFoundError(f"{self.root} is a folder without {final.relative_to(self.root)}; pass a weights "
                                    "file or a finished training run folder.")
        return final, net_id

    # === Writing (the chief only) ===
    def write_config(self, run: str, resolved: dict) -> None:
        """`config_<run>.json`, written whole (a temporary file renamed)."""
        if self.chief:
            write_atomic(self.config_path(run), json.dumps(resolved, indent=2) + "\n")

    def remove_checkpoints(self, run: str) -> None:
        """Removes the checkpoints of `run` (training it again from the start, `overwrite`)."""
        if self.chief:
            shutil.rmtree(self.checkpoint_dir(run))

    def append_metrics(self, record: dict) -> None:
        """One line of `metrics.jsonl` (a single write of the whole line)."""
        append_jsonl(self.metrics_path, record, self.chief)


def append_jsonl(path: str | Path, record: dict, write: bool = True) -> None:
    """Appends `record` as one JSON line to `path` (the metrics files of training and fine-tuning runs); nothing
    when not `write` (a non-chief worker)."""
    if write:
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def infer_n_classes(weights: str | Path) -> int | None:
    """Classes of a training run (its config file) or of a Keras `.weights.h5` file (its classifier kernel)."""
    from ofa_tf.zoo import weights_n_classes

    folder = RunFolder.of_weights(weights)
    n = folder.read_config().get("num_classes") if folder is not None else None
    if n:
        return int(n)
    return weights_n_classes(weights)


def resolve_weights(weights: str | Path, net_id: str | None) -> tuple[Path, str]:
    """A weights file, or a training run folder (→ its final phase's weights and its net id)."""
    path = Path(weights)
    if path.is_dir():
        path, net_id = RunFolder(path).final_weights(net_id)
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
    return [p for p in (final, *RunFolder(path).config_paths()) if p is not None]


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
