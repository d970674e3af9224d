"""What a training run trains: the recipe's rows for a supernet, the phases of a task selection with the run's options
applied, each phase's learning rate, and which of them an output folder lets it train (`Trainer` runs them)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ofa_tf.run_folder import METRICS_FILE
from ofa_tf.run_folder import RunFolder
from ofa_tf.training import checkpoint as ckpt
from ofa_tf.training.config import TrainConfig
from ofa_tf.training.optimizer import WarmupCosine
from ofa_tf.training.phases import REFERENCE_BATCH_PER_GPU
from ofa_tf.training.phases import Phase
from ofa_tf.training.phases import drop_phases
from ofa_tf.training.phases import recipe_phases
from ofa_tf.training.phases import select_phases


def recipe_rows(config: TrainConfig, space, net_class: str) -> list[Phase]:
    """The recipe's rows for a supernet of `space` (class name `net_class`), without those `phase_epochs` gives 0
    epochs."""
    rows = recipe_phases(config.recipe, space)
    names = [p.name for p in rows]
    unknown = sorted(set(config.phase_epochs or {}) - set(names))
    if unknown:
        raise ValueError(f"Unknown phase names in `phase_epochs` for {net_class} and recipe {config.recipe!r}: "
                         f"{unknown}; its phases are {names}.")
    return drop_phases(rows, config.phase_epochs)


def resolve_phases(config: TrainConfig, space, net_class: str) -> list[Phase]:
    """The phases the run trains: its task selection of the recipe's rows, each with the run's options applied."""
    phases = select_phases(recipe_rows(config, space, net_class), config.task, config.phase)
    if config.task == "all" and config.teacher is not None:  # the teacher replaces the `full` phase
        phases = [p for p in phases if p.task != "full"]
    return [_with_options(p, config) for p in phases]


def _with_options(p: Phase, c: TrainConfig) -> Phase:
    """Phase `p` with the run's epochs, warm-up, subnets per step and loss ratios."""
    if c.epochs is not None:
        p = p.with_total_epochs(c.epochs)
    elif c.epoch_scale is not None:
        p = p.scaled(c.epoch_scale)
    if c.phase_epochs and p.name in c.phase_epochs:
        p = p.with_total_epochs(c.phase_epochs[p.name])
    if c.warmup_epochs is not None:
        total = p.total_epochs
        if not 0 <= c.warmup_epochs < total:
            raise ValueError(f"warmup_epochs={c.warmup_epochs} must be in [0, {total}) for phase {p.name}.")
        p = dataclasses.replace(p, warmup_epochs=c.warmup_epochs, epochs=total - c.warmup_epochs)
    if c.n_subnets is not None:
        p = dataclasses.replace(p, n_subnets=c.n_subnets)
    if c.kd_ratio is not None and p.task != "full":
        p = dataclasses.replace(p, kd_ratio=c.kd_ratio)
    if c.label_ratio is not None:
        p = dataclasses.replace(p, label_ratio=c.label_ratio)
    return p


def learning_rate(phase: Phase, config: TrainConfig, steps_per_epoch: int) -> WarmupCosine:
    """Warm-up then cosine over the phase's steps; the phase's base rate scaled to the batch size (linear scaling
    from the reference's per-GPU batch), unless `lr` is given."""
    total = phase.total_epochs * steps_per_epoch
    warmup = min(int(round(phase.warmup_epochs * steps_per_epoch)), total - 1)
    scaled = phase.base_lr * config.batch_size / REFERENCE_BATCH_PER_GPU
    init_lr = config.lr or scaled
    return WarmupCosine(init_lr, total, warmup, warmup_lr=min(phase.base_lr, init_lr))


def _selected_phases(config: TrainConfig, schedule_space) -> list[Phase]:
    """The recipe rows of the task selection, known before the supernet is built (for the checks of the folder)."""
    return select_phases(recipe_phases(config.recipe, schedule_space), config.task, config.phase)


