"""`TrainConfig`: every option of `train`, validated."""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.training.distribute import STRATEGIES
from ofa_tf.training.optimizer import NO_DECAY_KEYS
from ofa_tf.training.optimizer import OptimizerConfig
from ofa_tf.training.phases import PHASE_NAMES
from ofa_tf.training.phases import RECIPES
from ofa_tf.training.phases import check_task
from ofa_tf.training.phases import drop_phases
from ofa_tf.training.phases import recipe_phases
from ofa_tf.training.phases import select_phases


# Float options: (lowest, highest, lowest excluded); the CLI's --lr nan or --weight-decay inf end here, not in a
# run whose every weight turns NaN.
_FLOAT_RANGES = {
    "lr": (0.0, math.inf, True), "epoch_scale": (0.0, math.inf, True), "warmup_epochs": (0.0, math.inf, False),
    "kd_ratio": (0.0, math.inf, False), "label_smoothing": (0.0, 1.0, False), "weight_decay": (0.0, math.inf, False),
    "momentum": (0.0, 1.0, False), "dropout_rate": (0.0, 1.0, False),
}


@dataclasses.dataclass
class TrainConfig:
    """Options of `train` (all optional; defaults follow the reference's `train_ofa_net.py`).

    Args:
        recipe: "reference" (progressive shrinking as the paper) or "sandwich" (the full network, then the
            whole space with the sandwich rule and in-place distillation) or "sandwich_phased" (the sandwich
            rule inside the reference's phases); see `ofa_tf.training.phases`.
        task: "full", "kernel", "depth", "expand", "width" (OFA-ResNets) or "all" (the whole recipe).
        subnet: with task "full", train only this `SubnetConfig` (or its dict): the network trained alone that
            the paper compares subnets of the supernet with.
        phase: 1 or 2 for depth/expand/width (None = both phases).
        epochs: total epochs of every selected phase (warmup keeps its fraction).
        epoch_scale: multiply every phase's epochs by this (e.g. 0.01 for small data); exclusive with `epochs`.
        phase_epochs: total epochs per phase name ({"full": 6, "depth_1": 1, ...}); wins over the two above. 0
            drops the row from the recipe: `recipe="sandwich"` with {"full": 0} trains the whole space from random
            weights (BigNAS's form; docs/training.md, "Recipes on CIFAR-10").
        batch_size: global batch size (split over replicas).
        image_sizes: training resolutions, one drawn per batch (default: the supernet's).
        teacher: weights of the full network (`.weights.h5`, `.pth`, or an earlier run's output folder).
        init_weights: starting weights of the student (default: the previous phase's in `out`, or the teacher).
        new_classifier: with `init_weights`, load every weight but the classifier and start a new one for the
            data's classes (`ofa_tf.zoo.load_body`: a trained supernet brought to your own classes); without it,
            weights of another class count are refused.
        strategy: "default", "mirrored", "multiworker", "tpu" or a `tf.distribute.Strategy`; `tpu` = TPU
            name/address for the resolver.
        resume: continue from the latest checkpoint in `out`, with the options recorded in its `config_<run>.json`
            (`train` takes them for every option not given, and refuses a given one that differs; see
            `resumed_options`).
        overwrite: retrain phases whose weights `out` already holds (otherwise refused: a finished phase's
            weights and metrics are never replaced silently) and drop this task's checkpoints.
        lr: initial learning rate of every phase (default: base_lr * batch_size / 64).
        warmup_epochs, n_subnets, kd_ratio: override every selected phase's value (kd_ratio: the teacher's
            weight in every phase but `full`; n_subnets: the random subnets beside max and min in sandwich rows).
        label_ratio: override every selected phase's share of the labels in the loss of a sandwich row's taught
            subnets (`Phase.label_ratio`).
        label_smoothing, weight_decay, momentum, nesterov, dropout_rate: loss / optimizer / model settings.
        validation_split: held-out part of the training images when `data` is a source name or folder.
        train_images: train on a seeded subset of this many images.
        steps_per_epoch: cap on steps per epoch.
        policy: augmentation policy ("imagenet", "cifar" or "digits"; default: the data source's).
        seed: seed of data order, augmentation and subnet sampling.
        validate: evaluate the max and min subnets (BN recalibrated) after each phase.
        calibration_images: BN-recalibration images for that validation.
        max_steps: stop after this many steps of this call without saving (simulates an interruption).
        log_every: steps between TensorBoard scalars.
        verbose: Progbar verbosity (0 silent, 1 bar, 2 one line per epoch).
    """

    recipe: str = "reference"
    task: str = "all"
    phase: int | None = None
    subnet: SubnetConfig | dict | None = None
    epochs: int | None = None
    epoch_scale: float | None = None
    phase_epochs: dict[str, int] | None = None
    batch_size: int = 64
    image_sizes: tuple[int, ...] | None = None
    teacher: str | None = None
    init_weights: str | None = None
    new_classifier: bool = False
    strategy: str | tf.distribute.Strategy = "default"
    tpu: str | None = None
    resume: bool = False
    overwrite: bool = False
    lr: float | None = None
    warmup_epochs: float | None = None
    n_subnets: int | None = None
    kd_ratio: float | None = None
    label_ratio: float | None = None
    label_smoothing: float = 0.1
    weight_decay: float = 3e-5
    momentum: float = 0.9
    nesterov: bool = True
    dropout_rate: float = 0.1
    validation_split: float | int = 0.1
    train_images: int | None = None
    steps_per_epoch: int | None = None
    policy: str | None = None
    seed: int = 0
    validate: bool = True
    calibration_images: int = 2000
    max_steps: int | None = None
    log_every: int = 10
    verbose: int = 1

    def __post_init__(self):
        if not isinstance(self.strategy, tf.distribute.Strategy) and self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy {self.strategy!r}; expected one of {list(STRATEGIES)}.")
        if self.epochs is not None and self.epoch_scale is not None:
            raise ValueError("Pass either `epochs` or `epoch_scale`, not both.")
        for name in ("batch_size", "epochs", "n_subnets", "train_images", "steps_per_epoch", "max_steps"):
            value, least = getattr(self, name), 0 if name == "n_subnets" else 1
            if value is not None and (not isinstance(value, (int, np.integer)) or value < least):
                raise ValueError(f"Invalid value for `{name}`: expected an int >= {least}. Received {name}={value!r}.")
        if self.label_ratio is not None and not 0 <= self.label_ratio <= 1:
            raise ValueError(f"Invalid value for `label_ratio`: expected a float in [0, 1]. "
                             f"Received label_ratio={self.label_ratio!r}.")
        for name, (low, high, low_open) in _FLOAT_RANGES.items():  # NaN fails every comparison, so it is refused
            value = getattr(self, name)
            if value is None:
                continue
            inside = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and (
                (low < value if low_open else low <= value) and value <= high and math.isfinite(value))
            if not inside:
                allowed = f"{'>' if low_open else '>='} {low:g}" + ("" if high == math.inf else f" and <= {high:g}")
                raise ValueError(f"Invalid value for `{name}`: expected a finite number {allowed}. "
                                 f"Received {name}={value!r}.")
        if self.image_sizes is not None:
            self.image_sizes = tuple(int(s) for s in self.image_sizes)
            if not self.image_sizes or min(self.image_sizes) < 8:
                raise ValueError(f"Invalid `image_sizes`: expected sizes >= 8. Received {list(self.image_sizes)}.")
        if self.recipe not in RECIPES:
            raise ValueError(f"Unknown recipe {self.recipe!r}; expected one of {list(RECIPES)}.")
        check_task(self.task, self.phase)
        if self.new_classifier and self.init_weights is None:
            raise ValueError("new_classifier=True replaces the classifier of the starting weights: pass init_weights "
                             "(--init-weights W), the trained supernet whose body to keep.")
        if self.recipe != "reference":  # its rows have the same names for every family
            select_phases(drop_phases(recipe_phases(self.recipe), self.phase_epochs), self.task, self.phase)
        if self.subnet is not None:
            if self.task != "full":
                raise ValueError(f"`subnet` trains one subnet alone with task='full'; received task={self.task!r}.")
            if isinstance(self.subnet, dict):
                self.subnet = SubnetConfig.from_dict(self.subnet)
        names = list(PHASE_NAMES) if self.recipe == "reference" else [p.name for p in recipe_phases(self.recipe)]
        unknown = sorted(set(self.phase_epochs or {}) - set(names))
        if unknown:
            raise ValueError(f"Unknown phase names in `phase_epochs`: {unknown}; expected some of {names}.")
        for name, value in (self.phase_epochs or {}).items():
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Invalid value for `phase_epochs[{name!r}]`: expected an int >= 0 (0 drops the "
                                 f"phase). Received {value!r}.")
        if self.phase_epochs and all(self.phase_epochs.get(n) == 0 for n in names):
            raise ValueError(f"`phase_epochs` drops every phase of recipe {self.recipe!r} ({names}); keep one.")

    @property
    def run_name(self) -> str:
        """Names the checkpoint folder and config file of this task selection ("all", "depth_1", ...)."""
        return self.task if self.phase is None else f"{self.task}_{self.phase}"

    def optimizer_config(self) -> OptimizerConfig:
        return OptimizerConfig(self.momentum, self.nesterov, self.weight_decay, NO_DECAY_KEYS)


