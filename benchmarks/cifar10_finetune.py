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

from ofa_tf.run_folder import RunFolder  # noqa: E402

TASKS = {"a": ("airplane", "automobile", "bird", "cat", "deer"), "b": ("dog", "frog", "horse", "ship", "truck")}
EPOCHS = 14  # the supernet's and the networks trained alone (cifar10_ps.py)
LR, LABEL_RATIO = 0.03, 1.0  # cifar10_ps.py's best sandwich setting (docs/training.md, "Recipes on CIFAR-10")
TUNED_LR = 0.06  # labels-only fine-tuning: the best of 0.015/0.03/0.06/0.1 for the min subnet on seed 0's tuning split
TRANSFER_RUNS = ("transfer_4", "transfer_4_lr0.06", "transfer_4_lr0.06_zero_head", "transfer_4_lr0.1_warmup1",
                 "transfer_4_lr0.1_warmup1_zero_head")
"""The transfer runs made on every seed (the goals judge each; docs/finetune.md says which is the recipe). Other
settings tried on seed 0 only appear in its tuning-split line."""
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
                                             weights=str(RunFolder(folder).weights_path()), load_before=obj["load_before"]))


def _variant_suffix(lr: float, warmup: float = 0, batch: int = COMMON["batch_size"]) -> str:
    """Parts run at another learning rate than `LR`, with a warmup or another batch size are saved beside the default
    ones, named after what differs (`finetune_min_labels_lr0.06`, `..._lr0.06_warmup1_batch32`)."""
    return (("" if lr == LR else f"_lr{lr:g}") + (f"_warmup{warmup:g}" if warmup else "")
            + ("" if batch == COMMON["batch_size"] else f"_batch{batch}"))


def _finetune_part(name: str, teacher: str, lr: float = LR, warmup: int = 0, batch: int = COMMON["batch_size"]) -> str:
    kind = {"max": "", "none": "_labels", "finetuned": "_kd_finetuned_max"}[teacher]
    return f"finetune_{name}{kind}" + _variant_suffix(lr, warmup, batch)


def tuning_data(data, seed: int, train_images: int, n_images: int = 5000):
    """`data` whose validation images are `n_images` of the training pool the seed's run does not train on (the
    tuning split: settings are chosen on it, never on the validation images the tables report)."""
    import dataclasses

    import numpy as np

    from ofa_tf.training.trainer import training_data

    used = training_data(data, data.num_validation, seed, train_images).train_indices  # the run's training subset
    pool = np.setdiff1d(data.train_indices, used)
    picked = np.random.default_rng([seed, 23]).choice(pool, n_images, replace=False)
    return dataclasses.replace(data, validation_indices=np.sort(picked))


@main.command()
@_seed_option
@click.option("--subnet", "name", type=click.Choice(ALONE), required=True)
@click.option("--finetune-epochs", default=4, show_default=True)
@click.option("--lr", default=LR, show_default=True, help="Fine-tuning learning rate (cosine to 0).")
@click.option("--teacher", type=click.Choice(["max", "none", "finetuned"]), default="max", show_default=True,
              help="max: distilled from the max subnet (finetune's default); none: the labels only; finetuned: "
                   "distilled from the max subnet's labels-only fine-tune at the same rate (run it first).")
