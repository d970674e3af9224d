"""Supernet + subnet config → standalone TFLite model (optionally BN-recalibrated and quantized), written atomically."""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from ofa_tf.files import write_atomic as write_atomic
from ofa_tf.families.mbconv.config import SubnetConfig

from .inspect_model import io_tensors
from .inspect_model import op_histogram
from .quantize import QuantizeOptions
from .quantize import check_mode
from .quantize import convert
from .tflite_metadata import ModelMetadata
from .tflite_metadata import embed_metadata

logger = logging.getLogger(__name__)

_NEEDS_DATA = ("int8", "qat")


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """How a model is exported: the settings `export_subnet`, `export_specialized`, `export_finetuned`,
    `export_keras_model` and `ofa-tf export` share (each function also takes them as keywords).

    Args:
        quantize: one of `tools.QUANTIZE_MODES`.
        data: an `ofa_tf.data.ImageData` or a source for `ofa_tf.data.load_dataset` (TFDS name, image folder,
            "digits"); needed for `int8`, `qat` and `calibrate_bn`.
        batch_size: fixed batch dimension of the model input (None: 1, or for `export_keras_model` the model's own
            batch dimension, 1 when it has none).
        io_type: input/output type of the integer modes (`int8`, `uint8` or `float32`).
        representative_images: validation images calibrating the activation ranges of `int8`.
        qat: `tools.qat.QATOptions` for `qat` (default options when None).
        labels: class names in output order; default the data's class names when their count matches.
        validation_split, seed: how a data source given by name is split (the representative images come from the
            validation part); None: 0.1 and 0, or for `export_finetuned` as the fine-tuning run split it.
        calibrate_bn: number of training images for BN recalibration (0: keep the statistics; `export_subnet` only).
        resolution: input size (default the config's `r`; `export_subnet` only).
    """

    quantize: str = "none"
    data: object = None
    batch_size: int | None = None
    io_type: str = "int8"
    representative_images: int = 100
    qat: object = None
    labels: tuple[str, ...] | None = None
    validation_split: float | None = None
    seed: int | None = None
    calibrate_bn: int = 0
    resolution: int | None = None

    def __post_init__(self):
        QuantizeOptions(check_mode(self.quantize), self.io_type)  # validates mode and io_type before any work
        size = self.batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"Invalid batch_size={size!r}: expected a positive integer.")
        n = self.calibrate_bn
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Invalid calibrate_bn={n!r}: expected a number of images >= 0.")
        if self.data is None and self.quantize in _NEEDS_DATA:
            raise ValueError(f"Quantization mode {self.quantize!r} needs data: pass a TFDS name, an image folder or "
                             "'digits' (--data).")
        if self.data is None and n:
            raise ValueError(f"calibrate_bn={n} needs data: pass a TFDS name, an image folder or 'digits' (--data).")
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(str(v) for v in self.labels))

    def split(self, record: dict | None = None) -> tuple[float, int]:
        """`(validation_split, seed)`: these options', else the fine-tuning `record`'s, else 0.1 and 0."""
        stored = (record or {}).get("data", {})
        split = self.validation_split if self.validation_split is not None else stored.get("validation_split", 0.1)
        return split, (self.seed if self.seed is not None else stored.get("split_seed", 0))

    def loaded(self, record: dict | None = None) -> ExportOptions:
        """These options with `data` loaded (`ofa_tf.data.load_dataset`, split as `split(record)`)."""
        from ofa_tf.data import ImageData
        from ofa_tf.data import load_dataset

        if self.data is None or isinstance(self.data, ImageData):
            return self
        split, seed = self.split(record)
        return dataclasses.replace(self, data=load_dataset(self.data, validation_split=split, seed=seed))

    def whole_network(self, what: str) -> ExportOptions:
        """Refuses the settings that only a supernet's subnet takes (`calibrate_bn`, `resolution`) for `what`."""
        given = [f"{k}={getattr(self, k)!r}" for k in ("calibrate_bn", "resolution") if getattr(self, k)]
        if given:
            raise ValueError(f"{what} takes no {', '.join(given)}: the network comes whole (calibrate_bn and "
                             "resolution are for export_subnet).")
        return self


