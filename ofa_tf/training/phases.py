"""Training recipes as data, each a list of `Phase` rows: progressive shrinking (Cai et al., ICLR 2020, Sec. 3.2;
the reference's `train_ofa_net.py`) and the sandwich (BigNAS, Yu et al., ECCV 2020)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ofa_tf.subnet_config import SearchSpace
from ofa_tf.subnet_config import SubnetConfig

TASKS = ("full", "kernel", "depth", "expand", "all")
# Images per "GPU" in the reference; `base_lr` values are per this many images (linear scaling rule).
REFERENCE_BATCH_PER_GPU = 64


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training run of the progressive-shrinking schedule.

    Args:
        task: "full", "kernel", "depth" or "expand".
        phase: 1 or 2 for depth/expand, None for full and kernel.
        ks_list, expand_list, depth_list: elastic choices sampled during this phase.
        epochs: cosine-schedule epochs after warmup (the reference's `n_epochs`; may be fractional after
            scaling, `total_epochs` is what runs).
        warmup_epochs: linear warmup epochs before the cosine schedule.
        base_lr: learning rate per 64 images (the reference's per-GPU `base_lr`).
        n_subnets: subnets sampled per step (the reference's `dynamic_batch_size`); gradients are summed.
        kd_ratio: weight of the distillation loss (0 = no teacher).
        sort_channels: `expand_ratio_stage` of the channel sorting at the start of the phase, or None.
        sandwich: every step trains the phase's max subnet on the labels and its min subnet plus `n_subnets`
            random ones on the max subnet's soft labels (in-place distillation); `kd_ratio` then weighs the
            external teacher on top (0 = none).
    """

    task: str
    phase: int | None
    ks_list: tuple[int, ...]
    expand_list: tuple[int, ...]
    depth_list: tuple[int, ...]
    epochs: float
    warmup_epochs: float
    base_lr: float
    n_subnets: int
    kd_ratio: float
    sort_channels: int | None = None
    sandwich: bool = False

    def __post_init__(self):
        for name in ("ks_list", "expand_list", "depth_list"):
            object.__setattr__(self, name, tuple(sorted(int(v) for v in getattr(self, name))))
        if self.epochs < 0 or self.warmup_epochs < 0 or self.total_epochs < 1:
            raise ValueError(
                f"Phase {self.name}: needs at least one epoch in total; received epochs={self.epochs}, "
                f"warmup_epochs={self.warmup_epochs}."
            )
        if self.n_subnets < (0 if self.sandwich else 1):
            least = 0 if self.sandwich else 1
            raise ValueError(
                f"Phase {self.name}: `n_subnets` must be >= {least}. Received n_subnets={self.n_subnets}."
            )

    @property
    def name(self) -> str:
        return self.task if self.phase is None else f"{self.task}_{self.phase}"

    @property
    def total_epochs(self) -> int:
        """Epochs this phase runs: warmup + cosine."""
        return int(round(self.epochs + self.warmup_epochs))

    def search_space(self, space: SearchSpace) -> SearchSpace:
        """`space` restricted to this phase's choices."""
        return dataclasses.replace(space, ks_list=self.ks_list, expand_list=self.expand_list,
                                   depth_list=self.depth_list)

    def step_configs(self, space: SearchSpace, rng) -> list[SubnetConfig]:
        """The subnets of one training step in `space` restricted to this phase: `n_subnets` random ones, after
        the max and the min (once if they are the same) in a sandwich row."""
        space = self.search_space(space)
        random = [space.sample(rng) for _ in range(self.n_subnets)]
        if not self.sandwich:
            return random
        ends = [space.max_config(), space.min_config()]
        return (ends[:1] if ends[0] == ends[1] else ends) + random

    def with_total_epochs(self, total: int) -> Phase:
        """The same phase run for `total` epochs, keeping the warmup fraction."""
        total = int(total)
        if total < 1:
            raise ValueError(f"Invalid value for `epochs`: expected a positive int. Received epochs={total}.")
        warmup = self.warmup_epochs * total / (self.epochs + self.warmup_epochs)
        return dataclasses.replace(self, epochs=total - warmup, warmup_epochs=warmup)

    def scaled(self, factor: float) -> Phase:
        """Epochs (and warmup) multiplied by `factor`, at least one epoch."""
        if factor <= 0:
            raise ValueError(f"Invalid value for `epoch_scale`: expected > 0. Received epoch_scale={factor}.")
        return self.with_total_epochs(max(1, round((self.epochs + self.warmup_epochs) * factor)))

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["name"] = self.name
        for key in ("ks_list", "expand_list", "depth_list"):
            out[key] = list(out[key])
        return out


