"""Training recipes on real data: CIFAR-10, the reference and the sandwich recipe against networks trained alone.

    nohup python benchmarks/cifar10_ps.py --out /tmp/cifar10_ps > /tmp/cifar10_ps.log 2>&1 &

Trains a small-image OFA-MobileNetV3 (width 0.5, stride-2 stem so 32 px inputs run at 16x16 after the
stem, to fit a CPU-hour) on a seeded subset of the CIFAR-10 training folder (validation images carved from
it) with the recipes of `ofa_tf.training.phases` at the same total epochs:
- reference: full → kernel → depth 1, 2 → expand 1, 2 (`--phase-epochs`);
- sandwich: every epoch on the whole space from random weights (max + min + random subnets, in-place
  distillation; `phase_epochs={"full": 0}` drops the recipe's full row: docs/training.md says why);
- sandwich_phased: the reference's phases and epochs, every phase a sandwich phase.
The sandwich recipes and the baselines train at `--lr` (tuned for this budget; the reference recipe keeps its
rows' rates, `progressive_shrinking()`). Baselines, each for the same total epochs: the sandwich_phased run's
`full` network continued at full size only, and the max, the min and two random subnets of the table each trained
alone from scratch (the supernet pinned to that subnet, `train(..., subnet=...)`). Every network is evaluated (BN
recalibrated per subnet) on the same max, min and random subnets; the Markdown table is printed and written to
`<out>/cifar10_ps.md`.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402

from ofa_tf.shared_data import ENV_VAR  # noqa: E402
from ofa_tf.shared_data import shared_dir  # noqa: E402
from ofa_tf.data import load_dataset  # noqa: E402
from ofa_tf.run_folder import RunFolder  # noqa: E402
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3  # noqa: E402
from ofa_tf.training import evaluate  # noqa: E402
from ofa_tf.training import train  # noqa: E402
from ofa_tf.training.evaluation import parse_subnets  # noqa: E402

PHASE_EPOCHS = {"full": 6, "kernel": 2, "depth_1": 1, "depth_2": 2, "expand_1": 1, "expand_2": 2}
RECIPES = ("reference", "sandwich", "sandwich_phased")
ALONE = ("max", "min", "random_0", "random_1")  # the subnets also trained alone


def build_net(n_classes: int) -> OFAMobileNetV3:
    return OFAMobileNetV3(
        n_classes=n_classes, width_mult=0.5, first_stride=2, stage_strides=(1, 2, 2, 1, 2),
        resolutions=(24, 28, 32), name="ofa_cifar_w0_5",
    )


def describe(config) -> str:
    return f"d={''.join(map(str, config.d))} mean e={sum(config.e) / len(config.e):.1f} mean k={sum(config.ks) / len(config.ks):.1f}"


def default_data_dir() -> str:
    return str(shared_dir() / "data" / "cifar10" / "train")


def load_cifar(data_dir: str, validation_images: int):
    """The CIFAR-10 folder with `validation_images` held out (split seed 0), decoded once into memory."""
    data = load_dataset(data_dir, validation_split=validation_images, seed=0)
    data._materialize()  # decode the folder once, shared by every run and the evaluation
    return data


def table_subnets(n_classes: int, random_subnets: int = 10) -> list:
    """The table's named subnets at 32 px: max, min and `random_subnets` random ones (seed 0)."""
    subnets = parse_subnets(f"max,min,random:{random_subnets}", build_net(n_classes).search_space, seed=0)
    return [(name, config.with_resolution(32)) for name, config in subnets]


def sandwich_options(total_epochs: int, lr: float, label_ratio: float) -> dict:
    """`train` options of the benchmark's sandwich column: every epoch on the whole space from random weights."""
    return dict(recipe="sandwich", task="all", phase_epochs={"full": 0, "expand_2": total_epochs}, lr=lr,
                label_ratio=label_ratio)


@click.command()
@click.option("--data", "data_dir", default=default_data_dir(), show_default=True,
              help=f"CIFAR-10 training folder root/<class>/<image> (default: data/cifar10/train in ${ENV_VAR}, "
                   "else in ../shared beside the repository).")
@click.option("--out", default="/tmp/cifar10_ps", show_default=True, type=click.Path(file_okay=False))
@click.option("--train-images", default=6000, show_default=True)
@click.option("--validation-images", default=10000, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--phase-epochs", default=json.dumps(PHASE_EPOCHS), show_default=True,
              help="JSON dict of the reference recipe; the sandwich recipe runs their sum on the whole space.")
@click.option("--lr", default=0.03, show_default=True,
              help="Learning rate of the sandwich recipes and the baselines (docs/training.md: 0.03 beat 0.08125 "
                   "and 0.015 for the max subnet trained alone); the reference recipe keeps its rows' rates.")
