"""`ofa-tf export` and `ofa-tf inspect`: thin click wrappers over `tools`."""
from __future__ import annotations

import dataclasses
import functools
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


@dataclasses.dataclass(frozen=True)
class _ExportArgs:
    """The settings every source of `ofa-tf export` shares, as given on the command line."""

    quantize: str
    data: str | None
    resolution: int | None
    calibrate_bn: int
    out: Path
    batch_size: int
    io_type: str
    labels_path: Path | None
    representative_images: int
    qat_steps: int
    qat_batch_size: int
    qat_lr: float
    validation_split: float
    seed: int
    split_given: bool  # --validation-split given (a fine-tuned model is split as its run split it otherwise)

    def check(self, read: list) -> None:
        """The checks before any work: --data where needed, a writable --out that is none of the inputs `read`."""
        if self.quantize in ("int8", "qat") and self.data is None:
            raise click.UsageError(f"--quantize {self.quantize} needs --data (a TFDS name, an image folder or "
                                   "'digits').")
        if self.calibrate_bn and self.data is None:
            raise click.UsageError(f"--calibrate-bn {self.calibrate_bn} needs --data (a TFDS name, an image folder "
                                   "or 'digits').")
        check_writable(self.out)
        check_outputs_not_inputs([("--out", self.out)], [*read, ("--labels", self.labels_path),
                                                         ("--data", existing_folder(self.data))])

    def options(self, **fields):
        """The `ExportOptions` (`fields` override): the --labels file read (one label a line), the --qat-* options."""
        from .export import ExportOptions

        labels = None
        if self.labels_path is not None:
            labels = [line.strip() for line in self.labels_path.read_text().splitlines() if line.strip()]
        qat = None
        if self.quantize == "qat":
            from .qat import QATOptions

            qat = QATOptions(steps=self.qat_steps, batch_size=self.qat_batch_size, learning_rate=self.qat_lr,
                             seed=self.seed)
        settings = dict(quantize=self.quantize, data=self.data, calibrate_bn=self.calibrate_bn,
                        resolution=self.resolution, batch_size=self.batch_size, io_type=self.io_type,
                        representative_images=self.representative_images, qat=qat, labels=labels,
                        validation_split=self.validation_split, seed=self.seed)
        return ExportOptions(**{**settings, **fields})


_EXPORT_OPTIONS = [
    click.option("--resolution", type=click.IntRange(min=1), default=None,
                 help="Input size (default: the config's r)."),
    click.option("--quantize", type=click.Choice(QUANTIZE_MODES), default="none", show_default=True),
    click.option("--data", default=None, help="TFDS name, image folder or 'digits' (int8, qat, --calibrate-bn)."),
    click.option("--calibrate-bn", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Recalibrate BN statistics on this many training images."),
    click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
                 help="MODEL.tflite to write."),
    click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True),
    click.option("--io-type", type=click.Choice(IO_TYPES), default="int8", show_default=True,
                 help="Input/output type of int8 and qat models."),
    click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 default=None, help="Text file with one class name per line (default: the data's class names)."),
    click.option("--representative-images", type=click.IntRange(min=1), default=100, show_default=True),
    click.option("--qat-steps", type=click.IntRange(min=0), default=100, show_default=True),
    click.option("--qat-batch-size", type=click.IntRange(min=1), default=32, show_default=True),
    click.option("--qat-lr", type=click.FloatRange(min=0.0), default=1e-5, show_default=True),
    click.option("--validation-split", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.1,
                 show_default=True),
    click.option("--seed", type=int, default=0, show_default=True),
]


