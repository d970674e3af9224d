"""The training recipe of OFA-ResNets as rows of `ofa_tf.recipe.Phase`."""
from __future__ import annotations

from ofa_tf.recipe import Phase


def resnet_progressive_shrinking(space) -> list[Phase]:
    """Our schedule for OFA-ResNets, in the spirit of the paper's progressive shrinking (Cai et al., 2020, §3.2).

    full → depth 1 (two largest depths) → depth 2 (all) → expand 1 (two largest ratios) → expand 2 (all)
    → width 1 (two largest widths) → width 2 (all). Each dimension shrinks in two steps after the
    previous one is fully elastic, largest sub-networks first, with distillation from the full network.
    Depth and expand reuse the MobileNetV3 schedule's epochs, learning rates and subnets per step
    (`ofa_tf/families/mbconv/recipes.py`); width, which removes the most computation, comes last with the expand
    phases' settings. The middle channels of every bottleneck are sorted by importance before each
    expand phase (the reference's `re_organize_middle_weights`, keeping the earlier group at phase 2), and
    the stem and stage output channels before each width phase (`sort_widths`, ours).
    The `full` row trains the teacher with the standard ResNet-50 recipe scaled linearly: 0.1 per 256
    images (0.025 per 64) for 120 epochs after 5 warmup epochs (our choice).
    """
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


def _sandwich_refused(space) -> list[Phase]:
    raise ValueError("The sandwich recipe is written for MobileNetV3 / ProxylessNAS supernets (elastic kernel, "
                     "expand, depth); train OFA-ResNets with recipe='reference'.")


RECIPES = {"reference": resnet_progressive_shrinking, "sandwich": _sandwich_refused,
           "sandwich_phased": _sandwich_refused}
"""Recipe name -> rows for a `ResNetSearchSpace` (`ResNetSearchSpace.recipes`); the sandwich recipes are refused."""
