"""The training loop: phases of a recipe, checkpoints every epoch, resume, validation after each phase."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ofa_tf import registry
from ofa_tf.progress import progress_bar
from ofa_tf.run_folder import RunFolder
from ofa_tf.training import checkpoint as ckpt
from ofa_tf.training.config import TrainConfig
from ofa_tf.training.config import check_recorded_run
from ofa_tf.training.config import resumed_options
from ofa_tf.training.distribute import is_chief
from ofa_tf.training.distribute import make_strategy
from ofa_tf.training.distribute import model_scope
from ofa_tf.training.evaluation import evaluate
from ofa_tf.training.optimizer import WarmupCosine
from ofa_tf.training.optimizer import build_optimizer
from ofa_tf.training.optimizer import reset_optimizer
from ofa_tf.training.phases import Phase
from ofa_tf.training.runtime import warn_if_onednn_unsafe
from ofa_tf.training.schedule import check_out_dir
from ofa_tf.training.schedule import initial_weights
from ofa_tf.training.schedule import learning_rate
from ofa_tf.training.schedule import recipe_rows
from ofa_tf.training.schedule import resolve_phases
from ofa_tf.training.schedule import teacher_weights
from ofa_tf.training.step import make_train_step
from ofa_tf.training.step import stack_configs
from ofa_tf.training.tensorboard import write_scalar
from ofa_tf.zoo import load_body
from ofa_tf.zoo import load_weights
from ofa_tf.zoo import ofa_net

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What `train` did: the trained supernet, finished phases, per-epoch history, traces per phase."""

    supernet: keras.Model
    out_dir: Path
    phases: list[str]
    history: list[dict]
    trace_counts: dict[str, int]
    completed: bool


class TrainingDivergedError(ValueError):
    """The loss (or the weights) stopped being finite: the run stops, keeping its last finite checkpoint."""


def training_data(data, validation_split: float | int, seed: int, train_images: int | None):
    """`data` as an `ImageData` (a source name is loaded and split by `validation_split` and `seed`), training on a
    seeded subset of `train_images` images when given (the same subset for the same seed and data)."""
    if isinstance(data, (str, Path)):
        from ofa_tf.data import load_dataset

        data = load_dataset(str(data), validation_split=validation_split, seed=seed)
    if train_images is not None:
        if train_images > data.num_train:
            raise ValueError(f"train_images={train_images} exceeds the {data.num_train} training images available.")
        picked = np.random.default_rng([seed, 17]).choice(data.train_indices, train_images, False)
        data = dataclasses.replace(data, train_indices=np.sort(picked))
    return data


def _load_data(data, config: TrainConfig):
    return training_data(data, config.validation_split, config.seed, config.train_images)


def _clone_supernet(net, n_classes: int, dropout_rate: float, new_classifier: bool = False) -> keras.Model:
    if isinstance(net, str):
        return ofa_net(net, n_classes=n_classes, dropout_rate=dropout_rate)
    if not (isinstance(net, keras.Model) and hasattr(net, "search_space")):
        raise TypeError(f"`net` must be a net id or an OFA supernet (OFAMobileNetV3, OFAProxylessNASNets, "
                        f"OFAResNets); received {type(net).__name__}.")
    if net.n_classes != n_classes:
        if new_classifier:  # the architecture for the data's classes; `init_weights` brings the body
            return type(net).from_config({**net.get_config(), "n_classes": n_classes})
        raise ValueError(f"The supernet has {net.n_classes} outputs but the data has {n_classes} classes.")
    clone = type(net).from_config(net.get_config())
    clone.set_weights(net.get_weights())
    return clone



def _describe_weights(path, new_classifier: bool) -> dict | None:
    """Where a run's starting weights came from (its config's `initial_weights`): the file, and what it belongs to
    (the `.weights.h5` identity: net id, classes, ...); with `new_classifier`, only the body was kept."""
    if path is None:
        return None
    from ofa_tf.weights_file import read_identity

    path = Path(path)
    identity = read_identity(path) if path.name.endswith(".weights.h5") and path.is_file() else None
    return {"path": str(path.resolve()), "new_classifier": new_classifier,
            "net": None if identity is None else identity.get("net_id") or identity.get("class"),
            "n_classes": None if identity is None else identity.get("n_classes")}


