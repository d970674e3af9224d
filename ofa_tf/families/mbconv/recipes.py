"""The training recipes of MBConv supernets as rows of `ofa_tf.recipe.Phase`: progressive shrinking (Cai et al., ICLR
2020, Sec. 3.2; the reference's `train_ofa_net.py`) and the sandwich (BigNAS, Yu et al., ECCV 2020)."""
from __future__ import annotations

import dataclasses

from ofa_tf.recipe import Phase

def progressive_shrinking(space: SearchSpace) -> list[Phase]:
    """The reference schedule for `space` (default: ks {3,5,7}, e {3,4,6}, d {2,3,4}).

    full → kernel → depth 1 (two largest depths) → depth 2 (all) → expand 1 (two largest ratios) →
    expand 2 (all), with the reference's epochs, warmup, per-GPU learning rates and subnets per step.
    The `full` row (training the teacher, which the reference downloads) follows the paper: 180 epochs
    at 2.6 for 2048 images, i.e. 0.08125 per 64 images, with 5 warmup epochs (the warmup is our choice).
    """
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


def sandwich(space: SearchSpace) -> list[Phase]:
    """The sandwich recipe for short budgets: the full network, then the whole space at once.

    Every step of the elastic row trains the max subnet on the labels and the min subnet plus two random ones
    on the max subnet's soft labels: the sandwich rule and in-place distillation of BigNAS (Yu et al., ECCV
    2020), which keep the largest subnets as good as the full network while the small ones learn from it.
    The elastic row is the reference's last phase (`expand_2`: every kernel size, depth and ratio, channels
    sorted), at the full phase's learning rate with a short warmup: the reference's rates (2.5e-3 to 3e-2 per
    64 images) are fine-tuning rates for a supernet trained for 180 epochs; a short budget still needs to learn.
    `phase_epochs={"full": 0}` drops the full row (the whole space from random weights, as BigNAS trains it).
    """
    ks, e, d = space.ks_list, space.expand_list, space.depth_list
    return [
        Phase("full", None, (max(ks),), (max(e),), (max(d),), 175, 5, 2.6 / 32, 0, 0.0, sandwich=True),
        Phase("expand", 2, ks, e, d, 175, 5, 2.6 / 32, 2, 0.0, sort_channels=0, sandwich=True),
    ]


def sandwich_phased(space: SearchSpace) -> list[Phase]:
    """The sandwich rule inside the reference's phases: full → kernel → depth 1, 2 → expand 1, 2 as in
    `progressive_shrinking`, every row a sandwich row (max + min + two random subnets, in-place distillation, no
    external teacher) at the full phase's learning rate. Kept to measure against `sandwich`, which runs the whole
    space at once (`benchmarks/cifar10_ps.py`; docs/training.md). Its `full` row is `sandwich`'s."""
    full, elastic = sandwich(space)
    return [full] + [dataclasses.replace(p, base_lr=full.base_lr, n_subnets=elastic.n_subnets, kd_ratio=0.0,
                                         sandwich=True)
                     for p in progressive_shrinking(space)[1:]]


RECIPES = {"reference": progressive_shrinking, "sandwich": sandwich, "sandwich_phased": sandwich_phased}
"""Recipe name -> rows for a `SearchSpace` (`SearchSpace.recipes`)."""