RESUMABLE_OPTIONS = ("resume", "overwrite", "max_steps", "log_every", "verbose", "validate", "calibration_images",
                     "strategy", "tpu")
"""Options that change how a run is carried out, logged or checked, not what it trains: a resumed run may take
other values of these; every other option is the run's recorded one."""


def resumed_options(recorded: dict, given: dict, source: str) -> dict:
    """The options of a resumed run: those recorded in `source` (its `config_<run>.json`), plus the given
    `RESUMABLE_OPTIONS`.

    Raises:
        ValueError: naming both values, for any other given option that differs from the recorded one (a resumed
            run at another batch size, learning rate, epoch count or recipe is another run, silently).
    """
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    settled = {k: v for k, v in recorded.items() if k in names and k not in RESUMABLE_OPTIONS}
    before, after = TrainConfig(**settled), TrainConfig(**{**settled, **given})
    changed = [name for name in given if name in names and name not in RESUMABLE_OPTIONS
               and _comparable(name, getattr(after, name)) != _comparable(name, getattr(before, name))]
    if changed:
        detail = ", ".join(f"{name}={getattr(after, name)!r} (recorded: {getattr(before, name)!r})" for name in changed)
        raise ValueError(
            f"A resumed run keeps the settings recorded in {source}; received {detail}. Omit "
            f"{'it' if len(changed) == 1 else 'them'} to resume with the recorded value"
            f"{'' if len(changed) == 1 else 's'}, or start a new run (another output folder, or --overwrite)."
        )
    return {**settled, **given}