def export_options(command):
    """Adds the shared `ofa-tf export` options (`_EXPORT_OPTIONS`) to `command`, which receives them as one
    `_ExportArgs` (keyword `export`)."""
    names = [field.name for field in dataclasses.fields(_ExportArgs) if field.name != "split_given"]

    @functools.wraps(command)
    def wrapper(**kwargs):
        given = click.get_current_context().get_parameter_source("validation_split").name != "DEFAULT"
        shared = _ExportArgs(**{name: kwargs.pop(name) for name in names}, split_given=given)
        return command(export=shared, **kwargs)

    for option in reversed(_EXPORT_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


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
@click.option("--n-classes", type=click.IntRange(min=1), default=None,
              help="Classifier outputs (default: read from a .weights.h5 file, else 1000).")
@export_options
@one_line_errors
def export_command(net_id, specialized, model_path, weights, pretrained, config_path, n_classes, export):
    """Write one subnet of a supernet (or a specialized network, or a fine-tuned model) as a standalone TFLite model
    (builtin ops only) with embedded metadata."""
    whole = (("resolution", export.resolution), ("calibrate-bn", export.calibrate_bn), ("n-classes", n_classes))
    if model_path is not None:
        _refuse("--model", "the fine-tuned model comes whole", ("net", net_id), ("specialized", specialized),
                ("weights", weights), ("pretrained", pretrained), ("config", config_path), *whole)
        return _export_finetuned(model_path, export)
    if specialized is not None:
        _refuse("--specialized", "the network comes whole", ("net", net_id), ("config", config_path), *whole)
        return _export_specialized(specialized, weights, pretrained, export)
    return _export_subnet(net_id, weights, pretrained, config_path, n_classes, export)


def _refuse(source: str, reason: str, *options) -> None:
    """A usage error naming the options (`(name, value)` pairs) given with `source` that it does not take."""
    given = [f"--{name}" for name, value in options if value]
    if given:
        raise click.UsageError(f"{source} takes none of {', '.join(given)} ({reason}).")


def _export_subnet(net_id, weights, pretrained, config_path, n_classes, export: _ExportArgs) -> None:
    from ofa_tf.run_folder import files_read
    from ofa_tf.run_folder import load_supernet

    from .export import export_subnet

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
    export.check([*(("--weights", p) for p in files_read(weights, net_id)), ("--config", config_path)])
    try:
        config = json.loads(config_path.read_text())
    except ValueError as err:  # json.JSONDecodeError
        raise click.BadParameter(f"{config_path}: {err}", param_hint="--config") from err
    options = export.options()
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
    _run_export(export_subnet, supernet, config, export.out, options)


def _export_specialized(net_id, weights, pretrained, export: _ExportArgs) -> None:
    from ofa_tf.specialized import FILES

    from .export import export_specialized

    if (weights is None) == (not pretrained):
        raise click.UsageError("--specialized needs exactly one of --weights FOLDER or --pretrained.")
    read = [] if weights is None else [weights / name for name in FILES] if weights.is_dir() else [weights]
    export.check([("--weights", path) for path in read])
    _run_export(export_specialized, net_id, export.out, weights, pretrained, export.options(),
                about=lambda result: f"{net_id} at ")


def _export_finetuned(model_path, export: _ExportArgs) -> None:
    from .export import export_finetuned

    export.check([("--model", model_path)])
    # split as the fine-tuning run split it unless --validation-split is given; --seed seeds only QAT here
    options = export.options(validation_split=export.validation_split if export.split_given else None, seed=None)

    def about(result) -> str:
        origin = result.metadata.extra.get("finetune")
        what = (f"fine-tuned on {len(origin['classes'])} classes from "
                f"{origin['supernet'].get('net_id') or 'a supernet'}" if origin else "no fine-tuning record")
        return f"{model_path.name}: {what}, "

    _run_export(export_finetuned, model_path, export.out, options, about=about)


def _run_export(export_fn, *args, about=lambda result: "") -> None:
    """Runs `export_fn(*args)` (its bad-input errors as one line) and prints what it wrote: `Wrote PATH (size,
    mode, <about(result)>RxR) in Ns` and the op histogram."""
    from .quantize import ConversionError

    try:
        result = export_fn(*args)
    except (ValueError, FileNotFoundError, ConnectionError, ConversionError) as err:
        raise click.ClickException(str(err)) from err
    meta = result.metadata
    ops = ", ".join(f"{k}×{v}" for k, v in result.op_histogram.items())
    click.echo(f"Wrote {result.path} ({result.size_bytes / 1024:.1f} KiB, {meta.quantization}, {about(result)}"
               f"{meta.resolution}x{meta.resolution}) in {result.seconds['total']:.1f}s")
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
