"""`ofa-tf finetune`: a click wrapper over `ofa_tf.finetune` (one subnet of a trained supernet, fine-tuned as the stock
Keras model that `ofa-tf export --model` converts)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from android_bench.cli_support import check_outputs_not_inputs
from android_bench.cli_support import check_writable
from android_bench.cli_support import existing_folder
from android_bench.cli_support import one_line_errors
from ofa_tf.training.distribute import STRATEGIES


def _net_ids():
    from ofa_tf.zoo import net_ids

    return net_ids()


def read_subnet_file(path: Path) -> dict:
    """The JSON object of a subnet config file (`ofa-tf search --out`, `SubnetConfig.save`); errors name the file."""
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:  # json.JSONDecodeError is a ValueError
        raise click.BadParameter(f"{path} is not a JSON subnet config ({err}).", param_hint="--config") from err
    if not isinstance(config, dict):
        raise click.BadParameter(f"{path} holds a JSON {type(config).__name__}, not a subnet config object "
                                 "({\"ks\": [...], \"e\": [...], \"d\": [...], \"r\": 224}).", param_hint="--config")
    return config


def teacher_file(teacher: str | None) -> str | None:
    """The file `--teacher` reads, if it names one (not `max` / `none`)."""
    return None if teacher in (None, "max", "none") else teacher


@click.command("finetune")
@click.option("--net", "net_id", default=None,
              help="Supernet id (see `ofa_tf.net_ids()`); read from a training run folder if omitted.")
@click.option("--weights", required=True, type=click.Path(exists=True),
              help="Trained supernet: a training run folder, .weights.h5 or PyTorch .pth.")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="SUBNET.json (`ofa-tf search --out`, SubnetConfig.save) with the resolution 'r'.")
@click.option("--resolution", type=click.IntRange(min=8), default=None,
              help="Input size when the config has no 'r' (replaces the config's).")
@click.option("--data", required=True, help="TFDS name, image folder root/<class>/<image>, or 'digits'.")
@click.option("--epochs", type=click.IntRange(min=1), default=25, show_default=True,
              help="Fine-tuning epochs (the reference's specialized networks: finetune@25 / @75).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--teacher", default="max", show_default=True,
              help="'max' (the supernet's max subnet), 'none' (labels only), a .keras model, or supernet weights.")
@click.option("--kd-ratio", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the teacher's distillation loss.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Initial learning rate, cosine to 0 (default: 0.03 per 64 images).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--warmup-epochs", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--weight-decay", type=float, default=3e-5, show_default=True)
@click.option("--dropout-rate", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True)
@click.option("--calibrate-bn", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Images recalibrating the BN statistics of the extracted subnet and the teacher (0: keep).")
@click.option("--policy", type=click.Choice(["imagenet", "cifar", "digits"]), default=None,
              help="Augmentation policy (default: the source's).")
@click.option("--validation-split", type=float, default=0.1, show_default=True)
@click.option("--train-images", type=click.IntRange(min=1), default=None, help="Seeded subset of training images.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strategy", type=click.Choice(STRATEGIES), default="default", show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the latest epoch checkpoint in --out.")
@click.option("--overwrite", is_flag=True, help="Fine-tune again into an --out that holds a fine-tuned model.")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Validation top-1 before training and after every epoch.")
@click.option("--verbose", "fit_verbose", type=click.IntRange(0, 2), default=1, show_default=True,
              help="Progress: 0 silent, 1 bar, 2 one line per epoch.")
@one_line_errors(interrupted="Interrupted (Ctrl-C): --out keeps the checkpoint of the last finished epoch; rerun "
                              "the same command with --resume to continue from it.")
def finetune_command(net_id, weights, config_path, resolution, data, out, fit_verbose, **options):
    """Fine-tune one subnet of a trained supernet (distilled from its max subnet) into OUT/finetuned.keras."""
    from ofa_tf.run_folder import files_read
    from ofa_tf.run_folder import load_supernet
    from ofa_tf.training.finetuning import finetune

    if net_id is not None and net_id not in _net_ids():
        raise click.BadParameter(f"unknown net {net_id!r}; known: {', '.join(_net_ids())}.", param_hint="--net")
    config = read_subnet_file(config_path)
    if resolution is not None:
        config = {**config, "r": resolution}
    check_writable(out, folder=True)
    check_outputs_not_inputs([("--out", out)], [*(("--weights", path) for path in files_read(weights, net_id)),
                                                ("--config", config_path), ("--data", existing_folder(data)),
                                                ("--teacher", teacher_file(options.get("teacher")))])
    try:
        supernet = load_supernet(net_id, weights, dropout_rate=0.0)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--net / --weights") from err
    try:
        supernet.search_space.validate(supernet.search_space.config_type.from_dict(config))
    except (ValueError, KeyError, TypeError) as err:
        raise click.BadParameter(f"{config_path} is outside the search space of {supernet.net_id}: {err}",
                                 param_hint="--config") from err
    result = finetune(supernet, config, data, out, verbose=fit_verbose, **options)
    record = result.record
    extracted = next((r for r in result.history if r.get("event") == "extracted"), None)
    final = record.get("final") or {}
    summary = f"Fine-tuned {record['subnet_name']} @{record['resolution']} of {supernet.net_id}"
    if final.get("val_top1") is not None:
        summary += f": validation top-1 {100 * final['val_top1']:.2f}%, top-5 {100 * final['val_top5']:.2f}%"
        if extracted is not None:
            summary += f" (extracted: {100 * extracted['val_top1']:.2f}%)"
    click.echo(summary + f" after {record['epochs']} epochs on {record['data']['num_train']} images.")
    click.echo(f"Wrote {result.out_dir}: {result.model_path.name}, {result.weights_path.name}, "
               f"{result.record_path.name}, {result.metrics_path.name}, checkpoints/finetune/. Export it with "
               f"ofa-tf export --model {result.model_path} --out MODEL.tflite")
