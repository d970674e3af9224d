"""`ofa-tf export` and `ofa-tf inspect`: thin click wrappers over `tools`."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from android_bench.cli_support import check_outputs_not_inputs
from android_bench.cli_support import check_writable
from android_bench.cli_support import existing_folder
from android_bench.cli_support import one_line_errors

from .quantize import IO_TYPES
from .quantize import QUANTIZE_MODES

logger = logging.getLogger(__name__)


@click.command("export")
@click.option("--net", "net_id", default=None,
              help="Supernet id (see ofa_tf.net_ids()); a training run folder as --weights names its own.")
@click.option("--specialized", default=None,
              help="Instead of --net/--config: a specialized network id (`ofa-tf zoo`), at its own image size.")
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Instead of --net/--config: a fine-tuned model (DIR/finetuned.keras of `ofa-tf finetune`); the "
                   "metadata names its fine-tuning run.")
@click.option("--weights", type=click.Path(exists=True, path_type=Path), default=None,
              help="Supernet weights (PyTorch .pth or Keras .weights.h5) or a training run folder; with "
                   "--specialized the folder holding net.config, run.config and init.")
@click.option("--pretrained", is_flag=True, help="With --specialized: download the released files.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="SUBNET.json written by SubnetConfig.save / get_active_subnet_config().")
@click.option("--resolution", type=click.IntRange(min=1), default=None, help="Input size (default: the config's r).")
@click.option("--quantize", type=click.Choice(QUANTIZE_MODES), default="none", show_default=True)
@click.option("--data", default=None, help="TFDS name, image folder or 'digits' (int8, qat, --calibrate-bn).")
@click.option("--calibrate-bn", type=click.IntRange(min=0), default=0, show_default=True,
              help="Recalibrate BN statistics on this many training images.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="MODEL.tflite to write.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--io-type", type=click.Choice(IO_TYPES), default="int8", show_default=True,
              help="Input/output type of int8 and qat models.")
@click.option("--n-classes", type=click.IntRange(min=1), default=None,
              help="Classifier outputs (default: read from a .weights.h5 file, else 1000).")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Text file with one class name per line (default: the data's class names).")
@click.option("--representative-images", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--qat-steps", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--qat-batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--qat-lr", type=click.FloatRange(min=0.0), default=1e-5, show_default=True)
@click.option("--validation-split", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@one_line_errors
def export_command(net_id, specialized, model_path, weights, pretrained, config_path, resolution, quantize, data,
                   calibrate_bn, out, batch_size, io_type, n_classes, labels_path, representative_images, qat_steps,
                   qat_batch_size, qat_lr, validation_split, seed):
    """Write one subnet of a supernet (or a specialized network, or a fine-tuned model) as a standalone TFLite model
    (builtin ops only) with embedded metadata."""
    if model_path is not None:
        given = [f"--{n}" for n, v in (("net", net_id), ("specialized", specialized), ("weights", weights),
                                       ("pretrained", pretrained), ("config", config_path), ("resolution", resolution),
                                       ("calibrate-bn", calibrate_bn), ("n-classes", n_classes)) if v]
        if given:
            raise click.UsageError(f"--model takes none of {', '.join(given)} (the fine-tuned model comes whole).")
        ctx = click.get_current_context()
        split = validation_split if ctx.get_parameter_source("validation_split").name != "DEFAULT" else None
        return _export_model(model_path, quantize, data, out, batch_size, io_type, labels_path, representative_images,
                             qat_steps, qat_batch_size, qat_lr, split, seed)
    if specialized is not None:
        given = [f"--{n}" for n, v in (("net", net_id), ("config", config_path), ("resolution", resolution),
                                       ("calibrate-bn", calibrate_bn), ("n-classes", n_classes)) if v]
        if given:
            raise click.UsageError(f"--specialized takes none of {', '.join(given)} (the network comes whole).")
        return _export_specialized(specialized, weights, pretrained, quantize, data, out, batch_size, io_type,
                                   labels_path, representative_images, qat_steps, qat_batch_size, qat_lr,
                                   validation_split, seed)
    if weights is not None and (weights / "net.config").is_file():
        raise click.UsageError(f"--weights {weights} is a specialized network's folder (net.config, run.config, "
                               f"init): export it with --specialized ID --weights {weights} (ID: its "
                               "id in `ofa-tf zoo`).")
    missing = [f"--{n}" for n, v in (("weights", weights), ("config", config_path)) if v is None]
    if net_id is None and not (weights is not None and weights.is_dir()):  # a run folder names its net
        missing.insert(0, "--net")
    if missing:
        raise click.UsageError(f"Missing {', '.join(missing)} (or export a specialized network with --specialized, a "
                               "fine-tuned one with --model).")
    if pretrained:
        raise click.BadParameter("a supernet export takes a weights file or a training run folder (--pretrained is "
                                 "for --specialized).", param_hint="--weights")
    from ofa_tf.run_folder import files_read
    from ofa_tf.run_folder import load_supernet

    from .export import export_subnet
    from .quantize import ConversionError

    if quantize in ("int8", "qat") and data is None:
        raise click.UsageError(f"--quantize {quantize} needs --data (a TFDS name, an image folder or 'digits').")
    if calibrate_bn and data is None:
        raise click.UsageError(f"--calibrate-bn {calibrate_bn} needs --data (a TFDS name, an image folder or 'digits').")
    check_writable(out)
    check_outputs_not_inputs([("--out", out)], [*(("--weights", p) for p in files_read(weights, net_id)),
                                                ("--config", config_path), ("--labels", labels_path),
                                                ("--data", existing_folder(data))])
    try:
        config = json.loads(config_path.read_text())
    except ValueError as err:  # json.JSONDecodeError
        raise click.BadParameter(f"{config_path}: {err}", param_hint="--config") from err
    labels, qat = _labels_and_qat(labels_path, quantize, qat_steps, qat_batch_size, qat_lr, seed)
    try:
        # the training dropout (0.1) stays in the subnet, so that --quantize qat fine-tunes with it
        supernet = load_supernet(net_id, weights, n_classes, dropout_rate=0.1)
        net_id = supernet.net_id
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--net / --weights") from err
    try:  # the supernet's family reads its own config format (`config_type`: ks/e/d or OFA-ResNets' d/e/w)
        config = supernet.search_space.config_type.from_dict(config)
        supernet.search_space.validate(config)
    except (ValueError, KeyError, TypeError) as err:
        raise click.BadParameter(f"{config_path} is outside the search space of {net_id}: {err}",
                                 param_hint="--config") from err
    try:
        result = export_subnet(
            supernet, config, out, quantize=quantize, data=data, calibrate_bn=calibrate_bn, resolution=resolution,
            batch_size=batch_size, io_type=io_type, representative_images=representative_images, qat=qat,
            labels=labels, validation_split=validation_split, seed=seed,
        )
    except (ValueError, FileNotFoundError, ConversionError) as err:
        raise click.ClickException(str(err)) from err
    ops = ", ".join(f"{k}×{v}" for k, v in result.op_histogram.items())
    click.echo(f"Wrote {result.path} ({result.size_bytes / 1024:.1f} KiB, {quantize}, "
               f"{result.metadata.resolution}x{result.metadata.resolution}) in {result.seconds['total']:.1f}s")
    click.echo(f"ops: {ops}")


def _labels_and_qat(labels_path, quantize, qat_steps, qat_batch_size, qat_lr, seed):
    """The export commands' `--labels` file (one label a line) and, with `--quantize qat`, its training options."""
    labels = None
    if labels_path is not None:
        labels = [line.strip() for line in labels_path.read_text().splitlines() if line.strip()]
    qat = None
    if quantize == "qat":
        from .qat import QATOptions

        qat = QATOptions(steps=qat_steps, batch_size=qat_batch_size, learning_rate=qat_lr, seed=seed)
    return labels, qat