def _schedule_space(net):
    """The search space whose schedule `net` trains with (its family's rows), known before the supernet is built."""
    if not isinstance(net, str):
        return getattr(net, "search_space", None)
    return registry.PRESETS[net].search_space() if net in registry.PRESETS else None

@dataclasses.dataclass
class _PhaseRun:
    """What the epochs of one phase share: its schedule, optimizer, checkpoints, subnet sampler and step function."""

    index: int
    phase: Phase
    schedule: WarmupCosine
    optimizer: keras.optimizers.Optimizer
    checkpointer: ckpt.Checkpointer
    rng: np.random.Generator
    teacher: keras.Model | None
    start: tuple[int, int]  # (epoch, step in epoch) to start at
    step_fn: object = None
    traces_before: int = 0

    def __post_init__(self):
        self.kd_ratio = tf.constant(self.phase.kd_ratio, tf.float32)  # the teacher exists exactly when it is > 0
        self.label_ratio = tf.constant(self.phase.label_ratio, tf.float32)

    def traces(self) -> int:
        """Traces of the step function during this phase."""
        return self.step_fn.experimental_get_tracing_count() - self.traces_before


class Trainer:
    """Runs the selected phases of the schedule on `data` into `out` (see `train`)."""

    def __init__(self, net, data, out, config: TrainConfig):
        warn_if_onednn_unsafe()
        self.config = config
        self.out = Path(out)
        self.folder = RunFolder(self.out)
        self.net_id = net if isinstance(net, str) else getattr(net, "net_id", None)
        self._schedule_space = _schedule_space(net)
        check_out_dir(self.folder, config, self.net_id, self._schedule_space)
        self.strategy = make_strategy(config.strategy, config.tpu)
        self.chief = is_chief(self.strategy)
        self.folder = dataclasses.replace(self.folder, chief=self.chief)
        n_replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % n_replicas:
            raise ValueError(
                f"batch_size={config.batch_size} must be divisible by the {n_replicas} replicas of the strategy."
            )
        self.data_source = data
        self.data = _load_data(data, config)
        with model_scope(self.strategy):
            self.supernet = _clone_supernet(net, self.data.num_classes, config.dropout_rate, config.new_classifier)
        self.space = self.supernet.search_space
        if config.subnet is not None:
            self.space.validate(config.subnet)
        self.resolutions = tuple(config.image_sizes or self.space.resolutions)
        self.phases = resolve_phases(config, self.space, type(self.supernet).__name__)
        self.state = ckpt.TrainingState()
        self.history: list[dict] = []
        self.trace_counts: dict[str, int] = {}
        self._teacher = None
        self._optimizer = None
        self._steps = {}
        self._steps_this_call = 0
        steps = self.data.num_train // config.batch_size
        if steps < 1:
            raise ValueError(f"batch_size={config.batch_size} exceeds the {self.data.num_train} training images.")
        self.steps_per_epoch = min(steps, config.steps_per_epoch or steps)
        self.writer = (tf.summary.create_file_writer(str(self.folder.tensorboard_dir)) if self.chief
                       else tf.summary.create_noop_writer())

    # === Schedule ===
    def _recipe_rows(self) -> list[Phase]:
        return recipe_rows(self.config, self.space, type(self.supernet).__name__)

    def learning_rate(self, phase: Phase) -> WarmupCosine:
        return learning_rate(phase, self.config, self.steps_per_epoch)

    # === Files ===
    def _log(self, record: dict) -> None:
        self.history.append(record)
        self.folder.append_metrics(record)

    def _write_config(self, resumed: bool) -> None:
        if not self.chief:
            return
        c = self.config
        resolved = {
            "net": self.net_id or {"class": type(self.supernet).__name__, "config": self.supernet.get_config()},
            "num_classes": self.data.num_classes,
            "num_train_images": int(self.data.num_train),
            "num_validation_images": int(self.data.num_validation),
            "replicas": self.strategy.num_replicas_in_sync,
            "steps_per_epoch": self.steps_per_epoch,
            "image_sizes": list(self.resolutions),
            "options": {k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in dataclasses.asdict(c).items() if k != "strategy"},
            "strategy": c.strategy if isinstance(c.strategy, str) else type(c.strategy).__name__,
            "initial_weights": _describe_weights(c.init_weights, c.new_classifier),
            "phases": [
                {**p.to_dict(), "init_lr": self.learning_rate(p).init_lr, "warmup_lr": self.learning_rate(p).warmup_lr,
                 "total_steps": self.learning_rate(p).total_steps, "warmup_steps": self.learning_rate(p).warmup_steps}
                for p in self.phases
            ],
        }
        if isinstance(self.data_source, (str, Path)):
            resolved["data"] = str(self.data_source)
        path = self.folder.config_path(c.run_name)
        if resumed and path.is_file():  # the record stays as written; the resumed run must match it
            check_recorded_run(path, json.loads(json.dumps(resolved)), self.out)
            return
        self.folder.write_config(c.run_name, resolved)

    # === Weights ===
    def teacher(self) -> keras.Model:
        """The frozen full network as a stock Keras model (faster than the elastic path)."""
        if self._teacher is None:
            path = teacher_weights(self.folder, self.config)
            with model_scope(self.strategy):
                full = type(self.supernet).from_config({**self.supernet.get_config(), "dropout_rate": 0.0})
                load_weights(full, path)
                full.set_max_net()
                self._teacher = full.get_active_subnet(name="teacher")
            self._teacher.trainable = False
            logger.info("Teacher: full network from %s.", path)
        return self._teacher

    def optimizer(self) -> keras.optimizers.Optimizer:
        """The SGD optimizer of every phase (reset at a phase's start; the learning rate is set per step)."""
        if self._optimizer is None:
            with model_scope(self.strategy):
                self._optimizer = build_optimizer(self.config.optimizer_config(), 0.0)
                self._optimizer.build(self.supernet.trainable_variables)
        return self._optimizer

    def train_step(self, element_spec, teacher, sandwich: bool):
        """The step function shared by every phase with the same teacher and sandwich setting (one trace each)."""
        key = (teacher is not None, sandwich)
        if key not in self._steps:
            c = self.config
            self._steps[key] = make_train_step(
                self.supernet, self.optimizer(), self.strategy, element_spec=element_spec,
                global_batch_size=c.batch_size, teacher=teacher, inplace_distillation=sandwich,
                label_smoothing=c.label_smoothing, weight_decay=c.weight_decay,
            )
        return self._steps[key]

    def _initialize(self, first: Phase) -> None:
        """Starting weights of a fresh run (not resumed)."""
        c = self.config
        source = initial_weights(self.folder, c, self._recipe_rows(), first)
        if source is None:
            logger.info("Initial weights: random (%s is the recipe's first phase).", first.name)
            return
        if not source.is_file():
            raise FileNotFoundError(f"Initial weights not found: {source}")
        if c.new_classifier and c.init_weights is not None:
            load_body(self.supernet, source)  # logs what it kept and what it started anew
            return
        load_weights(self.supernet, source)
        logger.info("Initial weights: %s.", source)

    # === Loop ===
    def run(self) -> TrainResult:
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        latest = ckpt.latest_checkpoint(self.out, c.run_name)
        self._write_config(resumed=bool(c.resume and latest))
        position = None
        if c.resume and latest:
            position = ckpt.read_state(latest).position()
            logger.info("Resuming from %s at phase %d, epoch %d, step %d.", latest, *position)
        elif c.resume:
            logger.info("No checkpoint in %s: starting from the beginning.", self.out)
        if position is None:
            self._initialize(self.phases[0])
        start = position[0] if position else 0
        if start >= len(self.phases):
            raise ValueError(f"The checkpoint is at phase index {start}, past the {len(self.phases)} selected phases.")
        done = []
        completed = True
        for index in range(start, len(self.phases)):
            resume = (latest, position) if position and index == start else None
            finished = self._run_phase(index, resume)
            if not finished:
                completed = False
                break
            done.append(self.phases[index].name)
        self.writer.flush()
        return TrainResult(self.supernet, self.out, done, self.history, dict(self.trace_counts), completed)

    def _run_phase(self, index: int, resume) -> bool:
        """Trains phase `index`; False when stopped by `max_steps`."""
        phase = self.phases[index]
        run = self._start_phase(index, phase, resume)
        if run is None:  # the checkpoint was at the end of this phase
            return True
        self._log_phase_start(phase, run.schedule)
        start_epoch, start_step = run.start
        for epoch in range(start_epoch, phase.total_epochs):
            record = self._train_epoch(run, epoch, start_step if epoch == start_epoch else 0)
            if record is None:
                return False
            self._end_epoch(run, epoch, record)
        self._finish_phase(index, phase)
        return True

    def _start_phase(self, index: int, phase: Phase, resume) -> _PhaseRun | None:
        """A fresh phase (optimizer reset, channels sorted, first checkpoint) or the resumed one; None when the
        checkpoint `resume` is at the phase's end (finished then: its weights are saved and it is validated)."""
        c = self.config
        optimizer = self.optimizer()
        checkpointer = ckpt.Checkpointer(self.folder.checkpoint_dir(c.run_name), self.supernet, optimizer, self.state,
                                         chief=self.chief)
        rng = np.random.default_rng([c.seed, index])
        start = (0, 0)
        if resume is not None:
            path, (_, epoch, step) = resume
            if epoch >= phase.total_epochs:  # this phase had finished; the next one starts fresh
                ckpt.restore_model(path, self.supernet, self.state)
                self._finish_phase(index, phase)
                return None
            checkpointer.restore(path)
            self.state.restore_rng(rng)
            start = (epoch, step)
        else:
            reset_optimizer(optimizer)
            self._sort(phase)
            self.state.set(index, 0, 0, rng)
            checkpointer.save()
        teacher = self.teacher() if phase.kd_ratio > 0 else None
        return _PhaseRun(index, phase, self.learning_rate(phase), optimizer, checkpointer, rng, teacher, start)

    def _sort(self, phase: Phase) -> None:
        """Channel sorting at the start of an expand (or width) phase (Cai et al., Sec. 3.2)."""
        if phase.sort_channels is not None:
            self.supernet.sort_channels(phase.sort_channels)
            logger.info("Sorted middle channels by importance (expand_ratio_stage=%d).", phase.sort_channels)
        if phase.sort_widths is not None:
            self.supernet.sort_widths(phase.sort_widths)
            logger.info("Sorted stem and stage channels by importance (width_stage=%d).", phase.sort_widths)

    def _log_phase_start(self, phase: Phase, schedule: WarmupCosine) -> None:
        logger.info(
            "Phase %s: %d epochs x %d steps, lr %.4g (warmup %d steps from %.4g), %s%d subnet(s)/step, kd %.2f, "
            "ks %s e %s d %s%s.", phase.name, phase.total_epochs, self.steps_per_epoch, schedule.init_lr,
            schedule.warmup_steps, schedule.warmup_lr,
            f"sandwich (labels {phase.label_ratio:.2f} of the taught subnets' loss): max, min (if another) + "
            if phase.sandwich else "", phase.n_subnets, phase.kd_ratio, list(phase.ks_list),
            list(phase.expand_list), list(phase.depth_list),
            "" if phase.width_list is None else f" w {list(phase.width_list)}",
        )
        if self.config.subnet is not None:
            logger.info("Training only the subnet %s (a network trained alone).", self.config.subnet.to_dict())

    def _train_epoch(self, run: _PhaseRun, epoch: int, skip: int) -> dict | None:
        """One epoch of `run`'s phase after its first `skip` steps: its record, or None when stopped by `max_steps`."""
        c = self.config
        ds = self.data.train(
            c.batch_size, self.resolutions, policy=c.policy, seed=c.seed + 7919 * run.index, epoch=epoch
        ).take(self.steps_per_epoch)
        if skip:
            ds = ds.skip(skip)
        dist = self.strategy.experimental_distribute_dataset(ds)
        if run.step_fn is None:  # one step function for the whole phase: traced once (see `train_step`)
            run.step_fn = self.train_step(dist.element_spec, run.teacher, run.phase.sandwich)
            run.traces_before = run.step_fn.experimental_get_tracing_count()
        progbar = progress_bar(self.steps_per_epoch, c.verbose if self.chief else 0, stateful_metrics=["lr"])
        if skip:
            progbar.update(skip)
        losses, t0 = [], time.perf_counter()
        for i, (images, labels) in enumerate(dist, start=skip):
            loss, lr, global_step = self._train_step(run, images, labels, epoch, i)
            losses.append(loss)
            progbar.update(i + 1, [("loss", loss), ("lr", lr)])
            self._steps_this_call += 1
            if c.max_steps is not None and self._steps_this_call >= c.max_steps:
                self.trace_counts[run.phase.name] = run.traces()
                logger.info("Stopping after max_steps=%d steps (not saved).", c.max_steps)
                return None
        seconds = time.perf_counter() - t0
        self.trace_counts[run.phase.name] = run.traces()
        return {
            "event": "epoch", "phase": run.phase.name, "epoch": epoch + 1, "global_step": global_step,
            "loss": float(np.mean(losses)) if losses else None, "lr": lr,
            "images_per_sec": len(losses) * c.batch_size / seconds if seconds > 0 else None,
            "seconds": seconds,
        }

    def _train_step(self, run: _PhaseRun, images, labels, epoch: int, i: int) -> tuple[float, float, int]:
        """Step `i` of `epoch` on the subnets it samples: (loss, learning rate, global step)."""
        c = self.config
        configs = [c.subnet] if c.subnet is not None else run.phase.step_configs(self.space, run.rng)
        lr = run.schedule.value(int(run.optimizer.iterations.numpy()))
        run.optimizer.learning_rate = lr
        loss = float(run.step_fn(images, labels, *stack_configs(configs, self.supernet), run.kd_ratio,
                                 run.label_ratio))
        if not math.isfinite(loss):
            self._diverged(run.phase, run.schedule, epoch, f"the loss was {loss} at step {i + 1} of epoch {epoch + 1}")
        global_step = int(self.state.global_step.assign_add(1).numpy())
        if global_step % c.log_every == 0:
            with self.writer.as_default():
                write_scalar("train/loss", loss, global_step)
                write_scalar("train/lr", lr, global_step)
        return loss, lr, global_step

    def _end_epoch(self, run: _PhaseRun, epoch: int, record: dict) -> None:
        """Checks the weights are finite, saves the checkpoint, then logs the epoch's record (metrics.jsonl and
        TensorBoard)."""
        if not all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in self.supernet.trainable_variables):
            self._diverged(run.phase, run.schedule, epoch, f"the weights were no longer finite after epoch {epoch + 1}")
        self.state.set(run.index, epoch + 1, 0, run.rng)
        run.checkpointer.save()
        self._log(record)
        with self.writer.as_default():
            write_scalar("epoch/loss", record["loss"], record["global_step"])
            write_scalar("epoch/images_per_sec", record["images_per_sec"], record["global_step"])

    def _diverged(self, phase: Phase, schedule: WarmupCosine, epoch: int, what: str) -> None:
        """Stops the run: nothing of the diverged epoch is saved, so the latest checkpoint is the last finite one."""
        latest = ckpt.latest_checkpoint(self.out, self.config.run_name)
        self._log({"event": "diverged", "phase": phase.name, "epoch": epoch + 1,
                   "global_step": int(self.state.global_step.numpy()), "what": what})
        kept = f"keeps its last finite checkpoint ({Path(latest).name})" if latest else "holds no checkpoint"
        raise TrainingDivergedError(
            f"Training diverged in phase {phase.name}: {what} (learning rate {schedule.init_lr:g}). {self.out} {kept} "
            f"and no weights of {phase.name} were written; train again with a lower learning rate (--lr) and "
            "--overwrite."
        )

    def _finish_phase(self, index: int, phase: Phase) -> None:
        ckpt.save_weights_atomic(self.supernet, self.folder.weights_path(phase.name), write=self.chief)
        c = self.config
        multiworker = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if not c.validate or self.data.num_validation == 0 or multiworker:
            return
        self._validate_phase(phase)

    def _validate_phase(self, phase: Phase) -> None:
        """Top-1/top-5 of the phase's largest and smallest subnet (or the one trained alone) at the smallest and
        largest training size, each after BN recalibration: into metrics.jsonl and TensorBoard."""
        c = self.config
        sizes = sorted({max(self.resolutions), min(self.resolutions)})
        space = phase.search_space(self.space)
        ends = (("subnet", c.subnet),) if c.subnet is not None else (
            ("max", space.max_config()), ("min", space.min_config()))
        subnets = [(name, cfg.with_resolution(r)) for r in sizes for name, cfg in ends]
        n_calib = min(c.calibration_images, self.data.num_train)
        results = evaluate(self.supernet, self.data, [cfg for _, cfg in subnets], calibrate_bn=n_calib)
        for (name, _), res in zip(subnets, results):
            record = {"event": "validation", "phase": phase.name, "subnet": name, "resolution": res.resolution,
                      "top1": res.top1, "top5": res.top5}
            self._log(record)
            logger.info("Phase %s, %s subnet @%d: top-1 %.4f.", phase.name, name, res.resolution, res.top1)
            with self.writer.as_default():
                write_scalar(f"val/{phase.name}/{name}_{res.resolution}/top1", res.top1, int(self.state.global_step))


