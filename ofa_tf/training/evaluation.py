"""Top-1/top-5 of any list of subnets, each after BN recalibration (the reference's
`ofa/imagenet_classification/elastic_nn/utils.py`, `set_running_statistics`)."""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from ofa_tf.calibrate import calibrate_bn as calibrate_bn_statistics
from ofa_tf.calibrate import preserved_state
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig

logger = logging.getLogger(__name__)
CALIBRATION_BATCH_SIZE = 200


@dataclasses.dataclass(frozen=True)
class SubnetAccuracy:
    """Accuracy of one subnet (fractions in [0, 1])."""

    name: str
    config: SubnetConfig
    resolution: int
    top1: float
    top5: float
    n_images: int

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "config": self.config.to_dict(),
            "resolution": self.resolution,
            "top1": self.top1,
            "top5": self.top5,
            "n_images": self.n_images,
        }


def _label(config, index: int) -> str:
    """How a given subnet is named in results: its architecture (`SubnetConfig.short_name`), else its position."""
    return getattr(config, "short_name", None) or f"subnet_{index}"


def parse_subnets(spec: str | Sequence, space: SearchSpace, seed: int = 0) -> list[tuple[str, SubnetConfig]]:
    """Named subnets from `"max,min,random:N"`, a JSON file, or a list of names / configs / dicts.

    A JSON file holds one config dict, a list of them, or `{name: config}`. Configs are of the space's
    `config_type` (`SubnetConfig`, or OFA-ResNets' `ResNetConfig`).
    """
    config_type = space.config_type
    fields = [f for f in config_type.__dataclass_fields__ if f != "r"]
    if isinstance(spec, (str, Path)) and Path(spec).suffix == ".json":
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"Subnet file not found: {path}")
        content = json.loads(path.read_text())
        if isinstance(content, dict) and not (set(fields) <= set(content)):
            return [(str(k), config_type.from_dict(v)) for k, v in content.items()]
        items = content if isinstance(content, list) else [content]
        configs = [config_type.from_dict(c) for c in items]
        return [(_label(c, i), c) for i, c in enumerate(configs)]
    items = [s.strip() for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError(f"No subnets given; expected e.g. 'max,min,random:10'. Received subnets={spec!r}.")
    rng = np.random.default_rng(seed)
    out = []
    for item in items:
        if isinstance(item, (config_type, dict)):
            config = item if isinstance(item, config_type) else config_type.from_dict(item)
            out.append((_label(config, len(out)), config))
        elif item == "max":
            out.append(("max", space.max_config()))
        elif item == "min":
            out.append(("min", space.min_config()))
        elif isinstance(item, str) and item.startswith("random:"):
            count = item.split(":", 1)[1]
            if not count.isdigit() or int(count) < 1:
                raise ValueError(f"Invalid subnet spec {item!r}: expected random:N with N >= 1.")
            start = sum(name.startswith("random_") for name, _ in out)
            out.extend((f"random_{start + i}", space.sample(rng)) for i in range(int(count)))
        else:
            raise ValueError(
                f"Invalid subnet spec {item!r}: expected 'max', 'min', 'random:N', a config dict or a .json file."
            )
    return out


def _eval_step(supernet):
    step = getattr(supernet, "_ofa_eval_step", None)
    if step is None:
        k = min(5, supernet.n_classes)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.float32),
                tf.TensorSpec([None], tf.int32),
                *supernet.subnet_signature(),
            ]
        )
        def step(images, labels, ks, e, d):
            logits = supernet(images, training=False, subnet=(ks, e, d))
            top1 = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, 1), tf.int32))
            top5 = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, k), tf.int32))
            return top1, top5

        supernet._ofa_eval_step = step
    return step


def accuracy(supernet, dataset, config: SubnetConfig, max_batches: int | None = None) -> tuple[float, float, int]:
    """(top-1, top-5, images) of `config` on `(images, labels)` batches, with the current BN statistics."""
    step = _eval_step(supernet)
    supernet.search_space.validate(config)
    ks, e, d = (tf.constant(v) for v in supernet.subnet_arrays(config))
    top1 = top5 = n = 0
    for i, (images, labels) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        c1, c5 = step(tf.cast(images, tf.float32), tf.cast(labels, tf.int32), ks, e, d)
        top1, top5, n = top1 + int(c1), top5 + int(c5), n + int(tf.shape(labels)[0])
    if n == 0:
        raise ValueError("The evaluation dataset is empty.")
    return top1 / n, top5 / n, n


def model_accuracy(model, dataset, max_batches: int | None = None) -> tuple[float, float, int]:
    """(top-1, top-5, images) of a Keras classifier (e.g. `ofa_specialized`'s) on `(images, labels)` batches."""
    k = min(5, int(model.outputs[0].shape[-1]))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32), tf.TensorSpec([None], tf.int32)])
    def step(images, labels):
        logits = model(images, training=False)
        top1 = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, 1), tf.int32))
        return top1, tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, k), tf.int32))

    top1 = top5 = n = 0
    for i, (images, labels) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        c1, c5 = step(tf.cast(images, tf.float32), tf.cast(labels, tf.int32))
        top1, top5, n = top1 + int(c1), top5 + int(c5), n + int(tf.shape(labels)[0])
    if n == 0:
        raise ValueError("The evaluation dataset is empty.")
    return top1 / n, top5 / n, n