def progressive_shrinking(space: SearchSpace | None = None) -> list[Phase]:
    """The reference schedule for `space` (default: ks {3,5,7}, e {3,4,6}, d {2,3,4}).

    full → kernel → depth 1 (two largest depths) → depth 2 (all) → expand 1 (two largest ratios) →
    expand 2 (all), with the reference's epochs, warmup, per-GPU learning rates and subnets per step.
    The `full` row (training the teacher, which the reference downloads) follows the paper: 180 epochs
    at 2.6 for 2048 images, i.e. 0.08125 per 64 images, with 5 warmup epochs (the warmup is our choice).
    """
    space = space or SearchSpace()
    ks, e, d = space.ks_list, space.expand_list, space.depth_list
    big_k, big_e, big_d = (max(ks),), (max(e),), (max(d),)
    return [
        Phase("full", None, big_k, big_e, big_d, 175, 5, 2.6 / 32, 1, 0.0),
        Phase("kernel", None, ks, big_e, big_d, 120, 5, 3e-2, 1, 1.0),
        Phase("depth", 1, ks, big_e, d[-2:], 25, 0, 2.5e-3, 2, 1.0),
        Phase("depth", 2, ks, big_e, d, 120, 5, 7.5e-3, 2, 1.0),
        Phase("expand", 1, ks, e[-2:], d, 25, 0, 2.5e-3, 4, 1.0, sort_channels=0),
        Phase("expand", 2, ks, e, d, 120, 5, 7.5e-3, 4, 1.0, sort_channels=1),
    ]


def sandwich(space: SearchSpace | None = None) -> list[Phase]:
    """The sandwich recipe for short budgets: the full network, then the whole space at once.

    Every step of the elastic row trains the max subnet on the labels and the min subnet plus two random ones
    on the max subnet's soft labels: the sandwich rule and in-place distillation of BigNAS (Yu et al., ECCV
    2020), which keep the largest subnets as good as the full network while the small ones learn from it.
    The elastic row is the reference's last phase (`expand_2`: every kernel size, depth and ratio, channels
    sorted), at the full phase's learning rate with a short warmup: the reference's rates (2.5e-3 to 3e-2 per
    64 images) are fine-tuning rates for a supernet trained for 180 epochs; a short budget still needs to learn.
    """
    space = space or SearchSpace()
    ks, e, d = space.ks_list, space.expand_list, space.depth_list
    return [
        Phase("full", None, (max(ks),), (max(e),), (max(d),), 175, 5, 2.6 / 32, 0, 0.0, sandwich=True),
        Phase("expand", 2, ks, e, d, 175, 5, 2.6 / 32, 2, 0.0, sort_channels=0, sandwich=True),
    ]


RECIPES = {"reference": progressive_shrinking, "sandwich": sandwich}


def recipe_phases(recipe: str, space: SearchSpace | None = None) -> list[Phase]:
    """The rows of the recipe named `recipe` ("reference" or "sandwich") for `space`."""
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; expected one of {list(RECIPES)}.")
    return RECIPES[recipe](space)


def select_phases(phases: Sequence[Phase], task: str, phase: int | None = None) -> list[Phase]:
    """The rows of `phases` that `--task` / `--phase` ask for ("all" = every row, in order)."""
    if task not in TASKS:
        raise ValueError(f"Invalid value for `task`: expected one of {list(TASKS)}. Received task={task!r}.")
    if phase is not None:
        if task not in ("depth", "expand"):
            raise ValueError(
                f"`phase` only applies to the depth and expand tasks (they have phases 1 and 2); "
                f"received phase={phase} with task={task!r}."
            )
        if phase not in (1, 2):
            raise ValueError(f"Invalid value for `phase`: expected 1 or 2. Received phase={phase!r}.")
    if task == "all":
        return list(phases)
    picked = [p for p in phases if p.task == task and (phase is None or p.phase == phase)]
    if not picked:
        raise ValueError(f"The schedule has no phase for task={task!r}, phase={phase!r}.")
    return picked
