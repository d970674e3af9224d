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


def _load_data(data, validation_split: float, seed: int):
    from ofa_tf.data import ImageData
    from ofa_tf.data import load_dataset

    if data is None or isinstance(data, ImageData):
        return data
    return load_dataset(data, validation_split=validation_split, seed=seed)


def export_subnet(
    supernet,
    config: SubnetConfig | dict,
    out: str | Path,
    quantize: str = "none",
    data=None,
    calibrate_bn: int = 0,
    resolution: int | None = None,
    batch_size: int = 1,
    io_type: str = "int8",
    representative_images: int = 100,
    qat=None,
    labels: list[str] | None = None,
    validation_split: float = 0.1,
    seed: int = 0,
) -> ExportResult:
    """Materializes `config` of `supernet` at a fixed input size and writes it as a TFLite model with metadata.

    The supernet's active subnet becomes `config`; with `calibrate_bn` its BN statistics for that subnet are
    recalibrated in place (as `ofa_tf.calibrate.calibrate_bn`).

    Args:
        supernet: an `OFAMobileNetV3`.
        config: the subnet (`get_active_subnet_config()`, a `SubnetConfig` or `ResNetConfig`); must be in the
            search space.
        out: the `.tflite` path (written atomically).
        quantize: one of `tools.QUANTIZE_MODES`.
        data: an `ofa_tf.data.ImageData` or a source for `ofa_tf.data.load_dataset` (TFDS name, image folder,
            "digits"); needed for `int8`, `qat` and `calibrate_bn`.
        calibrate_bn: number of training images for BN recalibration (0: keep the statistics).
        resolution: input size; default the config's `r`.
        batch_size: fixed batch dimension of the model input.
        io_type: input/output type of the integer modes (`int8`, `uint8` or `float32`).
        representative_images: validation images calibrating the activation ranges of `int8`.
        qat: `tools.qat.QATOptions` for `qat` (default options when None).
        labels: class names in output order; default the data's class names when their count matches.
        validation_split, seed: how a data source given by name is split (the representative images come
            from the validation part).
    """
    start = time.perf_counter()
    QuantizeOptions(check_mode(quantize), io_type)  # validates mode and io_type before any work
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
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Invalid batch_size={batch_size!r}: expected a positive integer.")
    if isinstance(calibrate_bn, bool) or not isinstance(calibrate_bn, int) or calibrate_bn < 0:
        raise ValueError(f"Invalid calibrate_bn={calibrate_bn!r}: expected a number of images >= 0.")
    if data is None and (quantize in _NEEDS_DATA or calibrate_bn):
        needs = f"quantization mode {quantize!r}" if quantize in _NEEDS_DATA else f"calibrate_bn={calibrate_bn}"
        raise ValueError(f"{needs} needs data: pass a TFDS name, an image folder or 'digits' (--data).")
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Output folder does not exist: {out.parent}")
    if resolution not in supernet.search_space.resolutions:
        logger.warning("Resolution %d is outside the supernet's trained resolutions %s.", resolution,
                       list(supernet.search_space.resolutions))
    data = _load_data(data, validation_split, seed)
    if labels is not None and len(labels) != supernet.n_classes:
        raise ValueError(f"Received {len(labels)} labels for a model with {supernet.n_classes} outputs.")
    if quantize == "qat" and data.num_classes != supernet.n_classes:
        raise ValueError(
            f"QAT trains on the data's labels: the data has {data.num_classes} classes but the model "
            f"{supernet.n_classes} outputs."
        )
    seconds = {}

    supernet.set_active_config(config)
    calibrated = 0
    if calibrate_bn:
        from ofa_tf.calibrate import calibrate_bn as recalibrate

        tick = time.perf_counter()
        batches = data.calibration(resolution, n_images=calibrate_bn, batch_size=min(calibrate_bn, 200))
        calibrated = recalibrate(supernet, batches, config)
        seconds["calibrate_bn"] = time.perf_counter() - tick

    tick = time.perf_counter()
    model = supernet.get_active_subnet(resolution=resolution, batch_size=batch_size)
    seconds["materialize"] = time.perf_counter() - tick
    result = export_keras_model(
        model, out, quantize=quantize, data=data, io_type=io_type, representative_images=representative_images,
        qat=qat, labels=labels, subnet_config=config.to_dict(), net_id=supernet.net_id,
        extra={"calibrate_bn_images": calibrated}, batch_size=batch_size,
    )
    seconds.update(result.seconds)
    seconds["total"] = time.perf_counter() - start
    return dataclasses.replace(result, calibrated_images=calibrated, seconds=seconds)


