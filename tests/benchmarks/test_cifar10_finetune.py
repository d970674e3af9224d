"""benchmarks/cifar10_finetune.py: the goals' verdicts and the tables it assembles from saved parts. Its figures are
training runs and live in docs/finetune.md and docs/results/, not in assertions."""
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
ALONE = ("max", "min", "random_0", "random_1")  # cifar10_ps.ALONE


@pytest.fixture(scope="module")
def bench():
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))  # the script imports its sibling cifar10_ps
    try:
        spec = importlib.util.spec_from_file_location("cifar10_finetune", REPO / "benchmarks" / "cifar10_finetune.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


def _parts(alone=0.50, labels=0.51, transfer=0.66, scratch_4=0.60, scratch_14=0.66) -> dict:
    parts = {f"alone_{n}": {"top1": alone, "seconds": 60.0} for n in ALONE}
    parts.update({f"finetune_{n}_labels_lr0.06": {"top1": labels, "tuning_top1": labels, "seconds": 30.0, "lr": 0.06}
                  for n in ALONE})
    for name, top1 in (("transfer_4_lr0.06", transfer), ("scratch_4", scratch_4), ("scratch_14", scratch_14)):
        parts[name] = {"top1": [top1] * 12, "seconds": 120.0, "lr": 0.06 if "lr" in name else 0.03}
    return parts


def test_part_names_carry_a_learning_rate_other_than_the_default(bench):
    assert bench._finetune_part("min", "none") == "finetune_min_labels"
    assert bench._finetune_part("min", "max", 0.03) == "finetune_min"
    assert bench._finetune_part("min", "none", 0.06) == "finetune_min_labels_lr0.06"
    assert bench._finetune_part("min", "none", 0.1, 1, 32) == "finetune_min_labels_lr0.1_warmup1_batch32"
    assert bench._finetune_part("min", "finetuned", 0.06) == "finetune_min_kd_finetuned_max_lr0.06"


def test_fine_tuning_goal_needs_every_subnet_at_or_above_alone(bench):
    met = bench.goal_lines({0: _parts(labels=0.50)})
    assert "- seed 0, fine-tuned, labels only (lr 0.06) vs alone: MET (max +0.0, min +0.0, random_0 +0.0, " \
           "random_1 +0.0)" in met
    parts = _parts()
    parts["finetune_max_labels_lr0.06"]["top1"] = 0.493
    lines = bench.goal_lines({1: parts})
    assert "- seed 1, fine-tuned, labels only (lr 0.06) vs alone: NOT MET (max -0.7, min +1.0, random_0 +1.0, " \
           "random_1 +1.0)" in lines
    assert "- seed 1, fine-tuned, labels only (lr 0.03): incomplete" in lines  # its parts were not run
    parts = _parts()
    parts["alone_min_lr0.06"] = {"top1": 0.515, "lr": 0.06}  # the network's better run trained alone counts
    assert "- seed 0, fine-tuned, labels only (lr 0.06) vs alone: NOT MET (max +1.0, min -0.5, random_0 +1.0, " \
           "random_1 +1.0)" in bench.goal_lines({0: parts})


def test_transfer_goal_is_five_points_over_the_best_4_epoch_scratch_and_level_with_14(bench):
    assert "- seed 0, transferred at lr 0.06, random classifier: MET (+6.0 against the best 4-epoch scratch run, " \
           "goal +5; +0.0 against 14 epochs, goal +0)" in bench.goal_lines({0: _parts()})
    parts = _parts()
    parts["scratch_4_lr0.06"] = {"top1": [0.62] * 12, "seconds": 1.0, "lr": 0.06}  # the better scratch run counts
    assert "- seed 0, transferred at lr 0.06, random classifier: NOT MET (+4.0 against the best 4-epoch scratch " \
           "run, goal +5; +0.0 against 14 epochs, goal +0)" in bench.goal_lines({0: parts})
    below = bench.goal_lines({0: _parts(scratch_14=0.67)})
    assert any(line.startswith("- seed 0, transferred at lr 0.06, random classifier: NOT MET")
               and "-1.0 against 14 epochs" in line
               for line in below)
    parts["transfer_4_lr0.1_warmup1_zero_head"] = {"top1": [0.68] * 12, "lr": 0.1, "warmup_epochs": 1.0,
                                                   "classifier": "zeros"}  # each run of TRANSFER_RUNS is judged
    assert "- seed 0, transferred at lr 0.1, 1 warmup epoch, zero classifier: MET (+6.0 against the best 4-epoch " \
           "scratch run, goal +5; +2.0 against 14 epochs, goal +0)" in bench.goal_lines({0: parts})
    parts["transfer_4_lr0.2_zero_head"] = {"top1": [0.9] * 12, "lr": 0.2, "classifier": "zeros"}  # tried on seed 0 only
    assert not any("lr 0.2" in line for line in bench.goal_lines({0: parts}))
    del parts["scratch_14"]
    assert "- seed 0, transfer_4_lr0.06: incomplete" in bench.goal_lines({0: parts})


def test_table_assembles_the_saved_parts_of_every_seed(bench, tmp_path):
    for seed, labels in ((0, 0.52), (1, 0.49)):
        folder = tmp_path / "out" / f"seed{seed}"
        folder.mkdir(parents=True)
        parts = _parts(labels=labels)
        parts["finetune_min_labels_lr0.1_warmup1"] = {"top1": 0.525, "tuning_top1": 0.53, "seconds": 1.0, "lr": 0.1,
                                                      "warmup_epochs": 1, "teacher": "none"}
        for name, record in parts.items():
            (folder / f"{name}.json").write_text(json.dumps({**record, "load_before": [1.0], "load_after": [2.0]}))
    result = CliRunner().invoke(bench.main, ["--out", str(tmp_path / "out"), "table", "--seeds", "0,1",
                                             "--results", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "results" / "cifar10_finetune.md").read_text()
    assert "- seed 0, fine-tuned, labels only (lr 0.06) vs alone: MET" in text
    assert "- seed 1, fine-tuned, labels only (lr 0.06) vs alone: NOT MET (max -1.0, min -1.0" in text
    assert "| min | d=22222 mean e=3.0 mean k=3.0 |  |  |  | 52.0 | 50.0 |  |  | +2.0 |" in text
    assert "| mean of 12 | | 66.0 | 60.0 | 66.0 |" in text
    assert "seed 1 scratch_14 1.0 -> 2.0" in text
    assert "Other fine-tunes (tuning split / validation): min (labels only, lr 0.1, 1 warmup epoch) 53.0 / 52.5." \
           in text
    saved = json.loads((tmp_path / "results" / "cifar10_finetune.json").read_text())
    assert [s["name"] for s in saved["subnets"]][:4] == ["max", "min", "random_0", "random_1"]
    assert saved["runs"]["1"]["finetune_min_labels_lr0.06"]["top1"] == 0.49
