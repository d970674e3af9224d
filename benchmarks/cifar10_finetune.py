"""Fine-tuning extracted subnets and moving a supernet to new classes, on CIFAR-10 (docs/finetune.md).

Each part is one invocation that saves `<out>/seed<S>/<part>.json`, so a long benchmark runs in pieces (one at a
time under a CPU lock on a shared machine) and `table` assembles every seed's parts:

    python benchmarks/cifar10_finetune.py supernet --seed 0        # the sandwich supernet of cifar10_ps.py
    python benchmarks/cifar10_finetune.py finetune --seed 0 --subnet min   # max, min, random_0, random_1
    python benchmarks/cifar10_finetune.py alone --seed 0 --subnet min      # the same network trained alone
    python benchmarks/cifar10_finetune.py source --seed 0          # transfer: supernet on the first 5 classes
    python benchmarks/cifar10_finetune.py transfer --seed 0        # ... moved to the other 5, new classifier
    python benchmarks/cifar10_finetune.py scratch --seed 0 --epochs 4      # and 14: the other 5 from scratch
    python benchmarks/cifar10_finetune.py table                    # docs/results/cifar10_finetune.{md,json}

1. Fine-tuning: the sandwich supernet of `cifar10_ps.py` at its best setting (14 epochs on the whole space from
   random weights, lr 0.03, label_ratio 1, 6,000 training images) once; then its max, min and two random subnets
   each extracted and fine-tuned for `--finetune-epochs` (4) with `ofa_tf.finetune` (distilled from the max
   subnet), against the same architectures trained alone for 14 epochs (`train(..., subnet=...)`, as
   `cifar10_ps.py`). Top-1 on the 10,000 held-out validation images of `cifar10_ps.py`.
2. Transfer: CIFAR-10 split into two 5-class tasks (folders of symlinks to the class folders). A sandwich
   supernet trained on the first (14 epochs, 3,000 images) moves to the second with a new classifier
   (`train(..., init_weights=..., new_classifier=True)`, the sandwich row for 4 epochs), against sandwich
   supernets trained on the second from scratch for 4 and 14 epochs; the 12 subnets of the cifar10_ps table, each
   BN-recalibrated, on 5,000 held-out images of the second task.
Every training run takes its data order, augmentation, image subset and subnet sampling from `--seed`; the
validation images (split seed 0) and the table's subnets are the same for every seed.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402
from cifar10_ps import ALONE  # noqa: E402
from cifar10_ps import build_net  # noqa: E402
from cifar10_ps import default_data_dir  # noqa: E402
from cifar10_ps import describe  # noqa: E402
from cifar10_ps import load_cifar  # noqa: E402
from cifar10_ps import sandwich_options  # noqa: E402
from cifar10_ps import table_subnets  # noqa: E402

from ofa_tf.run_folder import weights_path  # noqa: E402

TASKS = {"a": ("airplane", "automobile", "bird", "cat", "deer"), "b": ("dog", "frog", "horse", "ship", "truck")}
EPOCHS = 14  # the supernet's and the networks trained alone (cifar10_ps.py)
LR, LABEL_RATIO = 0.03, 1.0  # cifar10_ps.py's best sandwich setting (README "Measured figures")
COMMON = dict(batch_size=64, image_sizes=(24, 28, 32), validate=False, verbose=2)
CALIBRATE_BN = 1000
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _part_file(out: Path, seed: int, part: str) -> Path:
    return out / f"seed{seed}" / f"{part}.json"


def _save(out: Path, seed: int, part: str, record: dict) -> None:
    path = _part_file(out, seed, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**record, "part": part, "seed": seed, "load_after": os.getloadavg()}
    path.write_text(json.dumps(record, indent=2) + "\n")
    click.echo(f"Wrote {path}")


def _timed(function, *args, **kwargs):
    start = time.time()
    result = function(*args, **kwargs)
    return result, time.time() - start


def _evaluate_table(net, data) -> list[float]:
    from ofa_tf.training import evaluate

    configs = [c for _, c in table_subnets(data.num_classes)]
    return [r.top1 for r in evaluate(net, data, configs, calibrate_bn=CALIBRATE_BN)]


def _task_data(out: Path, task: str, validation_images: int, data_dir: str):
    """The 5-class task's folder (symlinks to the CIFAR-10 class folders) with its own held-out images."""
    folder = out / "tasks" / task
    folder.mkdir(parents=True, exist_ok=True)
    for name in TASKS[task]:
        link = folder / name
        if not link.exists():
            link.symlink_to(Path(data_dir).resolve() / name, target_is_directory=True)
    return load_cifar(str(folder), validation_images)


@click.group()
@click.option("--out", default="/tmp/cifar10_finetune", show_default=True, type=click.Path(file_okay=False))
@click.option("--data", "data_dir", default=default_data_dir(), show_default=True,
              help="CIFAR-10 training folder root/<class>/<image>.")
@click.option("--validation-images", default=10000, show_default=True,
              help="Held out of the 10 classes (part 1); half as many of each 5-class task (part 2).")
