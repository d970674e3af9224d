"""What a run trains (`ofa_tf.training.schedule`): phases with the run's options, learning rates, and what an output
folder lets it train."""
from pathlib import Path

import pytest

from ofa_tf.run_folder import RunFolder
from ofa_tf import SearchSpace
from ofa_tf.training.config import TrainConfig
from ofa_tf.training.schedule import check_out_dir
from ofa_tf.training.schedule import initial_weights
from ofa_tf.training.schedule import learning_rate
from ofa_tf.training.schedule import resolve_phases
from ofa_tf.training.schedule import teacher_weights

NET_ID = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


def test_resolve_phases_applies_the_run_options():
    config = TrainConfig(task="depth", epochs=4, warmup_epochs=1, n_subnets=3, kd_ratio=0.5, label_ratio=0.25)
    phases = resolve_phases(config, SearchSpace(), "OFAMobileNetV3")
    assert [p.name for p in phases] == ["depth_1", "depth_2"]
    for p in phases:
        assert (p.total_epochs, p.warmup_epochs, p.epochs) == (4, 1, 3)
        assert (p.n_subnets, p.kd_ratio, p.label_ratio) == (3, 0.5, 0.25)
    full = resolve_phases(TrainConfig(task="full", kd_ratio=0.5, epoch_scale=0.1), SearchSpace(), "OFAMobileNetV3")
    assert [(p.name, p.kd_ratio, p.total_epochs) for p in full] == [("full", 0.0, 18)]  # 180 epochs x 0.1, no teacher
    with_teacher = resolve_phases(TrainConfig(task="all", teacher="t.weights.h5"), SearchSpace(), "OFAMobileNetV3")
    assert [p.name for p in with_teacher] == ["kernel", "depth_1", "depth_2", "expand_1", "expand_2"]
    with pytest.raises(ValueError, match=r"warmup_epochs=4 must be in \[0, 4\) for phase depth_1"):
        resolve_phases(TrainConfig(task="depth", epochs=4, warmup_epochs=4), SearchSpace(), "OFAMobileNetV3")


def test_learning_rate_scales_the_phase_rate_to_the_batch():
    (kernel,) = resolve_phases(TrainConfig(task="kernel"), SearchSpace(), "OFAMobileNetV3")
    schedule = learning_rate(kernel, TrainConfig(batch_size=128), steps_per_epoch=10)
    assert schedule.init_lr == pytest.approx(0.03 * 128 / 64)
    assert (schedule.total_steps, schedule.warmup_steps) == (125 * 10, 5 * 10)
    assert schedule.warmup_lr == pytest.approx(0.03)  # min(base rate, initial rate)
    assert learning_rate(kernel, TrainConfig(batch_size=128, lr=0.01), 10).init_lr == 0.01


def test_out_dir_policy(tmp_path):
    folder = RunFolder(tmp_path)
    folder.weights_path("full").parent.mkdir()
    folder.weights_path("full").write_bytes(b"")
    folder.write_config("full", {"net": NET_ID})
    check_out_dir(folder, TrainConfig(task="kernel"), NET_ID, None)  # another phase: allowed
    with pytest.raises(FileExistsError, match=r"already holds the finished phase\(s\) full \(weights/full.weights.h5, "
                                              r"metrics.jsonl\); pass --overwrite"):
        check_out_dir(folder, TrainConfig(task="full"), NET_ID, None)
    check_out_dir(folder, TrainConfig(task="full", overwrite=True), NET_ID, None)
    with pytest.raises(ValueError, match=f"holds a training run of {NET_ID} \\(config_full.json\\), not of other"):
        check_out_dir(folder, TrainConfig(task="kernel"), "other", None)
    with pytest.raises(ValueError, match="init_weights=.* \\(--init\\) are the weights of phase full"):
        check_out_dir(folder, TrainConfig(task="full", overwrite=True, init_weights=str(folder.weights_path("full"))),
                      NET_ID, None)


def test_initial_and_teacher_weights(tmp_path):
    folder = RunFolder(tmp_path / "run")
    rows = resolve_phases(TrainConfig(), SearchSpace(), "OFAMobileNetV3")
    full, kernel, depth_1 = rows[:3]
    assert initial_weights(folder, TrainConfig(), rows, full) is None  # the recipe's first row: random
    with pytest.raises(ValueError, match="Phase kernel starts from the weights of phase full: run it into the same"):
        initial_weights(folder, TrainConfig(task="kernel"), rows, kernel)
    with pytest.raises(ValueError, match="Distillation needs the full network as teacher"):
        teacher_weights(folder, TrainConfig())
    folder.weights_path("full").parent.mkdir(parents=True)
    folder.weights_path("full").write_bytes(b"")
    assert initial_weights(folder, TrainConfig(task="kernel"), rows, kernel) == folder.weights_path("full")
    assert teacher_weights(folder, TrainConfig()) == folder.weights_path("full")
    assert initial_weights(folder, TrainConfig(init_weights="w.h5"), rows, depth_1) == Path("w.h5")
    with pytest.raises(ValueError, match="Phase depth_1 starts from the weights of phase kernel"):
        initial_weights(folder, TrainConfig(task="depth", phase=1), rows, depth_1)
    other = RunFolder(tmp_path / "other")  # a teacher given as a run folder: its `full` phase
    with pytest.raises(FileNotFoundError, match="Teacher weights not found: .*other/weights/full.weights.h5"):
        teacher_weights(folder, TrainConfig(teacher=str(other.root.mkdir() or other.root)))
    assert teacher_weights(other, TrainConfig(teacher=str(tmp_path / "run"))) == folder.weights_path("full")
