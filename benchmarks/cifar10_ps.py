"""Progressive shrinking on real data: CIFAR-10, PS supernet vs a full-size-only network.

    nohup python benchmarks/cifar10_ps.py --out /tmp/cifar10_ps > /tmp/cifar10_ps.log 2>&1 &

Trains a small-image OFA-MobileNetV3 (width 0.5, stride-2 stem so 32 px inputs run at 16x16 after the
stem, to fit a CPU-hour) with the whole schedule (full → kernel → depth 1, 2 → expand 1, 2) at a few
epochs per phase, on a seeded subset of the CIFAR-10 training folder (validation images carved from
it). The baseline continues the PS run's `full` network at full size only, so it sees the same total
number of epochs. Both are evaluated (BN recalibrated per subnet) on the same max, min and 10 random
subnets; the Markdown table is printed and written to `<out>/cifar10_ps.md`.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402

from ofa_tf._shared_data import ENV_VAR  # noqa: E402
from ofa_tf._shared_data import shared_dir  # noqa: E402
from ofa_tf.data import load_dataset  # noqa: E402
from ofa_tf.run_folder import weights_path  # noqa: E402
from ofa_tf.supernet import OFAMobileNetV3  # noqa: E402
from ofa_tf.training import evaluate  # noqa: E402
from ofa_tf.training import train  # noqa: E402
from ofa_tf.training.evaluation import parse_subnets  # noqa: E402

PHASE_EPOCHS = {"full": 4, "kernel": 1, "depth_1": 1, "depth_2": 1, "expand_1": 1, "expand_2": 1}


def build_net(n_classes: int) -> OFAMobileNetV3:
    return OFAMobileNetV3(
        n_classes=n_classes, width_mult=0.5, first_stride=2, stage_strides=(1, 2, 2, 1, 2),
        resolutions=(24, 28, 32), name="ofa_cifar_w0_5",
    )


def describe(config) -> str:
    return f"d={''.join(map(str, config.d))} mean e={sum(config.e) / len(config.e):.1f} mean k={sum(config.ks) / len(config.ks):.1f}"


@click.command()
@click.option("--data", "data_dir", default=str(shared_dir() / "data" / "cifar10" / "train"), show_default=True,
              help=f"CIFAR-10 training folder root/<class>/<image> (default: data/cifar10/train in ${ENV_VAR}, "
                   "else in ../shared beside the repository).")
@click.option("--out", default="/tmp/cifar10_ps", show_default=True, type=click.Path(file_okay=False))
@click.option("--train-images", default=4000, show_default=True)
@click.option("--validation-images", default=1000, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--phase-epochs", default=json.dumps(PHASE_EPOCHS), show_default=True, help="JSON dict.")
@click.option("--calibrate-bn", default=500, show_default=True)
@click.option("--random-subnets", default=10, show_default=True)
@click.option("--steps-per-epoch", default=None, type=int, help="Cap (smoke tests).")
@click.option("--resume", is_flag=True)
def main(data_dir, out, train_images, validation_images, batch_size, phase_epochs, calibrate_bn, random_subnets,
         steps_per_epoch, resume):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(out)
    phase_epochs = json.loads(phase_epochs)
    total_epochs = sum(phase_epochs.values())
    t0 = time.time()
    data = load_dataset(data_dir, validation_split=validation_images, seed=0)
    data._materialize()  # decode the folder once, shared by both runs and the evaluation
    common = dict(batch_size=batch_size, train_images=train_images, image_sizes=(24, 28, 32), validate=False,
                  steps_per_epoch=steps_per_epoch, verbose=2, resume=resume)
    ps = train(build_net(data.num_classes), data, out / "ps", task="all", phase_epochs=phase_epochs, **common)
    t_ps = time.time() - t0
    extra = total_epochs - phase_epochs["full"]
    baseline = train(build_net(data.num_classes), data, out / "full_only", task="full", epochs=extra,
                     init_weights=str(weights_path(out / "ps", "full")), **common)
    t_base = time.time() - t0 - t_ps

    subnets = parse_subnets(f"max,min,random:{random_subnets}", ps.supernet.search_space, seed=0)
    configs = [c.with_resolution(32) for _, c in subnets]
    ps_res = evaluate(ps.supernet, data, configs, calibrate_bn=calibrate_bn)
    base_res = evaluate(baseline.supernet, data, configs, calibrate_bn=calibrate_bn)

    lines = [
        f"CIFAR-10, {train_images} training / {data.num_validation} validation images, 32 px, {total_epochs} epochs "
        f"in total ({', '.join(f'{k} {v}' for k, v in phase_epochs.items())}); top-1 (%) after BN recalibration "
        f"on {calibrate_bn} training images.",
        "",
        "| subnet | architecture | PS supernet | full-size only |",
        "|---|---|---|---|",
    ]
    for (name, config), a, b in zip(subnets, ps_res, base_res):
        lines.append(f"| {name} | {describe(config)} | {100 * a.top1:.1f} | {100 * b.top1:.1f} |")
    mean = lambda rs: 100 * sum(r.top1 for r in rs) / len(rs)  # noqa: E731
    lines.append(f"| mean of {len(subnets)} | | {mean(ps_res):.1f} | {mean(base_res):.1f} |")
    lines += ["", f"Training time: PS {t_ps / 60:.0f} min, full-size-only continuation {t_base / 60:.0f} min (2-core CPU)."]
    table = "\n".join(lines)
    click.echo(table)
    (out / "cifar10_ps.md").write_text(table + "\n")
    (out / "cifar10_ps.json").write_text(json.dumps(
        {"ps": [r.to_dict() for r in ps_res], "full_only": [r.to_dict() for r in base_res],
         "phase_epochs": phase_epochs, "train_images": train_images}, indent=2))


if __name__ == "__main__":
    main()
