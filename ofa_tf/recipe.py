"""Training recipes as data: the `Phase` row every family's recipes are lists of (`ofa_tf/families/<family>/recipes.py`;
progressive shrinking, Cai et al., ICLR 2020, Sec. 3.2, the reference's `train_ofa_net.py`), and the selection of rows
by `--task` / `--phase`."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

TASKS = ("full", "kernel", "depth", "expand", "width", "all")
# Tasks with phases 1 and 2 (the width task exists for OFA-ResNets only, `ofa_tf/families/resnet/recipes.py`).
TWO_PHASE_TASKS = ("depth", "expand", "width")
# Every phase name a schedule may have.
PHASE_NAMES = ("full", "kernel", *(f"{t}_{i}" for t in TWO_PHASE_TASKS for i in (1, 2)))
# Images per "GPU" in the reference; `base_lr` values are per this many images (linear scaling rule).
REFERENCE_BATCH_PER_GPU = 64


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training run of the progressive-shrinking schedule.

    Args:
        task: "full", "kernel", "depth", "expand" or "width".
        phase: 1 or 2 for depth/expand/width, None for full and kernel.
        ks_list, expand_list, depth_list: elastic choices sampled during this phase.
        width_list: width indices sampled during this phase (OFA-ResNets; None: no elastic width).
        sort_widths: `width_stage` of the width-channel sorting at the start of the phase (OFA-ResNets), or None.
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
        label_ratio: in a sandwich row, the labels' share of the taught subnets' loss:
            `(1 - label_ratio) * KD(max subnet) + label_ratio * CE` (0 = BigNAS's pure in-place distillation).
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
    width_list: tuple[int, ...] | None = None
    sort_widths: int | None = None
    sandwich: bool = False
    label_ratio: float = 0.0

    def __post_init__(self):
        for name in ("ks_list", "depth_list"):
            object.__setattr__(self, name, tuple(sorted(int(v) for v in getattr(self, name))))
        object.__setattr__(self, "expand_list", tuple(sorted(self.expand_list)))  # ints (MBConv) or floats
        if self.width_list is not None:
            object.__setattr__(self, "width_list", tuple(sorted(int(v) for v in self.width_list)))
        if self.epochs < 0 or self.warmup_epochs < 0 or self.total_epochs < 1:
            raise ValueError(
                f"Phase {self.name}: needs at least one epoch in total; received epochs={self.epochs}, "
                f"warmup_epochs={self.warmup_epochs}."
            )
        if not 0 <= self.label_ratio <= 1:
            raise ValueError(
                f"Phase {self.name}: `label_ratio` must be in [0, 1]. Received label_ratio={self.label_ratio}."
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

    def search_space(self, space):
        """`space` (of any family) restricted to this phase's choices (`space.for_phase`)."""
        return space.for_phase(self)

    def step_configs(self, space, rng) -> list:
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
        for key in ("ks_list", "expand_list", "depth_list", "width_list"):
            out[key] = None if out[key] is None else list(out[key])
        return out


def drop_phases(rows: Sequence[Phase], phase_epochs: dict[str, int] | None) -> list[Phase]:
    """`rows` without those that `phase_epochs` (`TrainConfig.phase_epochs`) gives 0 epochs."""
    return [p for p in rows if (phase_epochs or {}).get(p.name) != 0]


def check_task(task: str, phase: int | None = None) -> None:
    """Raises ValueError for a `--task` / `--phase` pair no schedule can have."""
    if task not in TASKS:
        raise ValueError(f"Invalid value for `task`: expected one of {list(TASKS)}. Received task={task!r}.")
    if phase is not None:
        if task not in TWO_PHASE_TASKS:
            raise ValueError(
                f"`phase` only applies to the depth and expand tasks (and width for OFA-ResNets; they have "
                f"phases 1 and 2); received phase={phase} with task={task!r}."
            )
        if phase not in (1, 2):
            raise ValueError(f"Invalid value for `phase`: expected 1 or 2. Received phase={phase!r}.")


def select_phases(phases: Sequence[Phase], task: str, phase: int | None = None) -> list[Phase]:
    """The rows of `phases` that `--task` / `--phase` ask for ("all" = every row, in order)."""
    check_task(task, phase)
    if task == "all":
        return list(phases)
    picked = [p for p in phases if p.task == task and (phase is None or p.phase == phase)]
    if not picked:
        raise ValueError(f"The schedule has no phase for task={task!r}, phase={phase!r}.")
    return picked