def check_out_dir(folder: RunFolder, config: TrainConfig, net_id: str | None, schedule_space) -> None:
    """Refuses, before any work, to retrain a phase whose weights the folder already holds (a finished run) unless
    `overwrite`; `resume` continues only this task's own checkpoint. `overwrite` without `resume` removes this task's
    checkpoints."""
    c, out = config, folder.root
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"Output folder {out} is a file; pass a folder (--out).")
    check_inputs_not_written(folder, config, schedule_space)
    for name, other in folder.net_ids().items():
        if net_id and other != net_id:
            raise ValueError(f"{out} holds a training run of {other} ({name}), not of {net_id}: "
                             "choose another output folder (--out) or --net " + other + ".")
    latest = ckpt.latest_checkpoint(out, c.run_name)
    if c.overwrite and latest and not c.resume:
        folder.remove_checkpoints(c.run_name)
        return
    if c.overwrite:
        return
    if latest and not c.resume:
        raise FileExistsError(
            f"{out} already holds a checkpoint of task {c.run_name!r} ({latest}); pass --resume "
            "(resume=True) to continue it, --overwrite to start it again, or choose another output folder."
        )
    _refuse_finished_phases(folder, c, schedule_space, latest)


def _refuse_finished_phases(folder: RunFolder, c: TrainConfig, schedule_space, latest: str | None) -> None:
    phases = [p.name for p in _selected_phases(c, schedule_space)]
    if c.task == "all" and c.teacher is not None:
        phases = [name for name in phases if name != "full"]
    if latest:  # phases before the checkpoint's, and a finished one at it, are not retrained
        index, epoch, _ = ckpt.read_state(latest).position()
        finished_at_index = index < len(phases) and folder.weights_path(phases[index]).is_file()
        phases = phases[index + int(finished_at_index):]
    done = folder.finished(phases)
    if done:
        files = ", ".join(str(folder.weights_path(n).relative_to(folder.root)) for n in done)
        raise FileExistsError(
            f"{folder.root} already holds the finished phase(s) {', '.join(done)} ({files}, {METRICS_FILE}); "
            "pass --overwrite (overwrite=True) to train them again, or choose another output folder."
        )


def check_inputs_not_written(folder: RunFolder, config: TrainConfig, schedule_space) -> None:
    """Refuses starting weights or a teacher that are weights this run writes (`out/weights/<phase>` of a phase it
    trains): the run would replace its own input."""
    c = config
    written = {folder.weights_path(p.name).resolve(): p.name for p in _selected_phases(c, schedule_space)}
    teacher = c.teacher and (RunFolder(c.teacher).weights_path("full") if Path(c.teacher).is_dir()
                             else Path(c.teacher))
    for name, option, path in (("init_weights", "--init", c.init_weights), ("teacher", "--teacher", teacher)):
        phase = written.get(Path(path).resolve()) if path else None
        if phase is not None:
            raise ValueError(f"{name}={str(path)!r} ({option}) are the weights of phase {phase}, which this run "
                             f"writes into {folder.root}: copy them elsewhere first, or choose another output folder.")


def teacher_weights(folder: RunFolder, config: TrainConfig) -> Path:
    """The distillation teacher's weights: `teacher` (a weights file, or a run folder's `full` phase), else the `full`
    phase this folder holds."""
    if config.teacher is not None:
        path = Path(config.teacher)
        if path.is_dir():
            path = RunFolder(path).weights_path("full")
        if not path.is_file():
            raise FileNotFoundError(f"Teacher weights not found: {path}")
        return path
    path = folder.weights_path("full")
    if not path.is_file():
        raise ValueError(
            "Distillation needs the full network as teacher: run the `full` task into the same output "
            f"folder first ({path} is missing) or pass `teacher` (--teacher CKPT)."
        )
    return path


def initial_weights(folder: RunFolder, config: TrainConfig, rows: list[Phase], first: Phase) -> Path | None:
    """Where a fresh run's first phase starts: `init_weights`, else the previous row's weights in the folder, else (for
    the second row) the teacher's; None: random (the recipe's first row)."""
    c = config
    index = [p.name for p in rows].index(first.name)
    previous = rows[index - 1].name if index > 0 else None
    if c.init_weights is not None:
        return Path(c.init_weights)
    if previous is not None and folder.weights_path(previous).is_file():
        return folder.weights_path(previous)
    if index == 1 and (c.teacher is not None or folder.weights_path("full").is_file()):
        return teacher_weights(folder, c)
    if index == 0:  # the recipe's first row (e.g. `sandwich` with `phase_epochs={"full": 0}`)
        return None
    raise ValueError(
        f"Phase {first.name} starts from the weights of phase {previous}: run it into the same output "
        f"folder first, or pass `init_weights` (--init WEIGHTS)."
    )
