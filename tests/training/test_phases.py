import dataclasses

import numpy as np
import pytest

from ofa_tf.families.resnet.space import ResNetSearchSpace
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.training.phases import Phase
from ofa_tf.training.phases import progressive_shrinking
from ofa_tf.training.phases import select_phases

# (name, ks, e, d, epochs, warmup, base_lr, subnets/step, kd, sort stage) — the reference's train_ofa_net.py settings.
REFERENCE = [
    ("full", (7,), (6,), (4,), 175, 5, 2.6 / 32, 1, 0.0, None),
    ("kernel", (3, 5, 7), (6,), (4,), 120, 5, 3e-2, 1, 1.0, None),
    ("depth_1", (3, 5, 7), (6,), (3, 4), 25, 0, 2.5e-3, 2, 1.0, None),
    ("depth_2", (3, 5, 7), (6,), (2, 3, 4), 120, 5, 7.5e-3, 2, 1.0, None),
    ("expand_1", (3, 5, 7), (4, 6), (2, 3, 4), 25, 0, 2.5e-3, 4, 1.0, 0),
    ("expand_2", (3, 5, 7), (3, 4, 6), (2, 3, 4), 120, 5, 7.5e-3, 4, 1.0, 1),
]


def test_reference_table():
    phases = progressive_shrinking()
    assert len(phases) == len(REFERENCE)
    for p, (name, ks, e, d, epochs, warmup, lr, n, kd, sort) in zip(phases, REFERENCE):
        assert (p.name, p.ks_list, p.expand_list, p.depth_list) == (name, ks, e, d)
        assert (p.epochs, p.warmup_epochs, p.n_subnets, p.kd_ratio, p.sort_channels) == (epochs, warmup, n, kd, sort)
        assert p.base_lr == pytest.approx(lr)
        assert p.total_epochs == epochs + warmup


def test_schedule_follows_custom_space():
    phases = progressive_shrinking(SearchSpace((3, 5), (2, 3), (1, 2)))
    assert [p.depth_list for p in phases] == [(2,), (2,), (1, 2), (1, 2), (1, 2), (1, 2)]
    assert [p.expand_list for p in phases] == [(3,), (3,), (3,), (3,), (2, 3), (2, 3)]
    assert phases[0].ks_list == (5,) and phases[1].ks_list == (3, 5)


@pytest.mark.parametrize(
    "task, phase, names",
    [
        ("all", None, ["full", "kernel", "depth_1", "depth_2", "expand_1", "expand_2"]),
        ("full", None, ["full"]),
        ("kernel", None, ["kernel"]),
        ("depth", None, ["depth_1", "depth_2"]),
        ("depth", 2, ["depth_2"]),
        ("expand", 1, ["expand_1"]),
    ],
)
def test_select_phases(task, phase, names):
    assert [p.name for p in select_phases(progressive_shrinking(), task, phase)] == names


@pytest.mark.parametrize(
    "task, phase, message",
    [
        ("shrink", None, "Invalid value for `task`"),
        ("width", None, "has no phase for task='width'"),  # OFA-ResNets only
        ("full", 1, "only applies to the depth and expand"),
        ("kernel", 2, "only applies to the depth and expand"),
        ("depth", 3, "expected 1 or 2"),
    ],
)
def test_select_phases_errors(task, phase, message):
    with pytest.raises(ValueError, match=message):
        select_phases(progressive_shrinking(), task, phase)


def test_epoch_overrides_keep_warmup_fraction():
    kernel = progressive_shrinking()[1]
    short = kernel.with_total_epochs(25)
    assert short.total_epochs == 25
    assert short.warmup_epochs == pytest.approx(5 * 25 / 125)
    assert kernel.scaled(0.1).total_epochs == 12  # round(12.5) with banker's rounding
    assert progressive_shrinking()[2].scaled(0.001).total_epochs == 1
    with pytest.raises(ValueError, match="epoch_scale"):
        kernel.scaled(0)
    with pytest.raises(ValueError, match="at least one epoch"):
        Phase("full", None, (3,), (3,), (2,), 0, 0, 0.1, 1, 0.0)


