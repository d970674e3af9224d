"""Training recipes as data, each a list of `Phase` rows: progressive shrinking (Cai et al., ICLR 2020, Sec. 3.2;
the reference's `train_ofa_net.py`) and the sandwich (BigNAS, Yu et al., ECCV 2020)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ofa_tf.resnet.space import ResNetSearchSpace
from ofa_tf.subnet_config import SearchSpace
from ofa_tf.subnet_config import SubnetConfig

TASKS = ("full", "kernel", "depth", "expand", "width", "all")
# Tasks with phases 1 and 2 (the width task exists for OFA-ResNets only, `ofa_tf/resnet/phases.py`).
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

    def search_space(self, space: SearchSpace) -> SearchSpace:
        """`space` restricted to this phase's choices."""
        if hasattr(space, "restrict"):  # a search space of another family restricts itself
            return space.restrict(depth_list=self.depth_list, expand_list=self.expand_list, width_list=self.width_list)
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
        for key in ("ks_list", "expand_list", "depth_list", "width_list"):
            out[key] = None if out[key] is None else list(out[key])
        return out


def progressive_shrinking(space: SearchSpace | ResNetSearchSpace | None = None) -> list[Phase]:
    """The reference schedule for `space` (default: ks {3,5,7}, e {3,4,6}, d {2,3,4}); an OFA-ResNet space gets
    `resnet_progressive_shrinking`.

    full → kernel → depth 1 (two largest depths) → depth 2 (all) → expand 1 (two largest ratios) →
    expand 2 (all), with the reference's epochs, warmup, per-GPU learning rates and subnets per step.
    The `full` row (training the teacher, which the reference downloads) follows the paper: 180 epochs
    at 2.6 for 2048 images, i.e. 0.08125 per 64 images, with 5 warmup epochs (the warmup is our choice).
    """
    if isinstance(space, ResNetSearchSpace):
        return resnet_progressive_shrinking(space)
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
    `phase_epochs={"full": 0}` drops the full row (the whole space from random weights, as BigNAS trains it).
    """
    if isinstance(space, ResNetSearchSpace):
        raise ValueError("The sandwich recipe is written for MobileNetV3 / ProxylessNAS supernets (elastic kernel, "
                         "expand, depth); train OFA-ResNets with recipe='reference'.")
    space = space or SearchSpace()
    ks, e, d = space.ks_list, space.expand_list, space.depth_list
    return [
        Phase("full", None, (max(ks),), (max(e),), (max(d),), 175, 5, 2.6 / 32, 0, 0.0, sandwich=True),
        Phase("expand", 2, ks, e, d, 175, 5, 2.6 / 32, 2, 0.0, sort_channels=0, sandwich=True),
    ]


def sandwich_phased(space: SearchSpace | None = None) -> list[Phase]:
    """The sandwich rule inside the reference's phases: full → kernel → depth 1, 2 → expand 1, 2 as in
    `progressive_shrinking`, every row a sandwich row (max + min + two random subnets, in-place distillation, no
    external teacher) at the full phase's learning rate. Kept to measure against `sandwich`, which runs the whole
    space at once (`benchmarks/cifar10_ps.py`; docs/training.md). Its `full` row is `sandwich`'s."""
    full, elastic = sandwich(space)
    return [full] + [dataclasses.replace(p, base_lr=full.base_lr, n_subnets=elastic.n_subnets, kd_ratio=0.0,
                                         sandwich=True)
                     for p in progressive_shrinking(space)[1:]]


RECIPES = {"reference": progressive_shrinking, "sandwich": sandwich, "sandwich_phased": sandwich_phased}


def recipe_phases(recipe: str, space: SearchSpace | ResNetSearchSpace | None = None) -> list[Phase]:
    """The rows of the recipe named `recipe` ("reference", "sandwich" or "sandwich_phased") for `space`."""
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; expected one of {list(RECIPES)}.")
    return RECIPES[recipe](space)


def resnet_progressive_shrinking(space: ResNetSearchSpace | None = None) -> list[Phase]:
    """Our schedule for OFA-ResNets, in the spirit of the paper's progressive shrinking (Cai et al., 2020, §3.2).

    full → depth 1 (two largest depths) → depth 2 (all) → expand 1 (two largest ratios) → expand 2 (all)
    → width 1 (two largest widths) → width 2 (all). Each dimension shrinks in two steps after the
    previous one is fully elastic, largest sub-networks first, with distillation from the full network.
    Depth and expand reuse the MobileNetV3 schedule's epochs, learning rates and subnets per step
    (`training/phases.py`); width, which removes the most computation, comes last with the expand
    phases' settings. The middle channels of every bottleneck are sorted by importance before each
    expand phase (the reference's `re_organize_middle_weights`, keeping the earlier group at phase 2), and
    the stem and stage output channels before each width phase (`training.sorting.sort_widths`, ours).
    The `full` row trains the teacher with the standard ResNet-50 recipe scaled linearly: 0.1 per 256
    images (0.025 per 64) for 120 epochs after 5 warmup epochs (our choice).
    """
    space = space or ResNetSearchSpace()
    d, e, w = space.depth_list, space.expand_list, space.width_list
    big_d, big_e, big_w = (max(d),), (max(e),), (max(w),)
    k = (3,)
    return [
        Phase("full", None, k, big_e, big_d, 120, 5, 0.025, 1, 0.0, width_list=big_w),
        Phase("depth", 1, k, big_e, d[-2:], 25, 0, 2.5e-3, 2, 1.0, width_list=big_w),
        Phase("depth", 2, k, big_e, d, 120, 5, 7.5e-3, 2, 1.0, width_list=big_w),
        Phase("expand", 1, k, e[-2:], d, 25, 0, 2.5e-3, 4, 1.0, sort_channels=0, width_list=big_w),
        Phase("expand", 2, k, e, d, 120, 5, 7.5e-3, 4, 1.0, sort_channels=1, width_list=big_w),
        Phase("width", 1, k, e, d, 25, 0, 2.5e-3, 4, 1.0, width_list=w[-2:], sort_widths=0),
        Phase("width", 2, k, e, d, 120, 5, 7.5e-3, 4, 1.0, width_list=w, sort_widths=1),
    ]


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