def _export_model(model_path, quantize, data, out, batch_size, io_type, labels_path, representative_images,
                  qat_steps, qat_batch_size, qat_lr, validation_split, seed):
    from .export import export_finetuned
    from .quantize import ConversionError

    if quantize in ("int8", "qat") and data is None:
        raise click.UsageError(f"--quantize {quantize} needs --data (a TFDS name, an image folder or 'digits').")
    check_writable(out)
    check_outputs_not_inputs([("--out", out)], [("--model", model_path), ("--labels", labels_path),
                                                 ("--data", existing_folder(data))])
    labels, qat = _labels_and_qat(labels_path, quantize, qat_steps, qat_batch_size, qat_lr, seed)
    try:
        result = export_finetuned(
            model_path, out, quantize=quantize, data=data, batch_size=batch_size, io_type=io_type,
            representative_images=representative_images, qat=qat, labels=labels, validation_split=validation_split,
        )
    except (ValueError, FileNotFoundError, ConversionError) as err:
        raise click.ClickException(str(err)) from err
    ops = ", ".join(f"{k}×{v}" for k, v in result.op_histogram.items())
    origin = result.metadata.extra.get("finetune")
    what = (f"fine-tuned on {len(origin['classes'])} classes from {origin['supernet'].get('net_id') or 'a supernet'}"
            if origin else "no fine-tuning record")
    click.echo(f"Wrote {result.path} ({result.size_bytes / 1024:.1f} KiB, {quantize}, {model_path.name}: {what}, "
               f"{result.metadata.resolution}x{result.metadata.resolution}) in {result.seconds['total']:.1f}s")
    click.echo(f"ops: {ops}")


