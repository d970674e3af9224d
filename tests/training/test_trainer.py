import json

import numpy as np
import pytest
from ps_helpers import tiny_proxyless
from ps_helpers import tiny_supernet

from ofa_tf.training import train
from ofa_tf.training.config import TrainConfig


def test_config_errors():
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'"):
        TrainConfig(strategy="gpu")
    with pytest.raises(ValueError, match="only applies to the depth and expand"):
        TrainConfig(task="full", phase=1)
    with pytest.raises(ValueError, match="either `epochs` or `epoch_scale`"):
        TrainConfig(epochs=2, epoch_scale=0.5)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="Unknown phase names"):
        TrainConfig(phase_epochs={"width": 1})


def test_phase_needs_its_predecessor(tmp_path, digits):
    with pytest.raises(ValueError, match="starts from the weights of phase depth_2"):
        train(tiny_supernet(), digits, tmp_path, task="expand", phase=1)
    with pytest.raises(ValueError, match="starts from the weights of phase full"):
        train(tiny_supernet(), digits, tmp_path, task="kernel")


def _weights(net):
    return [v.numpy() for v in net.variables]


@pytest.mark.slow
def test_training_lowers_loss_with_one_trace(tmp_path, digits):
    result = train(
        tiny_supernet(ks_list=(3,), dropout_rate=0.0), digits, tmp_path, task="full", epochs=4, batch_size=32,
        steps_per_epoch=15, image_sizes=(16, 20, 24), lr=0.1, warmup_epochs=0, validate=True,
        calibration_images=64, verbose=0,
    )
    epochs = [r for r in result.history if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["loss"] < epochs[0]["loss"] - 0.1
    assert result.trace_counts == {"full": 1}  # 60 steps over 3 resolutions, one trace
    assert result.completed and result.phases == ["full"]
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {r["event"] for r in lines} == {"epoch", "validation"}
    config = json.loads((tmp_path / "config_full.json").read_text())
    assert config["phases"][0]["name"] == "full" and config["steps_per_epoch"] == 15
    assert (tmp_path / "weights" / "full.weights.h5").is_file()
    _assert_validation_records(lines, tmp_path / "weights" / "full.weights.h5", digits)
    _assert_tensorboard_scalars(tmp_path / "tensorboard", lines, n_train_points=60 // 10)
    with pytest.raises(FileExistsError, match="resume"):
        train(tiny_supernet(ks_list=(3,)), digits, tmp_path, task="full", epochs=1, verbose=0)


def _assert_validation_records(lines, weights, digits):
    """After `full` (ks 3 only, so max and min are one subnet): max and min at the smallest and largest training size,
    each record the top-1/top-5 that an independent `evaluate` of the saved phase weights gives."""
    from ofa_tf.training import evaluate
    from ofa_tf.zoo import load_weights

    val = {(r["subnet"], r["resolution"]): r for r in lines if r["event"] == "validation"}
    assert set(val) == {("max", 16), ("min", 16), ("max", 24), ("min", 24)}
    assert all(r["phase"] == "full" for r in val.values())
    for r in (16, 24):
        assert val["max", r]["top1"] == val["min", r]["top1"] and val["max", r]["top5"] == val["min", r]["top5"]
    net = tiny_supernet(ks_list=(3,), dropout_rate=0.0)
    load_weights(net, weights)
    space = net.search_space
    configs = [space.max_config().with_resolution(r) for r in (16, 24)]
    expected = evaluate(net, digits, configs, calibrate_bn=64)
    for res in expected:
        record = val["max", res.resolution]
        assert (record["top1"], record["top5"]) == (res.top1, res.top5)
        count = record["top1"] * digits.num_validation  # a count of validation images
        assert count == pytest.approx(round(count), abs=1e-6)


def _assert_tensorboard_scalars(folder, lines, n_train_points):
    """The event file holds the run's scalars: per-step loss and lr every `log_every` steps, per-epoch loss and speed,
    and the validation top-1 of each (subnet, resolution), with the values of metrics.jsonl."""
    import tensorflow as tf

    (events,) = folder.iterdir()
    scalars = {}
    for event in tf.compat.v1.train.summary_iterator(str(events)):
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    val = [r for r in lines if r["event"] == "validation"]
    assert set(scalars) == {"train/loss", "train/lr", "epoch/loss", "epoch/images_per_sec",
                            *(f"val/full/{r['subnet']}_{r['resolution']}/top1" for r in val)}
    assert len(val) == 4
    epochs = [r for r in lines if r["event"] == "epoch"]
    assert [step for step, _ in scalars["epoch/loss"]] == [r["global_step"] for r in epochs] == [15, 30, 45, 60]
    assert [v for _, v in scalars["epoch/loss"]] == pytest.approx([r["loss"] for r in epochs], rel=1e-6)
    assert [v for _, v in scalars["epoch/images_per_sec"]] == pytest.approx([r["images_per_sec"] for r in epochs],
                                                                            rel=1e-6)
    assert [step for step, _ in scalars["train/loss"]] == [10 * (i + 1) for i in range(n_train_points)]
    assert len(scalars["train/lr"]) == n_train_points
    for r in val:
        ((step, top1),) = scalars[f"val/full/{r['subnet']}_{r['resolution']}/top1"]
        assert step == 60 and top1 == pytest.approx(r["top1"], rel=1e-6)


@pytest.mark.slow
def test_resume_matches_uninterrupted_run(tmp_path, digits):
    """expand phase 1 (channel sorting, teacher, 2 subnets/step, dropout): interrupted after 4 of 6 steps."""
    start = tiny_supernet(ks_list=(3,), seed=3)
    start.save_weights(str(tmp_path / "start.weights.h5"))
    options = dict(
        task="expand", phase=1, epochs=2, batch_size=16, steps_per_epoch=3, image_sizes=(16, 20), n_subnets=2,
        teacher=str(tmp_path / "start.weights.h5"), init_weights=str(tmp_path / "start.weights.h5"),
        validate=False, verbose=0,
    )
    full = train(tiny_supernet(ks_list=(3,)), digits, tmp_path / "a", **options)
    stopped = train(tiny_supernet(ks_list=(3,)), digits, tmp_path / "b", max_steps=4, **options)
    assert full.completed and not stopped.completed
    assert full.trace_counts == {"expand_1": 1}
    resumed = train(tiny_supernet(ks_list=(3,)), digits, tmp_path / "b", resume=True, **options)
    assert resumed.completed
    moved = 0
    for a, b, s in zip(_weights(full.supernet), _weights(resumed.supernet), _weights(start)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
        moved += not np.allclose(a, s)
    assert moved > 10  # training changed the weights, so the comparison is meaningful


@pytest.mark.slow
def test_whole_schedule_traces_twice(tmp_path, digits):
    """Six phases with 1 or 2 subnets per step, kd on or off, share two traces: without and with teacher."""
    result = train(
        tiny_supernet(), digits, tmp_path, task="all", epochs=1, batch_size=16, steps_per_epoch=2,
        image_sizes=(16, 20), validate=False, verbose=0,
    )
    assert result.completed and len(result.phases) == 6
    assert result.trace_counts == {"full": 1, "kernel": 1, "depth_1": 0, "depth_2": 0, "expand_1": 0, "expand_2": 0}


@pytest.mark.slow
def test_proxyless_progressive_shrinking_runs_every_phase(tmp_path, digits):
    """ProxylessNAS through the whole schedule (2 steps per phase): two traces, channels sorted, weights saved."""
    result = train(
        tiny_proxyless(), digits, tmp_path, task="all", epochs=1, batch_size=16, steps_per_epoch=2,
        image_sizes=(16,), validate=False, verbose=0,
    )
    assert result.completed and result.phases == ["full", "kernel", "depth_1", "depth_2", "expand_1", "expand_2"]
    assert result.trace_counts == {"full": 1, "kernel": 1, "depth_1": 0, "depth_2": 0, "expand_1": 0, "expand_2": 0}
    assert all((tmp_path / "weights" / f"{p}.weights.h5").is_file() for p in result.phases)
    config = json.loads((tmp_path / "config_all.json").read_text())
    assert config["net"]["class"] == "OFAProxylessNASNets"
    assert [p["sort_channels"] for p in config["phases"]][-2:] == [0, 1]
    assert np.isfinite([r["loss"] for r in result.history if r["event"] == "epoch"]).all()


def test_recipe_and_subnet_options():
    from ofa_tf.families.mbconv.space import SearchSpace

    assert TrainConfig().recipe == "reference"
    with pytest.raises(ValueError, match="Unknown recipe 'bignas'"):
        TrainConfig(recipe="bignas")
    with pytest.raises(ValueError, match="no phase for task='depth'"):
        TrainConfig(recipe="sandwich", task="depth")
    with pytest.raises(ValueError, match="Unknown phase names in `phase_epochs`: \\['kernel'\\]"):
        TrainConfig(recipe="sandwich", phase_epochs={"full": 2, "kernel": 1})
    TrainConfig(recipe="sandwich", n_subnets=0)  # max and min only
    with pytest.raises(ValueError, match="`phase_epochs\\['full'\\]`: expected an int >= 0 \\(0 drops the phase\\). "
                                         "Received -1"):
        TrainConfig(recipe="sandwich", phase_epochs={"full": -1})
    with pytest.raises(ValueError, match="drops every phase of recipe 'sandwich' \\(\\['full', 'expand_2'\\]\\)"):
        TrainConfig(recipe="sandwich", phase_epochs={"full": 0, "expand_2": 0})
    with pytest.raises(ValueError, match="no phase for task='full'"):  # the dropped row is not there to select
        TrainConfig(recipe="sandwich", task="full", phase_epochs={"full": 0})
    with pytest.raises(ValueError, match="n_subnets=-1"):
        TrainConfig(n_subnets=-1)
    with pytest.raises(ValueError, match="`label_ratio`: expected a float in \\[0, 1\\]. Received label_ratio=-0.5"):
        TrainConfig(recipe="sandwich", label_ratio=-0.5)
    config = SearchSpace().min_config()
    assert TrainConfig(task="full", subnet=config.to_dict()).subnet == config
    with pytest.raises(ValueError, match="with task='full'; received task='all'"):
        TrainConfig(subnet=config)


def test_subnet_must_fit_the_supernet(tmp_path, digits):
    net = tiny_supernet()
    bad = net.search_space.max_config().to_dict()
    bad["ks"] = [7] * len(bad["ks"])
    with pytest.raises(ValueError, match="Invalid value for `ks`\\[0\\]: expected one of \\[3, 5\\]"):
        train(net, digits, tmp_path, task="full", subnet=bad)


@pytest.mark.slow
def test_sandwich_recipe_one_trace_and_resume(tmp_path, digits):
    """full → expand_2 with max + min + 1 random subnet per step: one trace for both phases; an interrupted run
    resumed from its checkpoint ends where the uninterrupted one does."""
    options = dict(recipe="sandwich", epochs=1, batch_size=16, steps_per_epoch=3, image_sizes=(16, 20), n_subnets=1,
                   label_ratio=0.25, validate=False, verbose=0)
    full = train(tiny_supernet(ks_list=(3,), seed=2), digits, tmp_path / "a", **options)
    assert full.completed and full.phases == ["full", "expand_2"]
    assert full.trace_counts == {"full": 1, "expand_2": 0}  # the step of `full` is reused
    stopped = train(tiny_supernet(ks_list=(3,), seed=2), digits, tmp_path / "b", max_steps=4, **options)
    assert not stopped.completed
    resumed = train(tiny_supernet(ks_list=(3,), seed=2), digits, tmp_path / "b", resume=True, **options)
    assert resumed.completed
    for a, b in zip(_weights(full.supernet), _weights(resumed.supernet)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    config = json.loads((tmp_path / "a" / "config_all.json").read_text())
    assert config["options"]["recipe"] == "sandwich" and [p["sandwich"] for p in config["phases"]] == [True, True]
    assert [p["label_ratio"] for p in config["phases"]] == [0.25, 0.25]


@pytest.mark.slow
def test_sandwich_without_the_full_row_trains_the_whole_space_from_random_weights(tmp_path, digits):
    """`phase_epochs={"full": 0}` drops the full row: expand_2 is the recipe's first phase and starts from the
    supernet's random weights (no earlier weights needed), on one trace."""
    net = tiny_supernet(ks_list=(3,), seed=2)
    start = [w.copy() for w in _weights(net)]
    result = train(net, digits, tmp_path, recipe="sandwich", phase_epochs={"full": 0, "expand_2": 2}, batch_size=16,
                   steps_per_epoch=2, image_sizes=(16,), n_subnets=1, validate=False, verbose=0)
    assert result.completed and result.phases == ["expand_2"] and result.trace_counts == {"expand_2": 1}
    assert not (tmp_path / "weights" / "full.weights.h5").exists()
    assert any(not np.allclose(a, b) for a, b in zip(start, _weights(result.supernet)))
    config = json.loads((tmp_path / "config_all.json").read_text())
    assert [(p["name"], p["epochs"] + p["warmup_epochs"]) for p in config["phases"]] == [("expand_2", 2)]
    with pytest.raises(ValueError, match="no phase for task='full'"):
        train(tiny_supernet(ks_list=(3,)), digits, tmp_path / "b", recipe="sandwich", task="full",
              phase_epochs={"full": 0})


@pytest.mark.slow
def test_phased_sandwich_runs_every_phase_on_one_trace(tmp_path, digits):
    """The sandwich rule inside the reference's phases: six phases (channels sorted before expand 1 and 2), one
    trace, no teacher."""
    result = train(tiny_supernet(seed=2), digits, tmp_path, recipe="sandwich_phased", epochs=1, batch_size=16,
                   steps_per_epoch=2, image_sizes=(16,), validate=False, verbose=0)
    assert result.completed and result.phases == ["full", "kernel", "depth_1", "depth_2", "expand_1", "expand_2"]
    assert sum(result.trace_counts.values()) == 1
    config = json.loads((tmp_path / "config_all.json").read_text())
    assert all(p["sandwich"] and p["kd_ratio"] == 0 for p in config["phases"])