def _require_data(quantize: str, data) -> None:
    """Quantization modes that calibrate or train on images need `data`."""
    if data is None and quantize in _NEEDS_DATA:
        raise ValueError(
            f"Quantization mode {quantize!r} needs data: pass a TFDS name, an image folder or 'digits' (--data)."
        )


def export_specialized(
    net_id: str,
    out: str | Path,
    weights: str | Path | None = None,
    pretrained: bool = False,
    quantize: str = "none",
    data=None,
    batch_size: int = 1,
    io_type: str = "int8",
    representative_images: int = 100,
    qat=None,
    labels: list[str] | None = None,
    validation_split: float = 0.1,
    seed: int = 0,
) -> ExportResult:
    """Writes a specialized network (`ofa_tf.ofa_specialized`) as a TFLite model at its own image size.

    `weights` (a folder with `net.config`, `run.config`, `init`) or `pretrained` (download) as for
    `ofa_specialized`; the metadata carries the id and the network's `net.config`. Other arguments as
    `export_subnet`.
    """
    from ofa_tf.layer_config import build_network
    from ofa_tf.specialized import read_folder
    from ofa_tf.specialized import specialized_folder

    start = time.perf_counter()
    QuantizeOptions(check_mode(quantize), io_type)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Invalid batch_size={batch_size!r}: expected a positive integer.")
    _require_data(quantize, data)
    folder = specialized_folder(net_id, pretrained=pretrained, weights=weights)
    net_config, image_size, state_dict = read_folder(folder)
    tick = time.perf_counter()
    model = build_network(net_config, state_dict, resolution=image_size, batch_size=batch_size,
                          source=str(folder / "init"))
    build_seconds = time.perf_counter() - tick
    result = export_keras_model(
        model, out, quantize=quantize, data=data, io_type=io_type, representative_images=representative_images,
        qat=qat, labels=labels, net_id=net_id, net_config=net_config, batch_size=batch_size,
        validation_split=validation_split, seed=seed,
    )
    seconds = {**result.seconds, "materialize": build_seconds, "total": time.perf_counter() - start}
    return dataclasses.replace(result, seconds=seconds)


def export_finetuned(
    model: str | Path,
    out: str | Path,
    quantize: str = "none",
    data=None,
    batch_size: int = 1,
    io_type: str = "int8",
    representative_images: int = 100,
    qat=None,
    labels: list[str] | None = None,
    validation_split: float | None = None,
    seed: int | None = None,
) -> ExportResult:
    """Writes a fine-tuned subnet (`ofa_tf.finetune`'s `finetuned.keras`, or its run folder) as a TFLite model.

    The metadata names the fine-tuning run (`extra["finetune"]`: supernet net id and weights, subnet, classes, data,
    epochs, final validation top-1), carries the supernet's net id and the subnet config, and labels the outputs
    with the run's class names. `data` (int8 / qat) must have the model's classes; a source given by name is split
    as the fine-tuning run split it (`validation_split`, `seed` override). Other arguments as `export_subnet`.
    """
    from ofa_tf.finetune_folder import check_classes
    from ofa_tf.finetune_folder import load_finetuned

    start = time.perf_counter()
    QuantizeOptions(check_mode(quantize), io_type)  # validates mode and io_type before any work
    _require_data(quantize, data)
    tick = time.perf_counter()
    keras_model, record = load_finetuned(model)
    load_seconds = time.perf_counter() - tick
    stored = (record or {}).get("data", {})
    split = validation_split if validation_split is not None else stored.get("validation_split", 0.1)
    seed = seed if seed is not None else stored.get("split_seed", 0)
    data = _load_data(data, split, seed)
    n_outputs = int(keras_model.outputs[0].shape[-1])
    if data is not None:
        check_classes(record, data.class_names, n_outputs)
    if record is None:
        logger.warning("%s carries no fine-tuning record (not written by ofa_tf.finetune): exporting it as it is.",
                       model)
    elif labels is None:
        labels = list(record["classes"])
    finetune = None
    if record is not None:
        final = record.get("final") or {}
        finetune = {"run": str(Path(model).resolve()), "supernet": record["supernet"], "subnet": record["subnet"],
                    "classes": record["classes"], "data": record["data"], "epochs": record["epochs"],
                    "teacher": record["teacher"], "val_top1": final.get("val_top1")}
    result = export_keras_model(
        keras_model, out, quantize=quantize, data=data, io_type=io_type, representative_images=representative_images,
        qat=qat, labels=labels, subnet_config=(record or {}).get("subnet"),
        net_id=(record or {}).get("supernet", {}).get("net_id"),
        extra=None if finetune is None else {"finetune": finetune}, batch_size=batch_size, validation_split=split,
        seed=seed,
    )
    seconds = {**result.seconds, "load": load_seconds, "total": time.perf_counter() - start}
    return dataclasses.replace(result, seconds=seconds)


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