@click.option("--label-ratio", default=1.0, show_default=True,
              help="The labels' share of the taught subnets' loss in the sandwich recipes (docs/training.md: 1, the "
                   "labels only, beat 0.5 and 0, in-place distillation only, on this budget).")
@click.option("--calibrate-bn", default=1000, show_default=True)
@click.option("--random-subnets", default=10, show_default=True)
@click.option("--steps-per-epoch", default=None, type=int, help="Cap (smoke tests).")
@click.option("--resume", is_flag=True)
def main(data_dir, out, train_images, validation_images, batch_size, phase_epochs, lr, label_ratio, calibrate_bn,
         random_subnets, steps_per_epoch, resume):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(out)
    phase_epochs = json.loads(phase_epochs)
    total_epochs = sum(phase_epochs.values())
    sandwich = sandwich_options(total_epochs, lr, label_ratio)
    sandwich_epochs = sandwich["phase_epochs"]
    data = load_cifar(data_dir, validation_images)
    common = dict(batch_size=batch_size, train_images=train_images, image_sizes=(24, 28, 32), validate=False,
                  steps_per_epoch=steps_per_epoch, verbose=2, resume=resume)
    subnets = table_subnets(data.num_classes, random_subnets)
    configs = [c for _, c in subnets]
    seconds, columns = {}, {}

    def run(name, **options):
        start = time.time()
        result = train(build_net(data.num_classes), data, out / name, **common, **options)
        seconds[name] = time.time() - start
        return result.supernet

    recipe_options = {
        "reference": dict(recipe="reference", task="all", phase_epochs=phase_epochs),
        "sandwich": sandwich,
        "sandwich_phased": dict(recipe="sandwich_phased", task="all", phase_epochs=phase_epochs, lr=lr,
                                label_ratio=label_ratio),
    }
    for recipe, options in recipe_options.items():
        supernet = run(recipe, **options)
        columns[recipe] = [r.top1 for r in evaluate(supernet, data, configs, calibrate_bn=calibrate_bn)]
    full_only = run("full_only", task="full", epochs=total_epochs - phase_epochs["full"], lr=lr,
                    init_weights=str(RunFolder(out / "sandwich_phased").weights_path("full")))
    columns["full_only"] = [r.top1 for r in evaluate(full_only, data, configs, calibrate_bn=calibrate_bn)]
    alone = {}
    for (name, _), config in zip(subnets, configs):
        if name in ALONE:
            net = run(f"alone_{name}", task="full", epochs=total_epochs, lr=lr, subnet=config.with_resolution(None))
            (result,) = evaluate(net, data, [config], calibrate_bn=calibrate_bn)
            alone[name] = result.top1

    lines = [
        f"CIFAR-10, {train_images} training / {data.num_validation} validation images, 32 px, {total_epochs} epochs "
        f"per network (reference: {', '.join(f'{k} {v}' for k, v in phase_epochs.items())}; sandwich: "
        f"{', '.join(f'{k} {v}' for k, v in sandwich_epochs.items())}; sandwich_phased: the reference's); learning "
        f"rate {lr} for the sandwich recipes and the baselines (reference recipe: its rows' rates), labels' share "
        f"of the taught subnets' loss {label_ratio}; top-1 (%) on the validation images after BN recalibration on "
        f"{calibrate_bn} training images.",
        "",
        "| subnet | architecture | reference recipe | sandwich recipe | sandwich in phases | full-size only "
        "| trained alone |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, (name, config) in enumerate(subnets):
        cells = [f"{100 * columns[k][i]:.1f}" for k in (*RECIPES, "full_only")]
        cells.append(f"{100 * alone[name]:.1f}" if name in alone else "")
        lines.append(f"| {name} | {describe(config)} | {' | '.join(cells)} |")
    means = [f"{100 * sum(columns[k]) / len(configs):.1f}" for k in (*RECIPES, "full_only")]
    lines.append(f"| mean of {len(configs)} | | {' | '.join(means)} | |")
    lines += ["", "Wall time (2-core CPU): " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in seconds.items())
              + " (full_only: the continuation only; it starts from the sandwich_phased run's `full` weights)."]
    table = "\n".join(lines)
    click.echo(table)
    (out / "cifar10_ps.md").write_text(table + "\n")
    (out / "cifar10_ps.json").write_text(json.dumps(
        {"subnets": [{"name": n, **c.to_dict()} for n, c in subnets], "top1": columns, "alone": alone,
         "seconds": seconds, "phase_epochs": phase_epochs, "sandwich_epochs": sandwich_epochs,
         "train_images": train_images, "lr": lr, "label_ratio": label_ratio}, indent=2))


if __name__ == "__main__":
    main()
