"""`ofa-tf predictor | search | specialize | demo`: click wrappers over `ofa_tf.nas`, `tools.specialize` and
`tools.demo`."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from android_bench.cli_support import check_outputs_not_inputs
from android_bench.cli_support import check_writable
from android_bench.cli_support import existing_folder
from android_bench.cli_support import one_line_errors
from ofa_tf.run_folder import files_read
from ofa_tf.run_folder import load_supernet

from .quantize import POST_TRAINING_MODES


def _load_data(source: str | None, validation_split: float, seed: int):
    if source is None:
        return None
    from ofa_tf.data import load_dataset

    return load_dataset(source, validation_split=validation_split, seed=seed)


def _resolve_predictor(path: str | Path) -> Path:
    path = Path(path)
    return path.parent if path.is_file() else path


def _read_inputs(weights=None, net_id=None, data=None, predictor=None, predictor_weights=None, luts=()) -> list:
    """`(option, path)` of the files a command reads (a predictor folder's two files, a run folder's weights and
    config) and of an image folder (read whole), for `check_outputs_not_inputs`."""
    from ofa_tf.nas.accuracy_predictor import PREDICTOR_FILES

    read = [("--weights", path) for path in files_read(weights, net_id)]
    read.append(("--data", existing_folder(data)))
    if predictor is not None and predictor != REFERENCE_PREDICTOR:
        read += [("--predictor", _resolve_predictor(predictor) / name) for name in PREDICTOR_FILES]
    read.append(("--predictor-weights", predictor_weights))
    read += [("--lut", path) for path in luts]
    return read


REFERENCE_PREDICTOR = "reference"
_PREDICTOR_HELP = ("Accuracy predictor folder (ofa-tf predictor), or 'reference': the reference's pretrained ImageNet "
                   "predictor of ofa_mbv3_d234_e346_k357_w1.2 (the tutorial's) or of ofa_resnet50 (downloaded unless "
                   "--predictor-weights).")
_PREDICTOR_WEIGHTS_HELP = ("With --predictor reference: a local copy of the file instead of the download "
                           "(acc_predictor.pth; for ofa_resnet50 ofa_resnet50_acc_predictor.pth).")
_RESOLUTIONS_HELP = ("Comma-separated image sizes to search, e.g. 160,192,224 (default: those of the search space "
                     "that the predictor and every latency table cover).")


def _parse_resolutions(ctx, param, value):
    if value is None:
        return None
    try:
        values = tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers such as 160,192,224; received {value!r}.") from exc
    if not values:
        raise click.BadParameter(f"expected at least one image size, e.g. 160,192,224; received {value!r}.")
    return values


def load_predictor(path: str, weights: str | None, supernet):
    """An `AccuracyPredictor` folder (checked to belong to `supernet`), or the reference's pretrained predictor (only
    for its supernet)."""
    from ofa_tf.nas import AccuracyPredictor
    from ofa_tf.nas import pretrained_accuracy_predictor
    from ofa_tf.nas.pretrained_predictor import PRETRAINED_PREDICTORS

    if path != REFERENCE_PREDICTOR:
        if weights is not None:
            raise ValueError(f"--predictor-weights goes with --predictor {REFERENCE_PREDICTOR}; received "
                             f"--predictor {path}.")
        predictor = AccuracyPredictor.load(_resolve_predictor(path))
        predictor.check_supernet(supernet)
        return predictor
    if supernet.net_id not in PRETRAINED_PREDICTORS:
        raise ValueError(f"--predictor {REFERENCE_PREDICTOR} predicts ImageNet accuracy of "
                         f"{' and '.join(PRETRAINED_PREDICTORS)} subnets only; received --net {supernet.net_id}.")
    return pretrained_accuracy_predictor(pretrained=weights is None, weights=weights, net_id=supernet.net_id)


# === predictor ===


@click.command("predictor")
@click.option("--net", "net_id", default=None, help="Supernet id (read from a training folder if omitted).")
@click.option("--weights", required=True, help="Supernet weights (.weights.h5/.pth) or a training output folder.")
@click.option("--data", "data_source", default="digits", show_default=True,
              help="Validation data: 'digits', a TFDS name or an image folder root/<class>/<image>.")
@click.option("--validation-split", default=0.2, show_default=True, type=float)
@click.option("--n-subnets", default=1000, show_default=True, type=click.IntRange(10),
              help="Subnets to sample, BN-recalibrate and evaluate.")
@click.option("--calibration-images", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--epochs", default=300, show_default=True, type=click.IntRange(1), help="Predictor epochs.")
@click.option("--features", default="block", show_default=True, type=click.Choice(["block", "stage"]),
              help="Predictor inputs: 'block' (the reference's one-hot per block) or 'stage' (resolution, depth, mean "
                   "kernel size and expand ratio per stage; for a few dozen subnets).")
@click.option("--n-classes", default=None, type=int, help="Classifier outputs (default: from the weights).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@one_line_errors
def predictor(net_id, weights, data_source, validation_split, n_subnets, calibration_images, epochs, features,
              n_classes, seed, out, quiet):
    """Build the accuracy dataset (resumable, cached in OUT/acc_dataset.jsonl) and train the accuracy predictor.

    Every sampled subnet is BN-recalibrated and evaluated on the validation split; the predictor (OUT/predictor.*)
    is then trained and checked on held-out subnets (RMSE and rank correlation).
    """
    from ofa_tf.nas import AccuracyPredictor
    from ofa_tf.nas import PredictorTrainingConfig
    from ofa_tf.nas import build_accuracy_dataset
    from .measure import make_evaluate_fn

    check_writable(out, folder=True)
    out = Path(out)
    written = ("predictor.weights.h5", "predictor.json", "predictor_report.json")
    check_outputs_not_inputs([("--out", out), *(("--out", out / name) for name in written)],
                             _read_inputs(weights, net_id, data_source))
    supernet = load_supernet(net_id, weights, n_classes)
    data = _load_data(data_source, validation_split, seed)
    evaluate_fn = make_evaluate_fn(supernet, data, calibration_images)
    configs, accuracies = build_accuracy_dataset(
        evaluate_fn, supernet.search_space, n_subnets, out / "acc_dataset.jsonl", seed=seed, verbose=not quiet
    )
    model = AccuracyPredictor(supernet.search_space, seed=seed, net_id=supernet.net_id, features=features)
    report = model.fit((configs, accuracies), PredictorTrainingConfig(epochs=epochs, seed=seed))
    model.save(out)
    (out / "predictor_report.json").write_text(
        json.dumps({**dataclasses.asdict(report), "beats_mean": report.beats_mean}, indent=1) + "\n")
    if report.warning():
        click.echo(report.warning())
    click.echo(
        f"Predictor trained on {report.n_train} subnets; on {report.n_val} held-out: RMSE {100 * report.rmse:.2f} "
        f"points (predicting the mean: {100 * report.baseline_rmse:.2f}), Kendall tau {report.kendall_tau:.3f}, "
        f"Spearman {report.spearman:.3f}.\nWrote {out}: predictor.weights.h5, predictor.json, predictor_report.json, "
        "acc_dataset.jsonl."
    )


# === search ===


@click.command("search")
@click.option("--net", "net_id", default=None, help="Supernet id (read from a training folder if omitted).")
@click.option("--weights", default=None,
              help="Supernet weights or training folder (for the class count and host latency measurements).")
@click.option("--predictor", "predictor_path", required=True, help=_PREDICTOR_HELP)
@click.option("--predictor-weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help=_PREDICTOR_WEIGHTS_HELP)
@click.option("--constraint", "constraints", multiple=True, required=True,
              help="macs=300M, params=5M or latency=20ms (repeatable; all must hold).")
@click.option("--lut", "luts", multiple=True,
              help="Latency lookup table (.yaml/.json; repeatable: one per resolution, e.g. the reference's "
                   "<r>_lookup_table.yaml, each used at its own resolutions) for latency constraints; without one "
                   "latency is this host's: its calibrated latency table (built next to --out) for MBConv "
                   "supernets, a line in MACs fitted to measured subnets for OFA-ResNets and ProxylessNAS. Tables "
                   "time MBConv blocks: not for OFA-ResNets.")
@click.option("--n-classes", default=None, type=int, help="Classifier outputs (default: from the weights, else 1000).")
@click.option("--generations", default=500, show_default=True, type=click.IntRange(0), help="Evolution generations.")
@click.option("--population", default=100, show_default=True, type=click.IntRange(2))
@click.option("--pareto-generations", default=200, show_default=True, type=click.IntRange(0),
              help="NSGA-II generations for the Pareto front (0 = no front).")
@click.option("--resolutions", callback=_parse_resolutions, help=_RESOLUTIONS_HELP)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Subnet config JSON (the input of `ofa-tf export`).")
@one_line_errors
def search(net_id, weights, predictor_path, predictor_weights, constraints, luts, n_classes, generations, population,
           pareto_generations, resolutions, seed, out):
    """Evolutionary search for the most accurate subnet under every --constraint.

    Writes OUT (the subnet config), OUT's `.search.json` (predictions, Pareto front) and `.pareto.png`.
    """
    from ofa_tf.nas import EvolutionConfig
    from ofa_tf.nas import NSGA2Config
    from .budget_search import search_subnet
    from .budgets import budget_constraint
    from .budgets import efficiency_models
    from .budgets import parse_constraint
    from .specialize import budget_latency_model

    check_writable(out)
    out = Path(out)
    written = [f"{out.with_suffix('')}{tail}" for tail in (".search.json", ".pareto.png", "_host_measurements")]
    check_outputs_not_inputs([("--out", out), *(("--out", path) for path in written)],
                             _read_inputs(weights, net_id, None, predictor_path, predictor_weights, luts))
    budgets = [parse_constraint(c) for c in constraints]
    for path in luts:
        if not Path(path).is_file():
            raise FileNotFoundError(f"Latency table not found: {path} (from --lut).")
    if not (weights or net_id):
        raise ValueError("Pass --net (and --weights) so that MACs, params and latency match the supernet.")
    supernet = load_supernet(net_id, weights, n_classes)
    model = load_predictor(predictor_path, predictor_weights, supernet)
    host_dir = out.parent / f"{out.stem}_host_measurements" if weights is not None else None
    latency_model, note = budget_latency_model(supernet, budgets, luts, host_dir)
    if note:
        click.echo(f"Note: {note}")
    outcome = search_subnet(
        model, [budget_constraint(b, supernet, latency_model) for b in budgets],
        report_models=list(efficiency_models(supernet)),
        evolution=EvolutionConfig(population_size=population, n_generations=generations),
        nsga2=NSGA2Config(population_size=max(4, population), n_generations=pareto_generations)
        if pareto_generations else None,
        seed=seed, resolutions=resolutions,
    )
    _echo_search(outcome, budgets, resolutions, _save_search(outcome, budgets, out))


def _save_search(outcome, budgets, out: Path) -> list[Path]:
    """Writes the subnet config to `out`, its `.search.json` and (with a front) `.pareto.png`; returns the paths."""
    from ofa_tf.nas import pareto_plot

    out.parent.mkdir(parents=True, exist_ok=True)
    outcome.config.save(out)
    sidecar = out.with_name(out.stem + ".search.json")
    sidecar.write_text(json.dumps({"constraints": [str(b) for b in budgets], **outcome.to_dict()}, indent=1) + "\n")
    if outcome.front is None:
        return [out, sidecar]
    return [out, sidecar, pareto_plot(outcome.front, out.with_name(out.stem + ".pareto.png"),
                                      title=f"Pareto front under {', '.join(str(b) for b in budgets)}")]


def _echo_search(outcome, budgets, resolutions, written: list[Path]) -> None:
    from .specialize import describe_resolutions

    click.echo(f"Best subnet under {', '.join(str(b) for b in budgets)} (search {outcome.seconds:.1f} s):")
    click.echo(f"  config: {json.dumps(outcome.config.to_dict())}")
    click.echo(f"  predicted top-1: {100 * outcome.predicted_accuracy:.2f}%")
    for name, value in outcome.efficiency.items():
        click.echo(f"  {name}: {value:.4g} {outcome.units[name]}")
    click.echo(f"  resolutions searched: {describe_resolutions(outcome, resolutions)}")
    click.echo(f"Wrote {', '.join(str(path) for path in written)}.")


# === specialize ===


@click.command("specialize")
@click.option("--supernet", "weights", required=True, help="Trained supernet weights or training output folder.")
@click.option("--net", "net_id", default=None, help="Supernet id (read from a training folder if omitted).")
@click.option("--predictor", "predictor_path", required=True, help=_PREDICTOR_HELP)
@click.option("--predictor-weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help=_PREDICTOR_WEIGHTS_HELP)
@click.option("--devices", required=True,
              help="NAME:BUDGET,... e.g. note8:30ms,pixel1:20ms,host:25ms (or NAME:macs=300M / NAME:params=5M).")
@click.option("--lut", "luts", multiple=True,
              help="DEVICE=FILE latency lookup table (repeatable: one per resolution, e.g. the reference's "
                   "<r>_lookup_table.yaml; MBConv supernets only). Without one, 'host' "
                   "budgets use this host's calibrated latency table (built in OUT/host_measurements/; OFA-ResNets "
                   "and ProxylessNAS: a line in MACs fitted to measured subnets); other devices are searched by MACs "
                   "with milliseconds from the host model (noted in the report).")
@click.option("--constraint", "constraints", multiple=True, help="Extra macs=/params= bound for every device.")
@click.option("--data", "data_source", default=None,
              help="Data for BN recalibration, int8 export and accuracy ('digits', TFDS name, folder).")
@click.option("--validation-split", default=0.2, show_default=True, type=float)
@click.option("--quantize", default="none", show_default=True, type=click.Choice(POST_TRAINING_MODES))
@click.option("--calibration-images", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--no-host", is_flag=True, help="Do not measure on this machine.")
@click.option("--n-classes", default=None, type=int, help="Classifier outputs (default: from the weights).")
@click.option("--generations", default=500, show_default=True, type=click.IntRange(0))
@click.option("--resolutions", callback=_parse_resolutions, help=_RESOLUTIONS_HELP)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--finetune-epochs", default=0, show_default=True, type=click.IntRange(0),
              help="Fine-tune each device's subnet on --data for this many epochs before its export (`ofa-tf "
                   "finetune`, into OUT/<device>_finetune/); 0 exports the subnet as extracted.")
@click.option("--out", default="specialized", show_default=True, type=click.Path(file_okay=False))
@one_line_errors
def specialize(weights, net_id, predictor_path, predictor_weights, devices, luts, constraints, data_source,
               validation_split, quantize, calibration_images, no_host, n_classes, generations, resolutions, seed,
               finetune_epochs, out):
    """One search per device budget, one BN-recalibrated `.tflite` per device, and a report (OUT/report.md)."""
    from . import specialize as spec
    from .budgets import check_lut
    from ofa_tf.nas import EvolutionConfig

    check_writable(out, folder=True)
    device_list = spec.parse_devices(devices)
    lut_map = spec.parse_luts(luts, [name for name, _ in device_list])
    written = ["report.md", "report.json", "pareto.png", "host_measurements",
               *(f"{name}{suffix}" for name, _ in device_list for suffix in (".json", ".tflite"))]
    check_outputs_not_inputs([("--out", out), *(("--out", Path(out) / name) for name in written)],
                             _read_inputs(weights, net_id, data_source, predictor_path, predictor_weights,
                                          [path for paths in lut_map.values() for path in paths]))
    options = spec.SpecializeOptions(
        quantize=quantize, constraints=[spec.parse_constraint(c) for c in constraints], measure_host=not no_host,
        calibration_images=calibration_images, evolution=EvolutionConfig(n_generations=generations), seed=seed,
        resolutions=resolutions, finetune_epochs=finetune_epochs,
        finetune_options={"data_name": data_source, "validation_split": validation_split, "seed": seed},
    )
    supernet = load_supernet(net_id, weights, n_classes)
    model = load_predictor(predictor_path, predictor_weights, supernet)
    for paths in lut_map.values():
        for path in paths:
            check_lut(path, supernet)
    data = _load_data(data_source, validation_split, seed)
    if quantize == "int8" and data is None:
        raise ValueError("--quantize int8 needs --data (representative images for the activation ranges).")
    if finetune_epochs and data is None:
        raise ValueError(f"--finetune-epochs {finetune_epochs} fine-tunes on --data: pass --data.")
    report = spec.specialize(supernet, model, device_list, out, luts=lut_map, data=data, options=options)
    _echo_results(report, resolutions)


def _echo_results(report, resolutions=None, warning: str | None = None) -> None:
    from .specialize import describe_resolutions
    from .specialize_report import predicted_top1

    if warning:
        click.echo("Warning: " + warning.replace("**", "").replace("`", ""))
    for r in report.results:
        o = r.outcome
        metric = next(iter(o.efficiency))
        parts = [f"{r.device} ({r.budget}, {r.source}): predicted top-1 "
                 f"{predicted_top1(o.predicted_accuracy, not warning)}%",
                 f"{metric} {o.efficiency[metric]:.4g} {o.units[metric]}", f"MACs {o.efficiency['macs']:.3f}M"]
        if r.top1 is not None:
            parts.append(f"top-1 {100 * r.top1:.2f}%")
        if r.tflite_top1 is not None:
            parts.append(f".tflite top-1 {100 * r.tflite_top1:.2f}%")
        if r.measured_host_ms is not None:
            parts.append(f"host {r.measured_host_ms:.3f} ms")
        click.echo(", ".join(parts) + f" -> {r.tflite_path}")
        click.echo(f"  resolutions searched: {describe_resolutions(o, resolutions)}")
        if r.note:
            click.echo(f"  note: {r.note}")
    click.echo(f"Report: {report.markdown_path} ({report.json_path.name}, {report.plot_path.name}).")


# === demo ===


@click.command("demo")
@click.option("--out", default="demo_out", show_default=True, type=click.Path(file_okay=False))
@click.option("--quick", is_flag=True, help="The reduced CI setting (also: OFA_TF_DEMO_QUICK=1).")
@click.option("--data", "data_source", default=None, help="Instead of 'digits': a TFDS name or an image folder.")
@click.option("--net", "net_id", default=None, help="Supernet preset (default: the tiny-image w0.5).")
@click.option("--weights", default=None, help="Use these trained weights (file or training folder); no training.")
@click.option("--pretrained", is_flag=True, help="Use the official ImageNet weights of --net; no training.")
@click.option("--full-epochs", default=None, type=click.IntRange(1), help="Epochs of the full-network phase.")
@click.option("--epochs", default=None, type=click.IntRange(1), help="Epochs of every later phase.")
@click.option("--n-subnets", default=None, type=click.IntRange(10), help="Subnets evaluated for the predictor.")
@click.option("--predictor-features", default=None, type=click.Choice(["block", "stage"]),
              help="The predictor's inputs (default: stage; see `ofa-tf predictor --features`).")
@click.option("--quantize", default=None, type=click.Choice(POST_TRAINING_MODES))
@click.option("--seed", default=None, type=int)
@one_line_errors
def demo(out, quick, data_source, net_id, weights, pretrained, full_epochs, epochs, n_subnets, predictor_features,
         quantize, seed):
    """The whole pipeline offline in a few minutes: train a small supernet on scikit-learn's digits with the
    sandwich recipe, build the accuracy predictor (judged by cross-validation), search for a MACs budget and a
    host-latency budget, export two `.tflite` files, run them here, and write OUT/report.md."""
    from .demo import DemoSettings
    from .demo import run_demo

    check_writable(out, folder=True)
    check_outputs_not_inputs([("--out", out)], _read_inputs(weights, net_id, data_source))
    given = dict(data=data_source, net_id=net_id, weights=weights, full_epochs=full_epochs, epochs=epochs,
                 n_subnets=n_subnets, predictor_features=predictor_features, quantize=quantize, seed=seed)
    overrides = {k: v for k, v in given.items() if v is not None}
    if pretrained:
        overrides["pretrained"] = True
    settings = DemoSettings.quick(**overrides) if quick else DemoSettings.from_env(**overrides)
    result = run_demo(settings, out)
    _echo_results(result.report, warning=result.report.extra.get("predictor_warning"))
    cv = result.cross_validation
    (tau, tau_sd), (rmse, rmse_sd), (base, base_sd) = cv.kendall_tau, cv.rmse, cv.baseline_rmse
    click.echo(f"Predictor, {len(cv.folds)}-fold cross-validation: RMSE {100 * rmse:.2f} ± {100 * rmse_sd:.2f} points "
               f"(mean baseline {100 * base:.2f} ± {100 * base_sd:.2f}), Kendall tau {tau:.3f} ± {tau_sd:.3f}.")
    click.echo("Stage times: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()) + ".")
