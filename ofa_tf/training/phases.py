"""Training recipes by name: every family's rows (`ofa_tf/families/<family>/recipes.py`) of `ofa_tf.recipe.Phase`,
progressive shrinking (Cai et al., ICLR 2020, Sec. 3.2; the reference's `train_ofa_net.py`) and the sandwich (BigNAS,
Yu et al., ECCV 2020)."""
from __future__ import annotations

from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.recipe import PHASE_NAMES as PHASE_NAMES
from ofa_tf.recipe import REFERENCE_BATCH_PER_GPU as REFERENCE_BATCH_PER_GPU
from ofa_tf.recipe import TASKS as TASKS
from ofa_tf.recipe import TWO_PHASE_TASKS as TWO_PHASE_TASKS
from ofa_tf.recipe import Phase
from ofa_tf.recipe import check_task as check_task
from ofa_tf.recipe import drop_phases as drop_phases
from ofa_tf.recipe import select_phases as select_phases

RECIPES = ("reference", "sandwich", "sandwich_phased")
"""The recipe names every search space's `recipes` has (a family may refuse one with a message)."""


def recipe_phases(recipe: str, space=None) -> list[Phase]:
    """The rows of the recipe named `recipe` ("reference", "sandwich" or "sandwich_phased") for `space` (default:
    `SearchSpace()`)."""
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; expected one of {list(RECIPES)}.")
    space = space or SearchSpace()
    return space.recipes[recipe](space)


def progressive_shrinking(space=None) -> list[Phase]:
    """The reference schedule for `space` (default: ks {3,5,7}, e {3,4,6}, d {2,3,4}): the family's progressive
    shrinking (`ofa_tf/families/mbconv/recipes.py`, `ofa_tf/families/resnet/recipes.py`)."""
    return recipe_phases("reference", space)


def sandwich(space=None) -> list[Phase]:
    """The sandwich recipe for short budgets (`ofa_tf/families/mbconv/recipes.py`)."""
    return recipe_phases("sandwich", space)


def sandwich_phased(space=None) -> list[Phase]:
    """The sandwich rule inside the reference's phases (`ofa_tf/families/mbconv/recipes.py`)."""
    return recipe_phases("sandwich_phased", space)


def resnet_progressive_shrinking(space: ResNetSearchSpace | None = None) -> list[Phase]:
    """Progressive shrinking of an OFA-ResNet space (default `ResNetSearchSpace()`; `ofa_tf/families/resnet/recipes.py`)."""
    return recipe_phases("reference", space or ResNetSearchSpace())
