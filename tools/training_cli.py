"""`ofa-tf train` and `ofa-tf eval`: click wrappers over `ofa_tf.training` (`train`, `evaluate`)."""
from __future__ import annotations

import json

import click
from click.core import ParameterSource

from android_bench.cli_support import check_outputs_not_inputs
from android_bench.cli_support import check_writable
from android_bench.cli_support import existing_folder
from android_bench.cli_support import one_line_errors
from ofa_tf.training.distribute import STRATEGIES
from ofa_tf.training.phases import RECIPES
from ofa_tf.training.phases import TASKS


def _image_sizes(ctx, param, value):
    """'24,28,32' or 'MIN-MAX' (multiples of 4 in between, as the reference's continuous sizes)."""
    if value is None:
        return None
    from ofa_tf.data import resolution_candidates

    try:
        if "-" in value:
            low, high = (int(v) for v in value.split("-", 1))
            return resolution_candidates(low, high)
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as err:
        raise click.BadParameter(f"expected sizes like '24,28,32' or '128-224'; received {value!r} ({err}).")


def _phase_epochs(ctx, param, value):
    """'full=6,kernel=2,depth_1=1' → {"full": 6, ...}."""
    if value is None:
        return None
    try:
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        return {name.strip(): int(epochs) for name, epochs in pairs}
    except ValueError as err:
        raise click.BadParameter(f"expected 'full=6,kernel=2,...'; received {value!r} ({err}).")


def _net_ids():
    from ofa_tf.zoo import net_ids

    return net_ids()


@click.command("train")
@click.option("--net", "net_id", required=True, help="Supernet id (see `ofa_tf.net_ids()`), incl. small-image presets.")
@click.option("--data", required=True, help="TFDS name, image folder root/<class>/<image>, or 'digits'.")
@click.option("--recipe", type=click.Choice(list(RECIPES)), default="reference", show_default=True,
              help="reference: progressive shrinking as the paper; sandwich: full network, then the whole space "
                   "with max + min + random subnets and in-place distillation; sandwich_phased: the sandwich rule inside the "
                   "reference's phases.")
@click.option("--task", type=click.Choice(TASKS), default="all", show_default=True)
@click.option("--phase", type=click.IntRange(1, 2), default=None, help="Phase of the depth/expand/width task.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Total epochs of every selected phase.")
@click.option("--epoch-scale", type=float, default=None, help="Multiply the reference epochs (e.g. 0.05).")
@click.option("--phase-epochs", callback=_phase_epochs, default=None,
              help="Total epochs per phase, e.g. 'full=6,kernel=2,depth_1=1' (wins over --epochs); 0 drops the phase "
                   "(--recipe sandwich --phase-epochs full=0,expand_2=14: the whole space from random weights).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Global batch size.")