def _export_specialized(net_id, weights, pretrained, quantize, data, out, batch_size, io_type, labels_path,
                        representative_images, qat_steps, qat_batch_size, qat_lr, validation_split, seed):
    from .export import export_specialized
    from .quantize import ConversionError

    if (weights is None) == (not pretrained):
        raise click.UsageError("--specialized needs exactly one of --weights FOLDER or --pretrained.")
    if quantize in ("int8", "qat") and data is None:
        raise click.UsageError(f"--quantize {quantize} needs --data (a TFDS name, an image folder or 'digits').")
    check_writable(out)
    from ofa_tf.specialized import FILES

    read = [] if weights is None else [weights / name for name in FILES] if weights.is_dir() else [weights]
    check_outputs_not_inputs([("--out", out)], [*(("--weights", path) for path in read), ("--labels", labels_path),
                                                ("--data", existing_folder(data))])
    labels, qat = _labels_and_qat(labels_path, quantize, qat_steps, qat_batch_size, qat_lr, seed)
    try:
        result = export_specialized(
            net_id, out, weights=weights, pretrained=pretrained, quantize=quantize, data=data, batch_size=batch_size,
            io_type=io_type, representative_images=representative_images, qat=qat, labels=labels,
            validation_split=validation_split, seed=seed,
        )
    except (ValueError, FileNotFoundError, ConnectionError, ConversionError) as err:
        raise click.ClickException(str(err)) from err
    ops = ", ".join(f"{k}×{v}" for k, v in result.op_histogram.items())
    click.echo(f"Wrote {result.path} ({result.size_bytes / 1024:.1f} KiB, {quantize}, {net_id} at "
               f"{result.metadata.resolution}x{result.metadata.resolution}) in {result.seconds['total']:.1f}s")
    click.echo(f"ops: {ops}")


@click.command("zoo")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def zoo_command(as_json):
    """List the released specialized networks with their device, latency budget and published figures."""
    from ofa_tf.specialized import specialized_ids

    nets = specialized_ids()
    if as_json:
        click.echo(json.dumps([net.to_dict() for net in nets], indent=2))
        return
    click.echo("| net id | device | latency budget | top-1 % | top-5 % | MACs | params |")
    click.echo("|---|---|---|---|---|---|---|")
    for net in nets:
        budget = "-" if net.latency_ms is None else f"{net.latency_ms:g} ms"
        click.echo(f"| {net.net_id} | {net.device} | {budget} | {net.top1:.1f} | {net.top5:.1f} | "
                   f"{_macs(net.macs)} | {net.params / 1e6:.1f}M |")
    click.echo(f"{len(nets)} specialized networks (published ImageNet figures). Export one for a phone: "
               "ofa-tf export --specialized NET_ID --pretrained --out NET.tflite")