@dataclasses.dataclass(frozen=True)
class ModelAccuracy:
    """Accuracy of a stock Keras classifier on a data source's validation images (fractions in [0, 1])."""

    top1: float
    top5: float
    n_images: int
    resolution: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_model(
    model,
    data,
    resolution: int | None = None,
    *,
    batch_size: int = 100,
    policy: str | None = None,
    validation_split: float | int | None = None,
    seed: int | None = None,
    max_batches: int | None = None,
) -> ModelAccuracy:
    """Top-1/top-5 of a stock Keras model (a fine-tuned or materialized subnet) on `data`'s validation images, with
    the preprocessing of `evaluate` (the data policy's eval transform at `resolution`).

    Args:
        model: a `keras.Model` of one image input, or a `.keras` file / fine-tuning run folder (`ofa_tf.finetune`):
            its record is checked against the data (classes by name and order).
        data: an `ofa_tf.data.ImageData` or a source for `load_dataset` (folder, TFDS name, "digits").
        resolution: input size (default: the model's fixed input size, else its record's).
        batch_size, policy, max_batches: evaluation batches, transform policy (default the source's), cap.
        validation_split, seed: how a source given by name is split (default: the fine-tuning run's, so a
            fine-tuned model is evaluated on the images it held out; else 0.1 and 0).
    """
    from ofa_tf.finetune_folder import check_classes
    from ofa_tf.finetune_folder import load_finetuned

    record = None
    if isinstance(model, (str, Path)):
        model, record = load_finetuned(model)
    if isinstance(data, (str, Path)):
        from ofa_tf.data import load_dataset

        stored = (record or {}).get("data", {})
        split = validation_split if validation_split is not None else stored.get("validation_split", 0.1)
        seed = seed if seed is not None else stored.get("split_seed", 0)
        data = load_dataset(str(data), validation_split=split, seed=seed)
    check_classes(record, data.class_names, int(model.outputs[0].shape[-1]))
    shape = tuple(model.inputs[0].shape)
    size = resolution or (shape[1] if shape[1] == shape[2] else None) or (record or {}).get("resolution")
    if size is None:
        raise ValueError(f"The model's input size is not fixed ({shape}): pass resolution= (--resolution).")
    if shape[1] is not None and int(size) != shape[1]:
        raise ValueError(f"The model takes {shape[1]}x{shape[2]} images; received resolution={size}.")
    top1, top5, n = model_accuracy(model, data.validation(batch_size, int(size), policy=policy), max_batches)
    return ModelAccuracy(top1, top5, n, int(size))


def evaluate(
    supernet,
    data,
    subnets: str | Sequence = ("max", "min"),
    *,
    calibrate_bn: int = 2000,
    resolution: int | None = None,
    batch_size: int = 100,
    seed: int = 0,
    max_batches: int | None = None,
) -> list[SubnetAccuracy]:
    """Top-1/top-5 of each subnet on the validation split of `data`, each after BN recalibration.

    Args:
        supernet: an `OFAMobileNetV3`.
        data: an `ofa_tf.data.ImageData` (its validation split is evaluated; calibration images come
            from its training split), or a `tf.data.Dataset` of `(images, labels)` used for both.
        subnets: see `parse_subnets` ("max,min,random:N", a .json file, names or configs).
        calibrate_bn: images for BN recalibration of every subnet (0 = keep the stored statistics).
        resolution: input size for subnets without their own `r` (default: the largest of the space).
        batch_size: evaluation batch size.
        seed: seed of `random:N` subnets.
        max_batches: evaluate at most this many batches per subnet.

    The supernet's BN statistics and active subnet are restored afterwards.
    """
    named = parse_subnets(subnets, supernet.search_space, seed)
    default_r = int(resolution or max(supernet.search_space.resolutions))
    results = []
    with preserved_state(supernet) as saved:
        for name, config in named:
            r = config.r or default_r
            if isinstance(data, tf.data.Dataset):
                eval_ds, calib_ds = data, data
            else:
                eval_ds = data.validation(batch_size, r)
                n_calib = min(int(calibrate_bn), data.num_train) if calibrate_bn else 0
                calib_ds = (
                    data.calibration(r, n_images=n_calib, batch_size=min(CALIBRATION_BATCH_SIZE, n_calib))
                    if n_calib
                    else None
                )
            if calibrate_bn:
                if isinstance(data, tf.data.Dataset):
                    calib_ds = calib_ds.unbatch().take(int(calibrate_bn)).batch(CALIBRATION_BATCH_SIZE)
                calibrate_bn_statistics(supernet, calib_ds, config)
            top1, top5, n = accuracy(supernet, eval_ds, config, max_batches)
            results.append(SubnetAccuracy(name, config.with_resolution(r), r, top1, top5, n))
            logger.debug("%s @%d: top-1 %.4f, top-5 %.4f (%d images)", name, r, top1, top5, n)
            saved.restore()
    return results


def results_table(results: Sequence[SubnetAccuracy]) -> str:
    """A Markdown table of `results`."""
    lines = ["| subnet | resolution | top-1 (%) | top-5 (%) | images |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.resolution} | {100 * r.top1:.2f} | {100 * r.top5:.2f} | {r.n_images} |")
    return "\n".join(lines)