@click.option("--warmup-epochs", default=0, show_default=True, help="Linear warmup before the cosine.")
@click.option("--batch-size", default=COMMON["batch_size"], show_default=True)
@click.option("--train-images", default=6000, show_default=True)
@click.pass_obj
def finetune(obj, seed, name, finetune_epochs, lr, teacher, warmup_epochs, batch_size, train_images):
    """Part 1: one subnet of the supernet fine-tuned."""
    import ofa_tf

    data = load_cifar(obj["data_dir"], obj["validation_images"])
    config = dict(table_subnets(data.num_classes))[name]
    net = build_net(data.num_classes)
    ofa_tf.load_weights(net, RunFolder(obj["out"] / f"seed{seed}" / "supernet").weights_path())
    part = _finetune_part(name, teacher, lr, warmup_epochs, batch_size)
    folder = obj["out"] / f"seed{seed}" / part
    finetuned_max = obj["out"] / f"seed{seed}" / _finetune_part("max", "none", lr) / "finetuned.keras"
    teacher_model = {"none": None, "max": "max", "finetuned": str(finetuned_max)}
    result, seconds = _timed(ofa_tf.finetune, net, config, data, folder, epochs=finetune_epochs, lr=lr,
                             teacher=teacher_model[teacher], batch_size=batch_size,
                             warmup_epochs=warmup_epochs,
                             train_images=train_images, seed=seed, calibrate_bn=CALIBRATE_BN, validate=False,
                             verbose=2, data_name=obj["data_dir"], validation_split=obj["validation_images"],
                             split_seed=0)
    accuracy = ofa_tf.evaluate_model(result.model, data)
    tuning = ofa_tf.evaluate_model(result.model, tuning_data(data, seed, train_images))
    _save(obj["out"], seed, part, dict(
        seconds=seconds, top1=accuracy.top1, top5=accuracy.top5, tuning_top1=tuning.top1, epochs=finetune_epochs,
        lr=lr, warmup_epochs=warmup_epochs, batch_size=batch_size, teacher=teacher, config=config.to_dict(),
        load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--train-images", default=6000, show_default=True)
@click.pass_obj
def tuning(obj, seed, train_images):
    """Part 1: every fine-tuned model of the seed on the tuning split (for runs saved before it was recorded)."""
    import ofa_tf

    data = load_cifar(obj["data_dir"], obj["validation_images"])
    tune = tuning_data(data, seed, train_images)
    top1 = {}
    for name in ALONE:
        for teacher in ("max", "none"):
            model = obj["out"] / f"seed{seed}" / _finetune_part(name, teacher) / "finetuned.keras"
            if model.is_file():
                top1[_finetune_part(name, teacher)] = ofa_tf.evaluate_model(ofa_tf.load_finetuned(model)[0],
                                                                             tune).top1
    _save(obj["out"], seed, "tuning", dict(top1=top1, n_images=len(tune.validation_indices)))


@main.command("tuning-transfer")
@_seed_option
@click.option("--train-images", default=3000, show_default=True)
@click.pass_obj
def tuning_transfer(obj, seed, train_images):
    """Part 2: the saved transfer and scratch supernets' 12 subnets on the second task's tuning split (for runs saved
    before it was recorded)."""
    import ofa_tf

    data = _task_data(obj["out"], "b", obj["validation_images"] // 2, obj["data_dir"])
    tune = tuning_data(data, seed, train_images)
    top1 = {}
    for part in ("transfer_4", "scratch_4", "scratch_14"):
        weights = RunFolder(obj["out"] / f"seed{seed}" / part).weights_path()
        if weights.is_file():
            net = build_net(data.num_classes)
            ofa_tf.load_weights(net, weights)
            top1[part] = _evaluate_table(net, tune)
    _save(obj["out"], seed, "tuning_transfer", dict(top1=top1, n_images=len(tune.validation_indices)))


@main.command()
@_seed_option
@click.option("--subnet", "name", type=click.Choice(ALONE), required=True)
@click.option("--lr", default=LR, show_default=True)
@click.option("--train-images", default=6000, show_default=True)
@click.pass_obj
def alone(obj, seed, name, lr, train_images):
    """Part 1: one subnet's architecture trained alone from scratch for 14 epochs (cifar10_ps.py's baseline)."""
    from ofa_tf.training import evaluate
    from ofa_tf.training import train

    data = load_cifar(obj["data_dir"], obj["validation_images"])
    config = dict(table_subnets(data.num_classes))[name]
    part = f"alone_{name}{_variant_suffix(lr)}"
    folder = obj["out"] / f"seed{seed}" / part
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, task="full", epochs=EPOCHS, lr=lr,
                             subnet=config.with_resolution(None), train_images=train_images, seed=seed, **COMMON)
    (accuracy,) = evaluate(result.supernet, data, [config], calibrate_bn=CALIBRATE_BN)
    _save(obj["out"], seed, part, dict(seconds=seconds, top1=accuracy.top1, top5=accuracy.top5, lr=lr,
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
@click.option("--lr", default=LR, show_default=True, help="Learning rate of the 4 epochs on the new classes.")
@click.option("--warmup-epochs", default=0.0, show_default=True,
              help="Linear warmup (0: the sandwich row's, 5 of its 175 epochs scaled to `--epochs`).")
@click.option("--train-images", default=3000, show_default=True)
@click.pass_obj
def transfer(obj, seed, epochs, lr, warmup_epochs, train_images):
    """Part 2: the first task's supernet moved to the other 5 classes (new classifier), sandwich for `epochs`."""
    from ofa_tf.training import train

    data = _task_data(obj["out"], "b", obj["validation_images"] // 2, obj["data_dir"])
    body = RunFolder(obj["out"] / f"seed{seed}" / "source").weights_path()
    # `_zero_head`: the classifier starts at zero (`load_body`); parts saved before it started at random
    part = f"transfer_{epochs}{_variant_suffix(lr, warmup_epochs)}_zero_head"
    folder = obj["out"] / f"seed{seed}" / part
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, train_images=train_images, seed=seed,
                             init_weights=str(body), new_classifier=True, **COMMON,
                             warmup_epochs=warmup_epochs or None,
                             **sandwich_options(epochs, lr, LABEL_RATIO))
    top1 = _evaluate_table(result.supernet, data)
    tuning = _evaluate_table(result.supernet, tuning_data(data, seed, train_images))
    _save(obj["out"], seed, part, dict(seconds=seconds, top1=top1, tuning_top1=tuning, epochs=epochs, lr=lr,
                                       warmup_epochs=warmup_epochs, classifier="zeros", classes=data.class_names,
                                       train_images=train_images, load_before=obj["load_before"]))


@main.command()
@_seed_option
@click.option("--epochs", required=True, type=int)
@click.option("--lr", default=LR, show_default=True)
@click.option("--train-images", default=3000, show_default=True)
@click.pass_obj
def scratch(obj, seed, epochs, lr, train_images):
    """Part 2: a sandwich supernet trained on the other 5 classes from random weights for `epochs`."""
    from ofa_tf.training import train

    data = _task_data(obj["out"], "b", obj["validation_images"] // 2, obj["data_dir"])
    part = f"scratch_{epochs}{_variant_suffix(lr)}"
    folder = obj["out"] / f"seed{seed}" / part
    result, seconds = _timed(train, build_net(data.num_classes), data, folder, train_images=train_images, seed=seed,
                             **COMMON, **sandwich_options(epochs, lr, LABEL_RATIO))
    top1 = _evaluate_table(result.supernet, data)
    tuning = _evaluate_table(result.supernet, tuning_data(data, seed, train_images))
    _save(obj["out"], seed, part, dict(seconds=seconds, top1=top1, tuning_top1=tuning, epochs=epochs, lr=lr,
                                                      classes=data.class_names, train_images=train_images,
                                                      load_before=obj["load_before"]))


def _cell(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _diff(a, b) -> str:
    return "" if a is None or b is None else f"{100 * (a - b):+.1f}"


def _minutes(seconds) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _get(record, key="top1"):
    return None if record is None else record.get(key)


def _sum(records) -> float | None:
    return None if not records or None in records else sum(r["seconds"] for r in records)


def _rate_variants(parts: dict, part: str) -> list[str]:
    """`part` and its runs at other learning rates (`<part>_lr<rate>`), the lr-`LR` one first."""
    return sorted((k for k in parts if k == part or k.startswith(part + "_lr")), key=lambda k: (k != part, k))


def _schedule(record: dict) -> str:
    """A run's rate and warmup, e.g. `lr 0.1, 1 warmup epoch`."""
    warmup = record.get("warmup_epochs") or 0
    return f"lr {record.get('lr', LR):g}" + (f", {warmup:g} warmup epoch" if warmup else "")


def _finetune_title(record: dict) -> str:
    """How a fine-tune was set: who taught it, its schedule and batch."""
    teacher = {"max": "max subnet teaches", "none": "labels only",
               "finetuned": "the max subnet's fine-tune teaches"}[record.get("teacher", "max")]
    batch = record.get("batch_size", COMMON["batch_size"])
    return f"({teacher}, {_schedule(record)}" + ("" if batch == COMMON["batch_size"] else f", batch {batch}") + ")"


def _transfer_title(record: dict) -> str:
    """How a transfer run was set: its schedule and how its new classifier started (runs saved before `load_body`
    started it at zero have no `classifier`: random)."""
    return f"{_schedule(record)}, {dict(zeros='zero').get(record.get('classifier'), 'random')} classifier"


def _run_title(part: str, record: dict | None) -> str:
    """A transfer or scratch run's column title, e.g. `transferred, 4 epochs, lr 0.06, random classifier`."""
    epochs, lr = part.split("_")[1], (record or {}).get("lr", LR)
    if part.startswith("transfer_"):
        return f"transferred, {epochs} epochs, {_transfer_title(record or {})}"
    return f"scratch, {epochs} epochs, lr {lr:g}"


def _mean(record) -> float | None:
    return None if record is None else sum(record["top1"]) / len(record["top1"])


def _finetune_lines(parts: dict, seed: int, subnets) -> list[str]:
    raw = parts.get("supernet")
    tuned = f"_lr{TUNED_LR:g}"
    lines = [f"### Fine-tuning, seed {seed}", "",
             f"| subnet | architecture | supernet, extracted | fine-tuned, max subnet teaches (lr {LR:g}) | fine-tuned, "
             f"labels only (lr {LR:g}) | fine-tuned, labels only (lr {TUNED_LR:g}) | trained alone | teacher − alone | "
             f"labels − alone | labels (lr {TUNED_LR:g}) − alone |", "|---|---|---|---|---|---|---|---|---|---|"]
    for index, (name, config) in enumerate(subnets[: len(ALONE)]):
        taught, labels, labels_tuned, alone_run = (_get(parts.get(k)) for k in (
            f"finetune_{name}", f"finetune_{name}_labels", f"finetune_{name}_labels{tuned}", f"alone_{name}"))
        lines.append(f"| {name} | {describe(config)} | {_cell(raw['top1'][index] if raw else None)} | "
                     f"{_cell(taught)} | {_cell(labels)} | {_cell(labels_tuned)} | {_cell(alone_run)} | "
                     f"{_diff(taught, alone_run)} | {_diff(labels, alone_run)} | {_diff(labels_tuned, alone_run)} |")
    others = [f"{n} {_cell(parts[k]['top1'])} at lr {parts[k]['lr']:g}" for n in ALONE
              for k in _rate_variants(parts, f"alone_{n}") if k != f"alone_{n}"]
    if others:
        lines += ["", "Trained alone at another learning rate (the goals count each network's best): "
                  + ", ".join(others) + "."]
    tuning = parts.get("tuning", {}).get("top1", {})
    scores = {name: (tuning.get(f"finetune_{name}") or _get(parts.get(f"finetune_{name}"), "tuning_top1"),
                     _get(parts.get(f"finetune_{name}_labels"), "tuning_top1"),
                     _get(parts.get(f"finetune_{name}_labels{tuned}"), "tuning_top1")) for name in ALONE}
    lines += ["", "Tuning split (5,000 training images no run of this seed trains on; settings are chosen here): "
              f"teacher / labels only / labels only at lr {TUNED_LR:g}: "
              + ", ".join(f"{n} {' / '.join(_cell(v) for v in values)}" for n, values in scores.items()) + "."]
    kinds = {"max teaches": "finetune_{}", "labels only": "finetune_{}_labels",
             f"labels only at lr {TUNED_LR:g}": "finetune_{}_labels" + tuned, "alone": "alone_{}"}
    tried = [k for k in parts if k.startswith("finetune_") and k not in
             {pattern.format(n) for pattern in kinds.values() for n in ALONE}]
    if tried:
        lines.append("Other fine-tunes (tuning split / validation): " + ", ".join(
            f"{next(n for n in ALONE if k.startswith(f'finetune_{n}_'))} {_finetune_title(parts[k])} "
            f"{_cell(_get(parts[k], 'tuning_top1'))} / {_cell(_get(parts[k]))}" for k in sorted(tried)) + ".")
    lines.append("")
    runs = {kind: [parts.get(pattern.format(n)) for n in ALONE] for kind, pattern in kinds.items()}
    lines.append("Wall time (min), " + ", ".join(
        f"{n}: " + " / ".join(f"{kind} {_minutes(_get(runs[kind][i], 'seconds'))}" for kind in kinds)
        for i, n in enumerate(ALONE)) + ".")
    supernet_s = _get(raw, "seconds")
    totals = {kind: _sum(runs[kind]) for kind in kinds}
    lines += [f"Supernet once {_minutes(supernet_s)} min; the four fine-tunes " + ", ".join(
        f"{kind} {_minutes(totals[kind])}" for kind in list(kinds)[:-1]) + " min (with the supernet: " + ", ".join(
        f"{kind} {_minutes(None if supernet_s is None or totals[kind] is None else supernet_s + totals[kind])}"
        for kind in list(kinds)[:-1]) + f" min); the four networks trained alone {_minutes(totals['alone'])} min.", ""]
    return lines


def _transfer_lines(parts: dict, seed: int, subnets) -> list[str]:
    transfers, scratch_4 = [k for k in TRANSFER_RUNS if k in parts], _rate_variants(parts, "scratch_4")
    names = [*transfers, *scratch_4, "scratch_14"]
    columns = [parts.get(k) for k in names]
    titles = [_run_title(k, parts.get(k)) for k in names]
    lines = [f"### Transfer to dog, frog, horse, ship, truck, seed {seed}", "",
             f"| subnet | architecture | {' | '.join(titles)} |", "|---|---|" + "---|" * len(titles)]
    for index, (name, config) in enumerate(subnets):
        cells = [_cell(c["top1"][index] if c else None) for c in columns]
        lines.append(f"| {name} | {describe(config)} | {' | '.join(cells)} |")
    means = {k: _mean(c) for k, c in zip(names, columns)}
    lines.append(f"| mean of {len(subnets)} | | {' | '.join(_cell(m) for m in means.values())} |")
    lines.append("")
    for k in transfers:
        lines.append(f"Transferred at {_transfer_title(parts[k])} minus scratch (mean of {len(subnets)}): " + ", ".join(
            f"{_diff(means[k], means[s])} against {t.split(', ', 1)[1]}" for s, t in zip(names, titles)
            if s.startswith("scratch")) + ".")
    tuning = {**parts.get("tuning_transfer", {}).get("top1", {}),
              **{k: r["tuning_top1"] for k, r in parts.items() if k.split("_")[0] in ("transfer", "scratch")
                 and r.get("tuning_top1")}}
    every = [*sorted(k for k in tuning if k.startswith("transfer_")),
             *(k for k in (*scratch_4, "scratch_14") if k in tuning)]
    source_run = parts.get("source")
    if tuning:
        lines.append(f"Tuning split of the new classes (5,000 images no run of this seed trains on; mean of "
                     f"{len(subnets)}): " + ", ".join(f"{_run_title(k, parts.get(k))} "
                                                      f"{_cell(sum(tuning[k]) / len(tuning[k]))}" for k in every) + ".")
    lines += ["Source supernet (airplane, automobile, bird, cat, deer; its own 5,000 held-out images): mean of 12 "
              f"{_cell(_mean(source_run))}.",
              f"Wall time (min): source supernet {_minutes(_get(source_run, 'seconds'))}, " + ", ".join(
                  f"{t} {_minutes(_get(c, 'seconds'))}" for t, c in zip(titles, columns)) + ".", ""]
    return lines


def _best_alone(parts: dict, name: str) -> float | None:
    """The same network trained alone: its best run over the learning rates tried (None before the lr-0.03 run)."""
    if "alone_" + name not in parts:
        return None
    return max(parts[k]["top1"] for k in _rate_variants(parts, f"alone_{name}"))


def goal_lines(runs: dict[int, dict]) -> list[str]:
    """The issue's two goals per seed and run, MET / NOT MET / incomplete: every fine-tuned subnet at or above the same
    network trained alone (its best learning rate); the transferred mean of 12 at least 5 points above every 4-epoch scratch run and at or above
    the 14-epoch one."""
    lines = ["### Goals", ""]
    kinds = {f"fine-tuned, max subnet teaches (lr {LR:g})": "finetune_{}",
             f"fine-tuned, labels only (lr {LR:g})": "finetune_{}_labels",
             f"fine-tuned, labels only (lr {TUNED_LR:g})": "finetune_{}_labels" + _variant_suffix(TUNED_LR)}
    for seed, parts in runs.items():
        for kind, pattern in kinds.items():
            pairs = [(_get(parts.get(pattern.format(n))), _best_alone(parts, n)) for n in ALONE]
            if any(None in pair for pair in pairs):
                lines.append(f"- seed {seed}, {kind}: incomplete")
                continue
            short = [f"{n} {_diff(a, b)}" for n, (a, b) in zip(ALONE, pairs)]
            met = all(a >= b for a, b in pairs)
            lines.append(f"- seed {seed}, {kind} vs alone: {'MET' if met else 'NOT MET'} ({', '.join(short)})")
        scratch_4 = [_mean(parts[k]) for k in _rate_variants(parts, "scratch_4")]
        scratch_14 = _mean(parts.get("scratch_14"))
        for name in (k for k in TRANSFER_RUNS if k in parts):
            mean = _mean(parts[name])
            if not scratch_4 or scratch_14 is None:
                lines.append(f"- seed {seed}, {name}: incomplete")
                continue
            above_4, above_14 = mean - max(scratch_4), mean - scratch_14
            lines.append(f"- seed {seed}, transferred at {_transfer_title(parts[name])}: "
                         f"{'MET' if above_4 >= 0.05 and above_14 >= 0 else 'NOT MET'} ({100 * above_4:+.1f} against "
                         f"the best 4-epoch scratch run, goal +5; {100 * above_14:+.1f} against 14 epochs, goal +0)")
    return [*lines, ""]


@main.command()
@click.option("--seeds", default="0,1", show_default=True, help="Runs to tabulate.")
@click.option("--results", default=str(RESULTS), show_default=True, type=click.Path(file_okay=False))
@click.pass_obj
def table(obj, seeds, results):
    """Both parts' tables for every seed, from the saved parts: docs/results/cifar10_finetune.{md,json}."""
    out, seeds = obj["out"], [int(s) for s in seeds.split(",")]
    subnets = table_subnets(10)
    runs = {seed: {p.stem: json.loads(p.read_text()) for p in sorted((out / f"seed{seed}").glob("*.json"))}
            for seed in seeds}
    lines = goal_lines(runs)
    for seed in seeds:
        lines += _finetune_lines(runs[seed], seed, subnets)
    for seed in seeds:
        lines += _transfer_lines(runs[seed], seed, subnets)
    loads = {f"seed {seed} {part}": (r.get("load_before"), r.get("load_after")) for seed in seeds
             for part, r in runs[seed].items() if "seconds" in r}
    lines += ["Load average (1 min) before -> after each part: " + "; ".join(
        f"{k} {b[0]:.1f} -> {a[0]:.1f}" for k, (b, a) in loads.items() if b and a) + ".", ""]
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "cifar10_finetune.md").write_text("\n".join(lines))
    (results / "cifar10_finetune.json").write_text(json.dumps(
        {"subnets": [{"name": n, **c.to_dict()} for n, c in subnets], "runs": runs}, indent=2) + "\n")
    click.echo("\n".join(lines))
    click.echo(f"Wrote {results / 'cifar10_finetune.md'} and {results / 'cifar10_finetune.json'}")


if __name__ == "__main__":
    main()