def train(net, data, out, **options) -> TrainResult:
    """Progressive-shrinking training of an OFA supernet (Cai et al., ICLR 2020, Sec. 3.2), or any task/phase of it.

    Args:
        net: a net id of `ofa_tf.net_ids()` (built with the data's classes) or a supernet object
            (copied; the trained copy is `result.supernet`). OFA-ResNets train on their own schedule
            (`ofa_tf.training.phases.resnet_progressive_shrinking`: depth, expand, then width).
        data: an image source for `ofa_tf.data.load_dataset` (folder, TFDS name, "digits") or an `ImageData`.
        out: output folder: `config_<run>.json`, `metrics.jsonl`, `tensorboard/`, `checkpoints/<run>/` (every
            epoch: model, optimizer, phase/epoch/step, sampler RNG) and `weights/<phase>.weights.h5` after each
            phase; <run> is the task selection ("all", "kernel", "depth_1", ...). Tasks run one after the
            other into the same folder pick up the previous phase's weights and the `full` teacher.
        **options: fields of `TrainConfig`.

    Example:
    >>> result = ofa_tf.train("ofa_mbv3_small_d234_e346_k357_w0.5", "digits", "/tmp/run", epoch_scale=0.01)
    """
    if options.get("resume"):
        options = _resumed_options(out, options)
    config = TrainConfig(**options)
    return Trainer(net, data, out, config).run()


def _resumed_options(out, options: dict) -> dict:
    """A resume continues with the options recorded in `out/config_<run>.json` when there is a checkpoint to resume
    (`resumed_options`: a different given value is refused, naming both)."""
    run = TrainConfig(task=options.get("task", "all"), phase=options.get("phase")).run_name
    path = RunFolder(out).config_path(run)
    if not (path.is_file() and ckpt.latest_checkpoint(out, run)):
        return options
    try:
        recorded = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err}): the settings of the run to resume are unknown; "
                         "start a new run (another output folder, or --overwrite).") from err
    return resumed_options(recorded.get("options", {}), options, str(path))