def test_sandwich_recipe_rows():
    from ofa_tf.training.phases import recipe_phases

    space = SearchSpace()
    full, elastic = recipe_phases("sandwich", space)
    assert (full.name, full.ks_list, full.expand_list, full.depth_list) == ("full", (7,), (6,), (4,))
    assert (elastic.name, elastic.ks_list, elastic.expand_list, elastic.depth_list) == (
        "expand_2", (3, 5, 7), (3, 4, 6), (2, 3, 4))
    assert full.sandwich and elastic.sandwich and elastic.n_subnets == 2 and elastic.kd_ratio == 0
    assert elastic.base_lr == full.base_lr and elastic.sort_channels == 0
    assert recipe_phases("reference", space) == progressive_shrinking(space)
    assert not any(p.sandwich for p in progressive_shrinking(space))
    assert [p.name for p in select_phases(recipe_phases("sandwich"), "expand", 2)] == ["expand_2"]
    with pytest.raises(ValueError, match="no phase for task='kernel'"):
        select_phases(recipe_phases("sandwich"), "kernel")
    with pytest.raises(ValueError, match="Unknown recipe 'bignas'; expected one of \\['reference', 'sandwich', "
                                         "'sandwich_phased'\\]"):
        recipe_phases("bignas")
    # a sandwich row may have no random subnets (max and min only); a reference row needs one
    assert dataclasses.replace(elastic, n_subnets=0).n_subnets == 0
    with pytest.raises(ValueError, match="`n_subnets` must be >= 1"):
        dataclasses.replace(progressive_shrinking()[2], n_subnets=0)
    with pytest.raises(ValueError, match="`label_ratio` must be in \\[0, 1\\]. Received label_ratio=1.5"):
        dataclasses.replace(elastic, label_ratio=1.5)


def test_phased_sandwich_keeps_the_reference_phases_as_sandwich_rows():
    from ofa_tf.training.phases import recipe_phases

    space = SearchSpace()
    reference, phased = progressive_shrinking(space), recipe_phases("sandwich_phased", space)
    assert [p.name for p in phased] == [p.name for p in reference]
    for ref, row in zip(reference, phased):
        assert (row.ks_list, row.expand_list, row.depth_list, row.sort_channels) == (
            ref.ks_list, ref.expand_list, ref.depth_list, ref.sort_channels)
        assert (row.epochs, row.warmup_epochs) == (ref.epochs, ref.warmup_epochs)
        assert row.sandwich and row.kd_ratio == 0 and row.base_lr == reference[0].base_lr
        assert row.n_subnets == (0 if row.name == "full" else 2)
    depth_1 = phased[2].step_configs(space, np.random.default_rng(0))
    smallest = space.min_config()
    assert depth_1[:2] == [space.max_config(), dataclasses.replace(smallest, e=(6,) * len(smallest.e), d=(3,) * len(smallest.d))]
    with pytest.raises(ValueError, match="train OFA-ResNets with recipe='reference'"):
        recipe_phases("sandwich_phased", ResNetSearchSpace())


def test_step_subnets_of_a_sandwich_row():
    from ofa_tf.training.phases import recipe_phases

    space = SearchSpace()
    full, elastic = recipe_phases("sandwich", space)
    rng = np.random.default_rng(0)
    assert full.step_configs(space, rng) == [space.max_config()]
    configs = elastic.step_configs(space, rng)
    assert configs[:2] == [space.max_config(), space.min_config()] and len(configs) == 4
    assert len({c for c in configs}) == 4
    expand_1 = progressive_shrinking(space)[4]
    configs = expand_1.step_configs(space, rng)
    assert len(configs) == expand_1.n_subnets == 4 and all(min(c.e) >= 4 for c in configs)
