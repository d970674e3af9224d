"""Fine-tuning one subnet after extraction: the step between search and export that the paper's deployed networks
went through (the reference's specialized ids end in `finetune@25` / `finetune@75`: 25 or 75 epochs after
extraction; the reference published neither code nor settings for it).

The subnet is materialized as the stock Keras model that export uses (`get_active_subnet`), trained with
`model.fit` on smoothed cross-entropy plus distillation from the supernet's max subnet (the loss of the reference's
progressive shrinking, `ofa_tf.training.losses.ps_loss`), SGD with Nesterov momentum, weight decay off BN and biases
and a per-step cosine learning rate (`ofa_tf.training.optimizer`), and checkpointed every epoch so that an
interrupted run resumes. The folder it writes: `ofa_tf.finetune_folder`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import keras
import tensorflow as tf

from ofa_tf.finetune_folder import FORMAT
from ofa_tf.finetune_folder import FinetuneFolder
from ofa_tf.training import checkpoint as ckpt
from ofa_tf.training.distribute import STRATEGIES
from ofa_tf.training.distribute import is_chief
from ofa_tf.training.distribute import make_strategy
from ofa_tf.training.distribute import model_scope
from ofa_tf.training.evaluation import evaluate_model
from ofa_tf.training.losses import ps_loss
from ofa_tf.training.optimizer import NO_DECAY_KEYS
from ofa_tf.training.optimizer import OptimizerConfig
from ofa_tf.training.optimizer import WarmupCosine
from ofa_tf.training.optimizer import build_optimizer
from ofa_tf.training.optimizer import is_decayed
from ofa_tf.training.phases import REFERENCE_BATCH_PER_GPU
from ofa_tf.training.runtime import warn_if_onednn_unsafe
from ofa_tf.training.trainer import training_data

logger = logging.getLogger(__name__)

# Learning rate per 64 images: the reference's rate for continuing a trained network (the `kernel` row of
# `progressive_shrinking()`, 3e-2; the full network trains at 2.6 / 32). CIFAR-10 (docs/finetune.md) ran at it.
DEFAULT_LR_PER_64 = 3e-2


@dataclasses.dataclass
class FinetuneConfig:
    """Options of `finetune` (all optional).

    Args:
        epochs: training epochs (default 25, the reference's `finetune@25`).
        teacher: "max" (the supernet's max subnet at the subnet's resolution, BN-recalibrated), None (labels
            only), a `keras.Model`, a `.keras` file, or supernet weights (`.weights.h5`, `.pth`, a training run
            folder) whose max subnet teaches.
        kd_ratio: weight of the teacher's distillation loss beside the labels' (the reference's 1.0).
        lr: initial learning rate (default 3e-2 per 64 images, `DEFAULT_LR_PER_64`), cosine to 0 per step.
        batch_size: global batch size (split over replicas).
        warmup_epochs: linear warmup epochs before the cosine schedule.
        label_smoothing, weight_decay, momentum, nesterov: loss and SGD settings of `train`.
        dropout_rate: dropout before the classifier of the fine-tuned model (the reference's 0.1).
        calibrate_bn: training images recalibrating the BN statistics of the extracted subnet and of the max
            subnet teacher before training (0: keep the supernet's).
        policy: augmentation policy (default: the data source's, as `train`).
        validation_split, split_seed: how a source given by name is split into training and validation images
            (`load_dataset`; split_seed defaults to `seed`, as `train` splits); the validation images are never
            trained on. With an `ImageData`, pass how it was split: the record keeps both for its readers.
        train_images: train on a seeded subset of this many images (as `train`: the same subset for the same seed).
        data_name: how the record names the data when `data` is an `ImageData` (e.g. its folder or TFDS name).
        steps_per_epoch: cap on steps per epoch.
        seed: data order, augmentation, image subset and dropout.
        strategy: "default", "mirrored", "multiworker", "tpu" or a `tf.distribute.Strategy` (as `train`).
        resume: continue from the latest epoch checkpoint in `out`.
        overwrite: start again in a folder that holds a fine-tuning run (its files are replaced).
        validate: top-1/top-5 on the validation images before training and after every epoch (metrics.jsonl).
        callbacks: extra Keras callbacks for `model.fit`.
        verbose: `model.fit` verbosity (0 silent, 1 bar, 2 one line per epoch).
    """

    epochs: int = 25
    teacher: str | Path | keras.Model | None = "max"
    kd_ratio: float = 1.0
    lr: float | None = None
    batch_size: int = 64
    warmup_epochs: int = 0
    label_smoothing: float = 0.1
    weight_decay: float = 3e-5
    momentum: float = 0.9
    nesterov: bool = True
    dropout_rate: float = 0.1
    calibrate_bn: int = 2000
    policy: str | None = None
    validation_split: float | int = 0.1
    split_seed: int | None = None
    train_images: int | None = None
    data_name: str | None = None
    steps_per_epoch: int | None = None
    seed: int = 0
    strategy: str | tf.distribute.Strategy = "default"
    resume: bool = False
    overwrite: bool = False
    validate: bool = True
    callbacks: tuple = ()
    verbose: int = 1

    def __post_init__(self):
        for name, least in (("epochs", 1), ("batch_size", 1), ("warmup_epochs", 0), ("calibrate_bn", 0),
                            ("train_images", 1), ("steps_per_epoch", 1)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise ValueError(f"Invalid value for `{name}`: expected an int >= {least}. Received {name}={value!r}.")
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} must be below epochs={self.epochs}.")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"Invalid value for `lr`: expected > 0. Received lr={self.lr!r}.")
        if not self.kd_ratio >= 0:
            raise ValueError(f"Invalid value for `kd_ratio`: expected >= 0. Received kd_ratio={self.kd_ratio!r}.")
        if not isinstance(self.strategy, tf.distribute.Strategy) and self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy {self.strategy!r}; expected one of {list(STRATEGIES)}.")
        if isinstance(self.teacher, str) and self.teacher in ("none", "None", ""):
            self.teacher = None
        self.callbacks = tuple(self.callbacks)

    def settings(self) -> dict:
        """The JSON-serializable options (what the record keeps)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("callbacks", "strategy", "teacher")}
        out["strategy"] = self.strategy if isinstance(self.strategy, str) else type(self.strategy).__name__
        return out


@dataclasses.dataclass
class FinetuneResult:
    """What `finetune` did: the fine-tuned stock Keras model, one record per epoch of the whole run (also those
    before a resume), the files it wrote, and the record they carry."""

    model: keras.Model
    history: list[dict]
    out_dir: Path
    model_path: Path
    weights_path: Path
    record_path: Path
    metrics_path: Path
    record: dict


class FinetuningModel(keras.Model):
    """The training view of a materialized subnet for `model.fit`: the subnet's logits, and a loss that adds the
    frozen teacher's distillation to the smoothed labels (`ps_loss`) and weight decay on the decayed variables
    (`g + wd * w` as the reference, through `wd / 2 * |w|^2` in the loss). Only `student` is saved."""

    def __init__(self, student, teacher=None, kd_ratio=1.0, label_smoothing=0.1, weight_decay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        self.kd_ratio = float(kd_ratio)
        self.label_smoothing = float(label_smoothing)
        self.weight_decay = float(weight_decay)
        if teacher is not None:
            teacher.trainable = False
        self.decayed = [v for v in student.trainable_weights if is_decayed(v, NO_DECAY_KEYS)]

    def call(self, images, training=False):
        return self.student(images, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        teacher_probs = None
        if training and self.teacher is not None and self.kd_ratio > 0:
            teacher_probs = tf.nn.softmax(self.teacher(x, training=False))
        loss = tf.reduce_mean(ps_loss(y, y_pred, teacher_probs, self.kd_ratio, self.label_smoothing))
        if training and self.weight_decay and self.decayed:
            loss += 0.5 * self.weight_decay * tf.add_n([tf.reduce_sum(tf.square(v)) for v in self.decayed])
        # replicas' gradients are summed: each replica's loss is its share (Keras's own losses do the same)
        return loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)


class _EpochCheckpoint(keras.callbacks.Callback):
    """Saves the checkpoint and appends the epoch's record to metrics.jsonl after every epoch."""

    def __init__(self, checkpointer, state, folder: FinetuneFolder, schedule):
        super().__init__()
        self.checkpointer, self.state, self.folder, self.schedule = checkpointer, state, folder, schedule
        self.start = None

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.state.set(0, epoch + 1, 0)
        self.checkpointer.save()
        logs = {k: float(v) for k, v in (logs or {}).items()}
        step = int(self.model.optimizer.iterations.numpy())
        record = {"event": "epoch", "epoch": epoch + 1, "global_step": step, "loss": logs.get("loss"),
                  "top1": logs.get("top1"), "top5": logs.get("top5"), "lr": self.schedule.value(max(step - 1, 0)),
                  "seconds": time.perf_counter() - self.start}
        if "val_top1" in logs:
            record.update(val_loss=logs.get("val_loss"), val_top1=logs["val_top1"], val_top5=logs.get("val_top5"))
        self.folder.append_metrics(record)


def _differences(stored: dict, mine: dict, prefix: str = "") -> list[str]:
    """`key: stored vs mine` for every leaf where two records differ (nested keys joined with dots)."""
    out = []
    for key in sorted(set(stored) | set(mine), key=lambda k: list(mine).index(k) if k in mine else len(mine)):
        a, b = stored.get(key), mine.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            out.append(f"{prefix}{key}: {json.dumps(a)[:80]} vs {json.dumps(b)[:80]}")
    return out


def _sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _load_supernet(supernet):
    """A supernet object, or a training run folder (its net id and final weights, `load_supernet`)."""
    if isinstance(supernet, (str, Path)):
        from ofa_tf.run_folder import load_supernet

        if not Path(supernet).is_dir():
            raise ValueError(f"`supernet` must be an OFA supernet or a training run folder; received {supernet!r} "
                             "(load a weights file with ofa_tf.ofa_net(net_id, weights=...)).")
        return load_supernet(weights=supernet)
    if not (isinstance(supernet, keras.Model) and hasattr(supernet, "search_space")):
        raise TypeError(f"`supernet` must be an OFA supernet (OFAMobileNetV3, OFAProxylessNASNets, OFAResNets) or a "
                        f"training run folder; received {type(supernet).__name__}.")
    return supernet


def _subnet_config(supernet, subnet):
    """`subnet` as a config of the supernet's family, with its resolution, inside the search space."""
    config_type = supernet.search_space.config_type
    try:
        config = config_type.from_dict(subnet) if isinstance(subnet, dict) else subnet
        if not isinstance(config, config_type):
            raise TypeError(f"expected a {config_type.__name__} or its dict, received {type(subnet).__name__}")
        supernet.search_space.validate(config)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"The subnet is outside the search space of {_net_name(supernet)}: {err}") from err
    if config.r is None:
        raise ValueError(f"The subnet config has no resolution 'r': add the input size the subnet will run at (the "
                         f"supernet trained at {list(supernet.search_space.resolutions)}).")
    return config


def _subnet_name(config) -> str:
    """`SubnetConfig.short_name`, or depths and widths of an OFA-ResNet config (`d01210 w221100`)."""
    name = getattr(config, "short_name", None)
    if name:
        return name
    values = config.to_dict()
    return " ".join(f"{k}{''.join(str(v) for v in values[k])}" for k in ("d", "w") if k in values)


def _net_name(supernet) -> str:
    return getattr(supernet, "net_id", None) or type(supernet).__name__


def _supernet_record(supernet) -> dict:
    weights = getattr(supernet, "weights_source", None)
    record = {"net_id": getattr(supernet, "net_id", None), "class": type(supernet).__name__,
              "n_classes": int(supernet.n_classes), "weights": weights,
              "weights_sha256": _sha256(weights) if weights and Path(weights).is_file() else None}
    if record["net_id"] is None:  # a custom supernet: its constructor arguments say what it is
        record["config"] = {k: v for k, v in supernet.get_config().items() if k != "name"}
    return record


def _data_record(data, source, config: FinetuneConfig, split_seed: int) -> dict:
    return {"source": None if source is None else str(source), "validation_split": config.validation_split,
            "split_seed": split_seed, "train_images": config.train_images, "num_train": int(data.num_train),
            "num_validation": int(data.num_validation), "policy": config.policy or data.policy}


class Finetuner:
    """Runs one fine-tuning into `out` (see `finetune`)."""

    def __init__(self, supernet, subnet, data, out, config: FinetuneConfig):
        warn_if_onednn_unsafe()
        self.config = config
        self.out = Path(out)
        self.strategy = make_strategy(config.strategy)
        self.chief = is_chief(self.strategy)
        self.folder = FinetuneFolder(self.out, chief=self.chief)
        if config.batch_size % self.strategy.num_replicas_in_sync:
            raise ValueError(f"batch_size={config.batch_size} must be divisible by the "
                             f"{self.strategy.num_replicas_in_sync} replicas of the strategy.")
        self.supernet = _load_supernet(supernet)
        self.subnet = _subnet_config(self.supernet, subnet)
        self.resolution = int(self.subnet.r)
        source = data if isinstance(data, (str, Path)) else config.data_name
        split_seed = config.seed if config.split_seed is None else config.split_seed
        if isinstance(data, (str, Path)):
            from ofa_tf.data import load_dataset

            data = load_dataset(str(data), validation_split=config.validation_split, seed=split_seed)
        self.data = training_data(data, config.validation_split, config.seed, config.train_images)
        if self.data.num_classes != self.supernet.n_classes:
            raise ValueError(
                f"The supernet has {self.supernet.n_classes} outputs but the data has {self.data.num_classes} classes "
                "(fine-tuning keeps the supernet's classifier): bring the supernet to these classes first with "
                "ofa_tf.train(..., init_weights=W, new_classifier=True) (ofa-tf train --init-weights W "
                "--new-classifier)."
            )
        steps = self.data.num_train // config.batch_size
        if steps < 1:
            raise ValueError(f"batch_size={config.batch_size} exceeds the {self.data.num_train} training images.")
        self.steps_per_epoch = min(steps, config.steps_per_epoch or steps)
        init_lr = config.lr or DEFAULT_LR_PER_64 * config.batch_size / REFERENCE_BATCH_PER_GPU
        self.schedule = WarmupCosine(init_lr, config.epochs * self.steps_per_epoch,
                                     config.warmup_epochs * self.steps_per_epoch)
        self.record = {
            "format": FORMAT,
            "supernet": _supernet_record(self.supernet),
            "subnet": self.subnet.to_dict(),
            "subnet_name": _subnet_name(self.subnet),
            "resolution": self.resolution,
            "classes": list(self.data.class_names),
            "data": _data_record(self.data, source, config, split_seed),
            "teacher": self._teacher_name(),
            "epochs": config.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "init_lr": init_lr,
            "options": config.settings(),
        }
        self._check_out_dir()

    def _teacher_name(self) -> str | None:
        teacher = self.config.teacher
        if teacher is None or (isinstance(teacher, str) and teacher == "max"):
            return teacher
        if isinstance(teacher, keras.Model):
            return f"keras.Model {teacher.name}"
        return str(Path(teacher).resolve())

    # === Files ===
    def _identity(self, record: dict) -> dict:
        """What must agree for `resume`: supernet, subnet, classes, data and the schedule."""
        keys = ("supernet", "subnet", "classes", "data", "teacher", "epochs", "steps_per_epoch", "init_lr")
        return {k: record.get(k) for k in keys}

    def _check_out_dir(self) -> None:
        """Before any work: refuses to replace a fine-tuning run without `overwrite`, to resume another run's
        checkpoint, and to write into a training run's folder."""
        c, out = self.config, self.out
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"Output folder {out} is a file; pass a folder (--out).")
        if self.folder.holds_training_run():
            raise FileExistsError(f"{out} holds a supernet training run: fine-tune into another folder (--out).")
        latest = self.folder.latest_checkpoint()
        finished = self.folder.finished()
        if c.overwrite:
            return
        recorded = self.folder.read_record() if c.resume else None
        if recorded is not None:
            differs = _differences(self._identity(recorded), self._identity(self.record))
            if differs:
                raise ValueError(f"{out} holds the fine-tuning of another run ({'; '.join(differs)}): resume it with "
                                 "the same supernet, subnet, data and schedule, or choose another folder.")
        if finished and not c.resume:
            raise FileExistsError(f"{out} already holds a fine-tuned model ({', '.join(p.name for p in finished)}); "
                                  "pass --overwrite (overwrite=True) to fine-tune again, or choose another folder.")
        if latest and not c.resume:
            raise FileExistsError(f"{out} already holds a fine-tuning checkpoint ({latest}); pass --resume "
                                  "(resume=True) to continue it, --overwrite to start again, or choose another folder.")

    # === Models ===
    def _calibrated_subnet(self, net, config, name: str, training_data=None) -> keras.Model:
        """`config` of `net` as a stock Keras model, its BN statistics recalibrated first (`calibrate_bn`)."""
        from ofa_tf.calibrate import calibrate_bn

        n = min(self.config.calibrate_bn, self.data.num_train)
        if n:
            batches = self.data.calibration(self.resolution, n_images=n, batch_size=min(200, n),
                                            policy=self.config.policy)
            calibrate_bn(net, batches, config)
        net.set_active_config(config)
        return net.get_active_subnet(resolution=self.resolution, name=name)

    def _with_dropout(self, net, dropout_rate: float):
        clone = type(net).from_config({**net.get_config(), "dropout_rate": dropout_rate})
        clone.set_weights(net.get_weights())
        return clone

    def _teacher(self, working):
        teacher = self.config.teacher
        if teacher is None or self.config.kd_ratio == 0:
            return None
        if isinstance(teacher, keras.Model):
            model = teacher
        elif teacher == "max":
            space = working.search_space
            model = self._calibrated_subnet(working, space.max_config(self.resolution), "teacher")
        elif Path(teacher).suffix == ".keras":
            model = keras.saving.load_model(teacher, compile=False)
        else:
            from ofa_tf.run_folder import resolve_weights
            from ofa_tf.zoo import load_weights

            path = Path(teacher)
            if path.is_dir():
                path, _ = resolve_weights(path, getattr(working, "net_id", None) or "custom")
            other = type(working).from_config({**working.get_config(), "dropout_rate": 0.0})
            load_weights(other, path)
            model = self._calibrated_subnet(other, other.search_space.max_config(self.resolution), "teacher")
        outputs = int(model.outputs[0].shape[-1])
        if outputs != self.data.num_classes:
            raise ValueError(f"The teacher {self._teacher_name()} has {outputs} outputs but the data has "
                             f"{self.data.num_classes} classes.")
        return model

    # === Run ===
    def _prepare_folder(self) -> str | None:
        """The checkpoint to resume (None: a fresh start, without an earlier run's checkpoints and metrics); the
        record written with status "running"."""
        c = self.config
        latest = self.folder.latest_checkpoint()
        if c.overwrite and self.chief:
            # the old run's checkpoints and metrics go; its model files stay until the new ones replace them
            # (written whole), as `train --overwrite` keeps a finished phase until it is retrained
            self.folder.clear()
            latest = None
        if c.resume and not latest:
            logger.info("No fine-tuning checkpoint in %s: starting from the beginning.", self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        if not latest and self.chief:
            self.folder.metrics_path.unlink(missing_ok=True)
        self.folder.write_record({**self.record, "status": "running"})
        return latest

    def run(self) -> FinetuneResult:
        c = self.config
        latest = self._prepare_folder()
        keras.utils.set_random_seed(c.seed)
        working = self._with_dropout(self.supernet, c.dropout_rate)
        with model_scope(self.strategy):
            teacher = self._teacher(working)
            student = self._calibrated_subnet(working, self.subnet, "finetuned")
            model = FinetuningModel(student, teacher, c.kd_ratio, c.label_smoothing, c.weight_decay, name="finetuning")
            optimizer = build_optimizer(OptimizerConfig(c.momentum, c.nesterov, c.weight_decay), self.schedule)
            optimizer.build(model.trainable_variables)
            k = min(5, self.data.num_classes)
            model.compile(optimizer=optimizer, metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="top1"),
                keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top5")])
        del working
        state = ckpt.TrainingState()
        checkpointer = ckpt.Checkpointer(self.folder.checkpoint_dir, student, optimizer, state, chief=self.chief)
        initial_epoch = 0
        if latest:
            checkpointer.restore(latest)
            initial_epoch = state.position()[1]
            logger.info("Resuming fine-tuning from %s after epoch %d of %d.", latest, initial_epoch, c.epochs)
        logger.info("Fine-tuning %s (%d px) of %s on %d images (%d classes) for %d epochs x %d steps, lr %.4g "
                    "cosine, teacher %s.", self.record["subnet_name"], self.resolution, _net_name(self.supernet),
                    self.data.num_train, self.data.num_classes, c.epochs, self.steps_per_epoch,
                    self.schedule.init_lr, self.record["teacher"])
        validation = None
        if c.validate and self.data.num_validation:
            validation = self.data.validation(100, self.resolution, policy=c.policy)
            if initial_epoch == 0:
                start = evaluate_model(student, self.data, policy=c.policy)
                logger.info("Extracted subnet: top-1 %.4f, top-5 %.4f on %d validation images.", start.top1,
                            start.top5, start.n_images)
                self.folder.append_metrics({"event": "extracted", "epoch": 0, "val_top1": start.top1,
                                            "val_top5": start.top5})
        if initial_epoch < c.epochs:
            epochs = [self.data.train(c.batch_size, self.resolution, policy=c.policy, seed=c.seed, epoch=e)
                      .take(self.steps_per_epoch) for e in range(initial_epoch, c.epochs)]
            batches = epochs[0]
            for more in epochs[1:]:
                batches = batches.concatenate(more)
            callbacks = [_EpochCheckpoint(checkpointer, state, self.folder, self.schedule), *c.callbacks]
            model.fit(batches, epochs=c.epochs, initial_epoch=initial_epoch, steps_per_epoch=self.steps_per_epoch,
                      validation_data=validation, callbacks=callbacks, verbose=c.verbose, shuffle=False)
        return self._finish(student)

    def _finish(self, student) -> FinetuneResult:
        history = self.folder.read_metrics()
        epochs = [r for r in history if r.get("event") == "epoch"]
        record = {**self.record, "status": "finished", "final": epochs[-1] if epochs else None}
        self.folder.save_model(student, record)
        f = self.folder
        return FinetuneResult(student, history, self.out, f.model_path, f.weights_path, f.record_path, f.metrics_path,
                              record)


def finetune(supernet, subnet, data, out, **options) -> FinetuneResult:
    """Fine-tunes one subnet of a trained supernet as the stock Keras model that export uses.

    Args:
        supernet: an OFA supernet with its trained weights (e.g. `ofa_tf.ofa_net(net_id, weights=...)`,
            `ofa_tf.load_supernet(...)`, `train(...).supernet`) or a training run folder. Its classes must be the
            data's (bring a supernet to new classes with `train(..., init_weights=W, new_classifier=True)`).
        subnet: a `SubnetConfig` / `ResNetConfig` or its dict, with its resolution `r`.
        data: an image source for `ofa_tf.data.load_dataset` (folder, TFDS name, "digits") or an `ImageData`
            (its validation split is never trained on).
        out: output folder (`ofa_tf.finetune_folder`): `finetuned.keras` (loads without custom objects),
            `finetuned.weights.h5`, `finetune.json`, `metrics.jsonl` and per-epoch checkpoints; each file says which
            supernet (net id, weights), subnet, classes and data it came from.
        **options: fields of `FinetuneConfig` (epochs, teacher="max", lr, resume, overwrite, strategy, ...).

    Returns:
        A `FinetuneResult` with `.model`, `.history` (one record per epoch) and the saved paths.

    Example:
    >>> net = ofa_tf.load_supernet(weights="runs/ps")
    >>> subnet = net.search_space.min_config(r=32)  # or a config from `ofa-tf search`
    >>> result = ofa_tf.finetune(net, subnet, "path/to/images", "runs/ft", epochs=4)
    """
    config = FinetuneConfig(**options)
    return Finetuner(supernet, subnet, data, out, config).run()