@click.pass_context
def main(ctx, out, data_dir, validation_images):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = dict(out=Path(out), data_dir=data_dir, validation_images=validation_images,
                   load_before=os.getloadavg())


def _seed_option(function):
    return click.option("--seed", type=int, required=True, help="Training seed of this run.")(function)


@main.command()
@_seed_option
@click.option("--train-images", default=6000, show_default=True)
@click.pass_obj
def supernet(obj, seed, train_images):
    """Part 1: the sandwich supernet (cifar10_ps.py's best setting), and its 12 subnets as extracted."""
    from ofa_tf.training import train

    data = load_cifar(obj["data_dir"], obj["validation_images"])
    folder = obj["out"] / f"seed{seed}" / "supernet"
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, train_images=train_images, seed=seed,
                             **COMMON, **sandwich_options(EPOCHS, LR, LABEL_RATIO))
    top1 = _evaluate_table(result.supernet, data)
    _save(obj["out"], seed, "supernet", dict(seconds=seconds, top1=top1, train_images=train_images,
                                             weights=str(weights_path(folder)), load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--subnet", "name", type=click.Choice(ALONE), required=True)
@click.option("--finetune-epochs", default=4, show_default=True)
@click.option("--lr", default=LR, show_default=True, help="Fine-tuning learning rate (cosine to 0).")
@click.option("--train-images", default=6000, show_default=True)
@click.pass_obj
def finetune(obj, seed, name, finetune_epochs, lr, train_images):
    """Part 1: one subnet of the supernet fine-tuned (distilled from the max subnet)."""
    import ofa_tf

    data = load_cifar(obj["data_dir"], obj["validation_images"])
    config = dict(table_subnets(data.num_classes))[name]
    net = build_net(data.num_classes)
    ofa_tf.load_weights(net, weights_path(obj["out"] / f"seed{seed}" / "supernet"))
    folder = obj["out"] / f"seed{seed}" / f"finetune_{name}"
    result, seconds = _timed(ofa_tf.finetune, net, config, data, folder, epochs=finetune_epochs, lr=lr,
                             batch_size=COMMON["batch_size"], train_images=train_images, seed=seed,
                             calibrate_bn=CALIBRATE_BN, validate=False, verbose=2, data_name=obj["data_dir"],
                             validation_split=obj["validation_images"], split_seed=0)
    accuracy = ofa_tf.evaluate_model(result.model, data)
    _save(obj["out"], seed, f"finetune_{name}", dict(
        seconds=seconds, top1=accuracy.top1, top5=accuracy.top5, epochs=finetune_epochs, lr=lr,
        config=config.to_dict(), load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--subnet", "name", type=click.Choice(ALONE), required=True)
@click.option("--train-images", default=6000, show_default=True)
@click.pass_obj
def alone(obj, seed, name, train_images):
    """Part 1: one subnet's architecture trained alone from scratch for 14 epochs (cifar10_ps.py's baseline)."""
    from ofa_tf.training import evaluate
    from ofa_tf.training import train

    data = load_cifar(obj["data_dir"], obj["validation_images"])
    config = dict(table_subnets(data.num_classes))[name]
    folder = obj["out"] / f"seed{seed}" / f"alone_{name}"
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, task="full", epochs=EPOCHS, lr=LR,
                             subnet=config.with_resolution(None), train_images=train_images, seed=seed, **COMMON)
    (accuracy,) = evaluate(result.supernet, data, [config], calibrate_bn=CALIBRATE_BN)
    _save(obj["out"], seed, f"alone_{name}", dict(seconds=seconds, top1=accuracy.top1, top5=accuracy.top5,
                                                  config=config.to_dict(), load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--train-images", default=3000, show_default=True)
@click.pass_obj
def source(obj, seed, train_images):
    """Part 2: the sandwich supernet on the first 5 classes."""
    from ofa_tf.training import train

    data = _task_data(obj["out"], "a", obj["validation_images"] // 2, obj["data_dir"])
    folder = obj["out"] / f"seed{seed}" / "source"
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, train_images=train_images, seed=seed,
                             **COMMON, **sandwich_options(EPOCHS, LR, LABEL_RATIO))
    top1 = _evaluate_table(result.supernet, data)
    _save(obj["out"], seed, "source", dict(seconds=seconds, top1=top1, classes=data.class_names,
                                           train_images=train_images, load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--epochs", default=4, show_default=True)
@click.option("--train-images", default=3000, show_default=True)
@click.pass_obj
def transfer(obj, seed, epochs, train_images):
    """Part 2: the first task's supernet moved to the other 5 classes (new classifier), sandwich for `epochs`."""
    from ofa_tf.training import train

    data = _task_data(obj["out"], "b", obj["validation_images"] // 2, obj["data_dir"])
    body = weights_path(obj["out"] / f"seed{seed}" / "source")
    folder = obj["out"] / f"seed{seed}" / f"transfer_{epochs}"
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, train_images=train_images, seed=seed,
                             init_weights=str(body), new_classifier=True, **COMMON,
                             **sandwich_options(epochs, LR, LABEL_RATIO))
    top1 = _evaluate_table(result.supernet, data)
    _save(obj["out"], seed, f"transfer_{epochs}", dict(seconds=seconds, top1=top1, epochs=epochs,
                                                       classes=data.class_names, train_images=train_images,
                                                       load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--epochs", required=True, type=int)
@click.option("--train-images", default=3000, show_default=True)
@click.pass_obj
def scratch(obj, seed, epochs, train_images):
    """Part 2: a sandwich supernet trained on the other 5 classes from random weights for `epochs`."""
    from ofa_tf.training import train

    data = _task_data(obj["out"], "b", obj["validation_images"] // 2, obj["data_dir"])
    folder = obj["out"] / f"seed{seed}" / f"scratch_{epochs}"
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, train_images=train_images, seed=seed,
                             **COMMON, **sandwich_options(epochs, LR, LABEL_RATIO))
    top1 = _evaluate_table(result.supernet, data)
    _save(obj["out"], seed, f"scratch_{epochs}", dict(seconds=seconds, top1=top1, epochs=epochs,
                                                      classes=data.class_names, train_images=train_images,
                                                      load_before=obj["load_before"]))


def _read(out: Path, seed: int, part: str) -> dict | None:
    path = _part_file(out, seed, part)
    return json.loads(path.read_text()) if path.is_file() else None


def _cell(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _minutes(record) -> str:
    return "" if record is None else f"{record['seconds'] / 60:.1f}"


@main.command()
@click.option("--seeds", default="0,1", show_default=True, help="Runs to tabulate.")
@click.option("--results", default=str(RESULTS), show_default=True, type=click.Path(file_okay=False))
@click.pass_obj
def table(obj, seeds, results):
    """Both parts' tables for every seed (and the spread across seeds), from the saved parts."""
    out, seeds = obj["out"], [int(s) for s in seeds.split(",")]
    subnets = table_subnets(10)
    lines, summary = [], {}
    for seed in seeds:
        parts = {p.stem: json.loads(p.read_text()) for p in sorted((out / f"seed{seed}").glob("*.json"))}
        summary[seed] = parts
        raw = parts.get("supernet")
        lines += [f"### Fine-tuning, seed {seed}", "",
                  "| subnet | architecture | supernet, extracted | fine-tuned | trained alone | fine-tuned − alone "
                  "| fine-tune min | alone min |", "|---|---|---|---|---|---|---|---|"]
        total = raw["seconds"] if raw else None
        for index, (name, config) in enumerate(subnets[: len(ALONE)]):
            tuned, alone_run = parts.get(f"finetune_{name}"), parts.get(f"alone_{name}")
            diff = (f"{100 * (tuned['top1'] - alone_run['top1']):+.1f}" if tuned and alone_run else "")
            lines.append(f"| {name} | {describe(config)} | {_cell(raw['top1'][index] if raw else None)} | "
                         f"{_cell(tuned and tuned['top1'])} | {_cell(alone_run and alone_run['top1'])} | {diff} | "
                         f"{_minutes(tuned)} | {_minutes(alone_run)} |")
            total = None if total is None or tuned is None else total + tuned["seconds"]
        alone_runs = [parts.get(f"alone_{n}") for n in ALONE]
        alone_total = None if None in alone_runs else sum(r["seconds"] for r in alone_runs)
        lines += ["", f"Supernet (once): {_minutes(raw)} min; supernet + the four fine-tunes: "
                  f"{_minutes(total and {'seconds': total})} min; the four trained alone: "
                  f"{_minutes(alone_total and {'seconds': alone_total})} min.", ""]
        lines += [f"### Transfer to dog, frog, horse, ship, truck, seed {seed}", "",
                  "| subnet | architecture | transferred, 4 epochs | scratch, 4 epochs | scratch, 14 epochs |",
                  "|---|---|---|---|---|"]
        columns = [parts.get(k) for k in ("transfer_4", "scratch_4", "scratch_14")]
        for index, (name, config) in enumerate(subnets):
            cells = [_cell(c["top1"][index] if c else None) for c in columns]
            lines.append(f"| {name} | {describe(config)} | {' | '.join(cells)} |")
        means = [_cell(sum(c["top1"]) / len(c["top1"]) if c else None) for c in columns]
        lines.append(f"| mean of {len(subnets)} | | {' | '.join(means)} |")
        source_run = parts.get("source")
        lines += ["", f"Wall time (min): source supernet {_minutes(source_run)}, transfer "
                  f"{_minutes(columns[0])}, scratch 4 epochs {_minutes(columns[1])}, scratch 14 epochs "
                  f"{_minutes(columns[2])}.", ""]
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "cifar10_finetune.md").write_text("\n".join(lines))
    (results / "cifar10_finetune.json").write_text(json.dumps(
        {"subnets": [{"name": n, **c.to_dict()} for n, c in subnets], "runs": summary}, indent=2) + "\n")
    click.echo("\n".join(lines))
    click.echo(f"Wrote {results / 'cifar10_finetune.md'} and {results / 'cifar10_finetune.json'}")


if __name__ == "__main__":
    main()