def check_recorded_run(path: Path, resolved: dict, out) -> None:
    """Raises naming both values when a resumed run (`resolved`, as `config_<run>.json` would hold it) differs from the
    run recorded in `path` (other data, another supernet, other settings than `RESUMABLE_OPTIONS`)."""
    recorded = json.loads(path.read_text())
    for record in (resolved, recorded):  # a supernet object's layer name is Keras's counter, not the network
        if isinstance(record.get("net"), dict):
            record["net"] = {**record["net"], "config": {k: v for k, v in record["net"].get("config", {}).items()
                                                         if k != "name"}}
    free = ("options", "strategy", "replicas")
    changed = [(key, resolved[key], recorded[key]) for key in resolved
               if key in recorded and key not in free and resolved[key] != recorded[key]]
    options, recorded_options = resolved["options"], recorded.get("options", {})
    changed += [(key, options[key], recorded_options[key]) for key in options
                if key in recorded_options and key not in RESUMABLE_OPTIONS
                and options[key] != recorded_options[key]]
    if changed:
        detail = ", ".join(f"{key} {mine!r} (recorded: {theirs!r})" for key, mine, theirs in changed[:4])
        raise ValueError(f"{out} holds a run recorded in {path.name} that this resumed run does not match: "
                         f"{detail}. Resume with the recorded data and settings, or start a new run (another "
                         "output folder, or --overwrite).")


def _comparable(name: str, value):
    """Weights paths as written on either side ('./w.h5' and 'w.h5' are one file) and configs as dicts."""
    if name in ("teacher", "init_weights") and value is not None:
        return os.path.normpath(str(value))
    return value.to_dict() if hasattr(value, "to_dict") else value  # a config of any family