def _macs(macs: int) -> str:
    return f"{macs / 1e9:g}B" if macs >= 1e9 else f"{macs / 1e6:g}M"


@click.command("inspect")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--benchmark", is_flag=True, help="Also time the model on this machine (ai_edge_litert interpreter).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True)
@one_line_errors
def inspect_command(model, as_json, benchmark, threads, warmup, runs):
    """Print a TFLite model's metadata, op histogram, inputs/outputs and size (optionally its host latency)."""
    from .host_runner import run_tflite
    from .inspect_model import inspect_tflite

    try:
        report = inspect_tflite(model)
    except ValueError as err:
        raise click.ClickException(f"{model}: {err}") from err
    data = report.to_dict()
    if benchmark:
        run = run_tflite(model, threads=threads, warmup=warmup, runs=runs)
        data["host_benchmark"] = {k: v for k, v in run.to_dict().items() if k not in ("outputs", "path")}
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(f"{report.path}: {report.size_bytes} bytes ({report.size_bytes / 1024:.1f} KiB)")
    meta = report.metadata
    if meta is None:
        click.echo(f"metadata: none from ofa_tf (entries: {', '.join(report.metadata_entries) or 'none'})")
    else:
        click.echo(f"net: {meta.net_id}  quantization: {meta.quantization}  resolution: {meta.resolution}  "
                   f"batch: {meta.batch_size}")
        click.echo(f"normalization: (pixel / {meta.pixel_scale:g} - mean) / std, mean={list(meta.mean)} "
                   f"std={list(meta.std)}")
        if meta.net_config is not None:
            click.echo(f"network: {meta.net_config.get('name')} with {len(meta.net_config.get('blocks', []))} blocks "
                       "(reference net.config)")
        else:
            click.echo(f"subnet config: {json.dumps(meta.subnet_config)}")
        origin = meta.extra.get("finetune")
        if origin:
            source = origin["data"].get("source") or "in-memory data"
            click.echo(f"fine-tuned: {origin['epochs']} epochs on {source} ({len(origin['classes'])} classes) from "
                       f"{origin['supernet'].get('net_id') or origin['supernet'].get('class')} "
                       f"({origin['supernet'].get('weights') or 'weights not recorded'}); run {origin['run']}")
        if meta.labels is None:
            click.echo("labels: none")
        else:
            more = ", ..." if len(meta.labels) > 10 else ""
            click.echo(f"labels: {len(meta.labels)} ({', '.join(meta.labels[:10])}{more})")
    for kind, tensors in (("input", report.inputs), ("output", report.outputs)):
        for t in tensors:
            quant = f" scale={t.scale:g} zero_point={t.zero_point}" if t.scale is not None else ""
            click.echo(f"{kind}: {t.name} {list(t.shape)} {t.dtype}{quant}")
    click.echo("ops: " + ", ".join(f"{k}×{v}" for k, v in report.op_histogram.items()))
    floats = report.float_compute_ops
    if floats and meta is not None and meta.quantization in ("int8", "qat"):
        click.echo(f"float compute ops: {sorted({op.op for op in floats})}")
    if benchmark:
        b = data["host_benchmark"]
        click.echo(f"host latency ({threads} thread(s), {runs} runs): mean {b['mean_us'] / 1e3:.3f} ms, "
                   f"std {b['std_us'] / 1e3:.3f}, p5 {b['p5_us'] / 1e3:.3f}, p50 {b['p50_us'] / 1e3:.3f}, "
                   f"p95 {b['p95_us'] / 1e3:.3f}")