@click.option("--image-sizes", callback=_image_sizes, default=None, help="'24,28,32' or '128-224' (default: the net's).")
@click.option("--teacher", type=click.Path(exists=True), default=None, help="Full-network weights or a run folder.")
@click.option("--init-weights", "--init", "init_weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Starting weights of the student.")
@click.option("--new-classifier", is_flag=True,
              help="With --init-weights: keep every weight but the classifier and start a new one for the data's "
                   "classes (a trained supernet brought to your own classes).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="default", show_default=True)
@click.option("--tpu", default=None, help="TPU name or grpc:// address for --strategy tpu.")
@click.option("--resume", is_flag=True,
              help="Continue from the latest checkpoint in --out with the run's recorded settings (a different "
                   "value is refused).")
@click.option("--overwrite", is_flag=True, help="Train again phases whose weights --out already holds.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--lr", type=float, default=None, help="Initial learning rate (default: base_lr * batch / 64).")
@click.option("--warmup-epochs", type=float, default=None)
@click.option("--n-subnets", type=click.IntRange(min=0), default=None,
              help="Random subnets per step (in sandwich phases: beside the max and the min).")
@click.option("--kd-ratio", type=float, default=None, help="Weight of the teacher's distillation after `full`.")
@click.option("--label-ratio", type=click.FloatRange(0, 1), default=None,
              help="Sandwich phases: the labels' share of the min and random subnets' loss (the rest: the max's "
                   "soft labels).")
@click.option("--weight-decay", type=float, default=3e-5, show_default=True)
@click.option("--validation-split", type=float, default=0.1, show_default=True)
@click.option("--train-images", type=click.IntRange(min=1), default=None, help="Seeded subset of training images.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=None)
@click.option("--policy", type=click.Choice(["imagenet", "cifar", "digits"]), default=None,
              help="Augmentation policy (default: the source's; 'digits' never flips).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--validate/--no-validate", default=True, show_default=True, help="Max/min accuracy after each phase.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Stop after N steps (no save).")
@click.option("--verbose", type=click.IntRange(0, 2), default=1, show_default=True)
@one_line_errors(interrupted="Interrupted (Ctrl-C): --out keeps the checkpoint of the last finished epoch; rerun "
                              "the same command with --resume to continue from it.")
def train_command(net_id, data, out, **options):
    """Progressive-shrinking training: full → kernel → depth 1, 2 → expand 1, 2 (OFA-ResNets: full → depth 1, 2 →
    expand 1, 2 → width 1, 2), or one task/phase."""
    from ofa_tf.training.trainer import train

    if net_id not in _net_ids():
        raise click.BadParameter(f"unknown net {net_id!r}; known: {', '.join(_net_ids())}.", param_hint="--net")
    check_writable(out, folder=True)
    check_outputs_not_inputs([("--out", out)],
                             [("--data", existing_folder(data)), ("--init", options["init_weights"])])
    if options["resume"]:  # a resume takes the run's recorded settings: pass on only what the command line gives
        ctx = click.get_current_context()
        options = {k: v for k, v in options.items() if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    result = train(net_id, data, out, **options)
    state = "finished" if result.completed else "stopped early (resume with --resume)"
    click.echo(f"Training {state}; phases done: {', '.join(result.phases) or 'none'}.")
    weights = [f"weights/{name}.weights.h5" for name in result.phases]
    click.echo(f"Wrote {result.out_dir}: {', '.join(weights + ['metrics.jsonl', 'checkpoints/', 'tensorboard/'])}.")


@click.command("eval")
@click.option("--net", "net_id", default=None, help="Supernet id (see `ofa_tf.net_ids()`).")
@click.option("--model", "model_path", default=None, type=click.Path(exists=True),
              help="Instead of --net: a fine-tuned model (DIR/finetuned.keras of `ofa-tf finetune`, or DIR), evaluated "
                   "on the validation images its run held out.")
@click.option("--specialized", default=None,
              help="Instead of --net: a specialized network id (`ofa-tf zoo`), evaluated at its own image size.")
@click.option("--weights", default=None, type=click.Path(exists=True),
              help="Supernet weights (.weights.h5 or PyTorch .pth); with --specialized the folder holding "
                   "net.config, run.config and init.")
@click.option("--pretrained", is_flag=True, help="With --specialized: download the released files.")
@click.option("--data", required=True, help="TFDS name, image folder, or 'digits'.")
@click.option("--subnets", default="max,min", show_default=True, help="'max,min,random:N' or FILE.json.")
@click.option("--calibrate-bn", type=click.IntRange(min=0), default=2000, show_default=True,
              help="BN-recalibration images per subnet (0 = stored statistics).")
@click.option("--resolution", type=click.IntRange(min=8), default=None, help="Input size (default: largest).")
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--validation-split", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Data split and random subnets.")
@click.option("--max-batches", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a Markdown table.")
@one_line_errors
def eval_command(net_id, model_path, specialized, weights, pretrained, data, subnets, calibrate_bn, resolution,
                 batch_size, validation_split, seed, max_batches, as_json):
    """Top-1/top-5 of subnets of a trained supernet, each after BN recalibration (or of a specialized network, or a
    fine-tuned model)."""
    from ofa_tf.data import load_dataset
    from ofa_tf.run_folder import load_supernet
    from ofa_tf.training.evaluation import evaluate
    from ofa_tf.training.evaluation import results_table

    if model_path is not None:
        given = [f"--{n}" for n, v in (("net", net_id), ("specialized", specialized), ("weights", weights),
                                       ("pretrained", pretrained)) if v]
        if given:
            raise click.UsageError(f"--model takes none of {', '.join(given)} (the model comes whole).")
        ctx = click.get_current_context()
        split = validation_split if ctx.get_parameter_source("validation_split").name != "DEFAULT" else None
        seed = seed if ctx.get_parameter_source("seed").name != "DEFAULT" else None
        return _eval_model(model_path, data, resolution, batch_size, split, seed, max_batches, as_json)
    if specialized is not None:
        if net_id is not None:
            raise click.UsageError("Pass --net (a supernet) or --specialized (a specialized network), not both.")
        return _eval_specialized(specialized, weights, pretrained, data, resolution, batch_size, validation_split,
                                 seed, max_batches, as_json)
    if net_id is None or weights is None or pretrained:
        raise click.UsageError("A supernet evaluation needs --net and --weights FILE (--pretrained is for "
                               "--specialized; --model evaluates a fine-tuned model).")
    if net_id not in _net_ids():
        raise click.BadParameter(f"unknown net {net_id!r}; known: {', '.join(_net_ids())}.", param_hint="--net")
    image_data = load_dataset(data, validation_split=validation_split, seed=seed)
    net = load_supernet(net_id, weights, image_data.num_classes)
    results = evaluate(net, image_data, subnets, calibrate_bn=calibrate_bn, resolution=resolution,
                       batch_size=batch_size, seed=seed, max_batches=max_batches)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        click.echo(results_table(results))


def _eval_specialized(net_id, weights, pretrained, data, resolution, batch_size, validation_split, seed, max_batches,
                      as_json):
    from ofa_tf.data import load_dataset
    from ofa_tf.specialized import ofa_specialized
    from ofa_tf.training.evaluation import model_accuracy

    if (weights is None) == (not pretrained):
        raise click.UsageError("--specialized needs exactly one of --weights FOLDER or --pretrained.")
    try:
        model, image_size = ofa_specialized(net_id, pretrained=pretrained, weights=weights)
        image_data = load_dataset(data, validation_split=validation_split, seed=seed)
        n_classes = int(model.outputs[0].shape[-1])
        if image_data.num_classes != n_classes:
            raise ValueError(f"{net_id} has {n_classes} outputs but {data} has {image_data.num_classes} classes.")
        size = resolution or image_size
        top1, top5, n = model_accuracy(model, image_data.validation(batch_size, size), max_batches)
    except ConnectionError as err:
        raise click.ClickException(str(err)) from err
    result = {"net_id": net_id, "resolution": size, "top1": top1, "top5": top5, "n_images": n}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{net_id} @{size}: top-1 {100 * top1:.2f}%, top-5 {100 * top5:.2f}% ({n} images of {data})")


def _eval_model(model_path, data, resolution, batch_size, validation_split, seed, max_batches, as_json):
    from ofa_tf.finetune_folder import read_record
    from ofa_tf.training.evaluation import evaluate_model

    record = read_record(model_path)
    result = evaluate_model(model_path, data, resolution, batch_size=batch_size, validation_split=validation_split,
                            seed=seed, max_batches=max_batches)
    if as_json:
        click.echo(json.dumps({"model": str(model_path), **result.to_dict()}, indent=2))
        return
    origin = ""
    if record is not None:
        from ofa_tf.finetune_folder import describe

        origin = f" ({describe(record)})"
    click.echo(f"{model_path}{origin} @{result.resolution}: top-1 {100 * result.top1:.2f}%, top-5 "
               f"{100 * result.top5:.2f}% ({result.n_images} validation images of {data})")