def export_keras_model(
    model,
    out: str | Path,
    quantize: str = "none",
    data=None,
    io_type: str = "int8",
    representative_images: int = 100,
    qat=None,
    labels: list[str] | None = None,
    subnet_config: dict | None = None,
    net_id: str | None = None,
    extra: dict | None = None,
    batch_size: int | None = None,
    validation_split: float = 0.1,
    seed: int = 0,
    net_config: dict | None = None,
) -> ExportResult:
    """Converts a materialized subnet (a Keras 3 functional model at a fixed resolution) and writes it atomically.

    `export_subnet` without the supernet steps; arguments as there (`net_config`: a specialized network's
    reference config, kept in the metadata). `batch_size` fixes the input's batch
    dimension (default: the model's, or 1 when it has none). The model's input must be normalized RGB images.
    """
    start = time.perf_counter()
    options = QuantizeOptions(check_mode(quantize), io_type)
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2]:
        raise ValueError(f"Expected a model with a fixed square NHWC input; its input shape is {shape}.")
    resolution = int(shape[1])
    batch_size = batch_size or shape[0] or 1
    n_classes = int(model.outputs[0].shape[-1])
    _require_data(quantize, data)
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Output folder does not exist: {out.parent}")
    data = _load_data(data, validation_split, seed)
    if quantize == "qat" and data.num_classes != n_classes:
        raise ValueError(
            f"QAT trains on the data's labels: the data has {data.num_classes} classes but the model {n_classes} "
            "outputs."
        )
    if labels is None and data is not None:
        if data.num_classes == n_classes:
            labels = list(data.class_names)
        else:
            logger.warning("Not embedding labels: the data has %d classes, the model %d outputs.",
                           data.num_classes, n_classes)
    if labels is not None and len(labels) != n_classes:
        raise ValueError(f"Received {len(labels)} labels for a model with {n_classes} outputs.")
    seconds = {}
    qat_loss = None
    representative = None
    extra = dict(extra or {})
    if quantize == "int8":
        representative = data.representative(resolution, n_images=representative_images)
        extra["representative_images"] = representative_images
    if quantize == "qat":
        from .qat import QATOptions
        from .qat import qat_finetune

        qat = qat or QATOptions()
        tick = time.perf_counter()
        batches = data.train(qat.batch_size, resolution, seed=qat.seed, repeat=True)
        converted_model, qat_loss = qat_finetune(model, batches, qat, batch_size=batch_size)
        seconds["qat"] = time.perf_counter() - tick
        extra.update(qat=dataclasses.asdict(qat), qat_loss=qat_loss)
    else:
        converted_model = with_batch_size(model, batch_size)

    tick = time.perf_counter()
    flatbuffer = convert(converted_model, options, representative, scratch_dir=out.parent)
    seconds["convert"] = time.perf_counter() - tick

    inputs, outputs = io_tensors(flatbuffer)
    from ofa_tf.data import IMAGENET_MEAN
    from ofa_tf.data import IMAGENET_STD

    metadata = ModelMetadata(
        resolution=resolution,
        batch_size=batch_size,
        mean=tuple(IMAGENET_MEAN),
        std=tuple(IMAGENET_STD),
        subnet_config=dict(subnet_config or {}),
        quantization=quantize,
        input_dtype=inputs[0].dtype,
        output_dtype=outputs[0].dtype,
        n_classes=n_classes,
        labels=None if labels is None else tuple(str(v) for v in labels),
        net_id=net_id,
        ofa_tf_version=_version(),
        extra=extra,
        net_config=net_config,
    )
    flatbuffer = embed_metadata(flatbuffer, metadata)
    write_atomic(out, flatbuffer)
    seconds["total"] = time.perf_counter() - start
    logger.debug("Wrote %s (%d bytes, %s) in %.1fs.", out, len(flatbuffer), quantize, seconds["total"])
    return ExportResult(out, len(flatbuffer), metadata, op_histogram(flatbuffer), 0, seconds, qat_loss)


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    try:
        return version("ofa_tf")
    except PackageNotFoundError:
        return None