def _export_options(options: ExportOptions | None = None, **overrides) -> ExportOptions:
    """`options` with `overrides` (keywords of `ExportOptions`), or new options from them."""
    if options is None:
        return ExportOptions(**overrides)
    return dataclasses.replace(options, **overrides) if overrides else options


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_subnet` wrote.

    Args:
        path: the `.tflite` file.
        size_bytes: its size.
        metadata: the embedded `ModelMetadata`.
        op_histogram: builtin op name → count.
        calibrated_images: images used for BN recalibration (0: none).
        seconds: wall time per step (`calibrate_bn`, `materialize`, `qat`, `convert`, `total`).
        qat_loss: final training loss of the QAT fine-tuning, when run.
    """

    path: Path
    size_bytes: int
    metadata: ModelMetadata
    op_histogram: dict[str, int]
    calibrated_images: int
    seconds: dict[str, float]
    qat_loss: float | None = None


def _check_out(out: str | Path) -> Path:
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Output folder does not exist: {out.parent}")
    return out


def _check_qat_classes(options: ExportOptions, n_outputs: int) -> None:
    """QAT trains on the data's labels, so the (loaded) data must have one class per output."""
    if options.quantize == "qat" and options.data.num_classes != n_outputs:
        raise ValueError(
            f"QAT trains on the data's labels: the data has {options.data.num_classes} classes but the model "
            f"{n_outputs} outputs."
        )


def export_subnet(supernet, config: SubnetConfig | dict, out: str | Path, options: ExportOptions | None = None,
                  **overrides) -> ExportResult:
    """Materializes `config` of `supernet` at a fixed input size and writes it as a TFLite model with metadata.

    The supernet's active subnet becomes `config`; with `calibrate_bn` its BN statistics for that subnet are
    recalibrated in place (as `ofa_tf.calibrate.calibrate_bn`).

    Args:
        supernet: an `OFAMobileNetV3` (or a supernet of another family).
        config: the subnet (`get_active_subnet_config()`, a `SubnetConfig` or `ResNetConfig`); must be in the
            search space.
        out: the `.tflite` path (written atomically).
        options: an `ExportOptions`; `overrides` are its fields as keywords (`quantize="int8", data="digits"`).
    """
    start = time.perf_counter()
    options = _export_options(options, **overrides)
    config = _subnet_at_resolution(supernet, config, options.resolution)
    out = _check_out(out)
    resolution = config.r
    if resolution not in supernet.search_space.resolutions:
        logger.warning("Resolution %d is outside the supernet's trained resolutions %s.", resolution,
                       list(supernet.search_space.resolutions))
    options = options.loaded()
    if options.labels is not None and len(options.labels) != supernet.n_classes:
        raise ValueError(f"Received {len(options.labels)} labels for a model with {supernet.n_classes} outputs.")
    _check_qat_classes(options, supernet.n_classes)
    supernet.set_active_config(config)
    calibrated, seconds = _recalibrate(supernet, config, options)
    tick = time.perf_counter()
    batch_size = options.batch_size or 1
    model = supernet.get_active_subnet(resolution=resolution, batch_size=batch_size)
    seconds["materialize"] = time.perf_counter() - tick
    result = export_keras_model(
        model, out, dataclasses.replace(options, calibrate_bn=0, resolution=None, batch_size=batch_size),
        subnet_config=config.to_dict(), net_id=supernet.net_id, extra={"calibrate_bn_images": calibrated},
    )
    seconds.update(result.seconds, total=time.perf_counter() - start)
    return dataclasses.replace(result, calibrated_images=calibrated, seconds=seconds)


def _recalibrate(supernet, config, options: ExportOptions) -> tuple[int, dict[str, float]]:
    """With `calibrate_bn`, recalibrates the BN statistics of the active subnet `config` in place
    (`ofa_tf.calibrate.calibrate_bn`); returns the images used and the seconds taken."""
    if not options.calibrate_bn:
        return 0, {}
    from ofa_tf.calibrate import calibrate_bn

    tick = time.perf_counter()
    n = options.calibrate_bn
    calibrated = calibrate_bn(supernet, options.data.calibration(config.r, n_images=n, batch_size=min(n, 200)), config)
    return calibrated, {"calibrate_bn": time.perf_counter() - tick}


def _subnet_at_resolution(supernet, config, resolution: int | None):
    """`config` (a dict in the supernet's config format, or a config) validated and set to `resolution` (default
    its `r`)."""
    if isinstance(config, dict):  # an OFA-ResNet space reads {"d", "e", "w"} dicts (its `config_type`)
        config = supernet.search_space.config_type.from_dict(config)
    supernet.search_space.validate(config)
    resolution = resolution or config.r
    if resolution is None:
        raise ValueError(
            "No input resolution: the subnet config has no 'r'; pass resolution= (--resolution) "
            f"(the supernet was trained at {list(supernet.search_space.resolutions)})."
        )
    config = config.with_resolution(int(resolution))
    supernet.search_space.validate(config)
    return config


def export_specialized(net_id: str, out: str | Path, weights: str | Path | None = None, pretrained: bool = False,
                       options: ExportOptions | None = None, **overrides) -> ExportResult:
    """Writes a specialized network (`ofa_tf.ofa_specialized`) as a TFLite model at its own image size.

    `weights` (a folder with `net.config`, `run.config`, `init`) or `pretrained` (download) as for
    `ofa_specialized`; the metadata carries the id and the network's `net.config`. `options` / `overrides` as
    `export_subnet` (without `calibrate_bn` and `resolution`: the network comes whole).
    """
    from ofa_tf.layer_config import build_network
    from ofa_tf.specialized import read_folder
    from ofa_tf.specialized import specialized_folder

    start = time.perf_counter()
    options = _export_options(options, **overrides).whole_network("export_specialized")
    options = dataclasses.replace(options, batch_size=options.batch_size or 1)
    folder = specialized_folder(net_id, pretrained=pretrained, weights=weights)
    net_config, image_size, state_dict = read_folder(folder)
    tick = time.perf_counter()
    model = build_network(net_config, state_dict, resolution=image_size, batch_size=options.batch_size,
                          source=str(folder / "init"))
    build_seconds = time.perf_counter() - tick
    result = export_keras_model(model, out, options, net_id=net_id, net_config=net_config)
    seconds = {**result.seconds, "materialize": build_seconds, "total": time.perf_counter() - start}
    return dataclasses.replace(result, seconds=seconds)


def export_finetuned(model: str | Path, out: str | Path, options: ExportOptions | None = None,
                     **overrides) -> ExportResult:
    """Writes a fine-tuned subnet (`ofa_tf.finetune`'s `finetuned.keras`, or its run folder) as a TFLite model.

    The metadata names the fine-tuning run (`extra["finetune"]`: supernet net id and weights, subnet, classes, data,
    epochs, final validation top-1), carries the supernet's net id and the subnet config, and labels the outputs
    with the run's class names. `data` (int8 / qat) must have the model's classes; a source given by name is split
    as the fine-tuning run split it (`validation_split`, `seed` override). `options` / `overrides` as
    `export_subnet` (without `calibrate_bn` and `resolution`).
    """
    from ofa_tf.finetune_folder import check_classes
    from ofa_tf.finetune_folder import load_finetuned

    start = time.perf_counter()
    options = _export_options(options, **overrides).whole_network("export_finetuned")
    tick = time.perf_counter()
    keras_model, record = load_finetuned(model)
    load_seconds = time.perf_counter() - tick
    split, seed = options.split(record)
    options = dataclasses.replace(options.loaded(record), batch_size=options.batch_size or 1,
                                  validation_split=split, seed=seed)
    if options.data is not None:
        check_classes(record, options.data.class_names, int(keras_model.outputs[0].shape[-1]))
    if record is None:
        logger.warning("%s carries no fine-tuning record (not written by ofa_tf.finetune): exporting it as it is.",
                       model)
    elif options.labels is None:
        options = dataclasses.replace(options, labels=record["classes"])
    result = export_keras_model(
        keras_model, out, options, subnet_config=(record or {}).get("subnet"),
        net_id=(record or {}).get("supernet", {}).get("net_id"), extra=_finetune_extra(model, record),
    )
    seconds = {**result.seconds, "load": load_seconds, "total": time.perf_counter() - start}
    return dataclasses.replace(result, seconds=seconds)


def _finetune_extra(model: str | Path, record: dict | None) -> dict | None:
    """The metadata's `extra["finetune"]`: what the fine-tuning run was."""
    if record is None:
        return None
    final = record.get("final") or {}
    keys = ("supernet", "subnet", "classes", "data", "epochs", "teacher")
    return {"finetune": {"run": str(Path(model).resolve()), **{k: record[k] for k in keys},
                         "val_top1": final.get("val_top1")}}


def with_batch_size(model, batch_size: int):
    """A copy of a single-input functional Keras 3 model whose input has a fixed batch dimension."""
    import keras

    shape = tuple(model.inputs[0].shape)
    if shape[0] == batch_size:
        return model
    inputs = keras.Input(batch_shape=(batch_size, *shape[1:]), name=model.inputs[0].name)
    copy = keras.models.clone_model(model, input_tensors=inputs)
    copy.set_weights(model.get_weights())
    return copy


def export_keras_model(model, out: str | Path, options: ExportOptions | None = None, *, net_id: str | None = None,
                       subnet_config: dict | None = None, net_config: dict | None = None, extra: dict | None = None,
                       **overrides) -> ExportResult:
    """Converts a materialized subnet (a Keras 3 functional model at a fixed resolution) and writes it atomically.

    `export_subnet` without the supernet steps; `options` / `overrides` as there (without `calibrate_bn` and
    `resolution`); `net_config`: a specialized network's reference config, kept in the metadata. `batch_size`
    fixes the input's batch dimension (default: the model's, or 1 when it has none). The model's input must be
    normalized RGB images.
    """
    start = time.perf_counter()
    options = _export_options(options, **overrides).whole_network("export_keras_model")
    resolution, model_batch, n_classes = _check_model_input(model)
    out = _check_out(out)
    options = options.loaded()
    _check_qat_classes(options, n_classes)
    labels = _labels(options, n_classes)
    batch_size = options.batch_size or model_batch or 1
    converted_model, representative, extra, seconds, qat_loss = _quantization_inputs(
        model, options, resolution, batch_size, dict(extra or {}))
    tick = time.perf_counter()
    flatbuffer = convert(converted_model, QuantizeOptions(options.quantize, options.io_type), representative,
                         scratch_dir=out.parent)
    seconds["convert"] = time.perf_counter() - tick
    metadata = _metadata(flatbuffer, options.quantize, resolution=resolution, batch_size=batch_size,
                         subnet_config=dict(subnet_config or {}), n_classes=n_classes, labels=labels, net_id=net_id,
                         extra=extra, net_config=net_config)
    flatbuffer = embed_metadata(flatbuffer, metadata)
    write_atomic(out, flatbuffer)
    seconds["total"] = time.perf_counter() - start
    logger.debug("Wrote %s (%d bytes, %s) in %.1fs.", out, len(flatbuffer), options.quantize, seconds["total"])
    return ExportResult(out, len(flatbuffer), metadata, op_histogram(flatbuffer), 0, seconds, qat_loss)


def _check_model_input(model) -> tuple[int, int | None, int]:
    """`(resolution, batch dimension, outputs)` of a model with a fixed square NHWC input."""
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2]:
        raise ValueError(f"Expected a model with a fixed square NHWC input; its input shape is {shape}.")
    return int(shape[1]), shape[0], int(model.outputs[0].shape[-1])


def _labels(options: ExportOptions, n_classes: int) -> tuple[str, ...] | None:
    """The output labels: the options', else the (loaded) data's class names when there is one per output."""
    labels, data = options.labels, options.data
    if labels is None and data is not None:
        if data.num_classes == n_classes:
            labels = tuple(str(v) for v in data.class_names)
        else:
            logger.warning("Not embedding labels: the data has %d classes, the model %d outputs.",
                           data.num_classes, n_classes)
    if labels is not None and len(labels) != n_classes:
        raise ValueError(f"Received {len(labels)} labels for a model with {n_classes} outputs.")
    return labels


def _quantization_inputs(model, options: ExportOptions, resolution: int, batch_size: int, extra: dict):
    """What conversion needs besides the mode: `(model to convert, representative images or None, metadata extra,
    seconds, QAT loss or None)`; `qat` fine-tunes a quantization-aware copy first (`tools.qat`)."""
    data, seconds = options.data, {}
    if options.quantize == "int8":
        extra["representative_images"] = options.representative_images
        representative = data.representative(resolution, n_images=options.representative_images)
        return with_batch_size(model, batch_size), representative, extra, seconds, None
    if options.quantize != "qat":
        return with_batch_size(model, batch_size), None, extra, seconds, None
    from .qat import QATOptions
    from .qat import qat_finetune

    qat = options.qat or QATOptions()
    tick = time.perf_counter()
    batches = data.train(qat.batch_size, resolution, seed=qat.seed, repeat=True)
    converted_model, qat_loss = qat_finetune(model, batches, qat, batch_size=batch_size)
    seconds["qat"] = time.perf_counter() - tick
    extra.update(qat=dataclasses.asdict(qat), qat_loss=qat_loss)
    return converted_model, None, extra, seconds, qat_loss


def _metadata(flatbuffer: bytes, quantize: str, **fields) -> ModelMetadata:
    """The metadata of a converted model: `fields` plus its normalization, I/O types, mode and our version."""
    from ofa_tf.data import IMAGENET_MEAN
    from ofa_tf.data import IMAGENET_STD

    inputs, outputs = io_tensors(flatbuffer)
    return ModelMetadata(mean=tuple(IMAGENET_MEAN), std=tuple(IMAGENET_STD), quantization=quantize,
                         input_dtype=inputs[0].dtype, output_dtype=outputs[0].dtype, ofa_tf_version=_version(),
                         **fields)


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    try:
        return version("ofa_tf")
    except PackageNotFoundError:
        return None
