"""Training checkpoints: model + optimizer + schedule position + sampler RNG, and atomic weights files."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from ofa_tf.files import atomic_path
from ofa_tf.run_folder import RunFolder


class TrainingState(tf.Module):
    """Where training stands: phase index in the schedule, finished epochs and steps in the current epoch.

    `rng_state` holds the subnet sampler's `numpy.random.Generator` state as JSON, so a resumed run
    draws the same subnets as an uninterrupted one.
    """

    def __init__(self):
        super().__init__(name="training_state")
        self.phase_index = tf.Variable(0, dtype=tf.int64, trainable=False, name="phase_index")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.rng_state = tf.Variable("", dtype=tf.string, trainable=False, name="rng_state")

    def set(self, phase_index: int, epoch: int, step_in_epoch: int = 0, rng: np.random.Generator | None = None):
        self.phase_index.assign(phase_index)
        self.epoch.assign(epoch)
        self.step_in_epoch.assign(step_in_epoch)
        if rng is not None:
            self.rng_state.assign(json.dumps(rng.bit_generator.state))

    def position(self) -> tuple[int, int, int]:
        return int(self.phase_index.numpy()), int(self.epoch.numpy()), int(self.step_in_epoch.numpy())

    def restore_rng(self, rng: np.random.Generator) -> None:
        """Sets `rng` to the saved state (no-op when none was saved)."""
        raw = self.rng_state.numpy().decode()
        if raw:
            rng.bit_generator.state = json.loads(raw)


def latest_checkpoint(out_dir: str | Path, run_name: str) -> str | None:
    return tf.train.latest_checkpoint(str(RunFolder(out_dir).checkpoint_dir(run_name)))


def read_state(path: str) -> TrainingState:
    """Only the schedule position and RNG state of the checkpoint at `path`."""
    state = TrainingState()
    tf.train.Checkpoint(state=state).read(path).expect_partial()
    return state


def seed_states(model) -> dict:
    """State variables of the model's random-seed generators (dropout), which the model itself does not
    expose to `tf.train.Checkpoint`; checkpointed so a resumed run draws the same dropout masks."""
    layers = model._flatten_layers(include_self=True, recursive=True)
    gens = [g for g in (getattr(layer, "seed_generator", None) for layer in layers) if g is not None]
    return {f"seed_{i}": g.state for i, g in enumerate(gens)}


def model_variables(model) -> dict:
    """Every model variable keyed by its path without the model name.

    `tf.train.Checkpoint(model=...)` once missed variables of Keras layers kept in Python lists (our
    `blocks`), e.g. their BN running statistics; the supernet now exposes them, and this explicit list
    stays so that training checkpoints written before that still resume.
    """
    return {v.path.split("/", 1)[-1].replace("/", "."): v for v in model.variables}


class Checkpointer:
    """A `tf.train.CheckpointManager` over model, optimizer and `TrainingState` in `RunFolder.checkpoint_dir(run)`.

    TensorFlow writes the shards under a temporary name and only then updates the `checkpoint` index
    file, so an interrupted save never becomes the latest checkpoint. Non-chief workers of a
    multi-worker run must save too (the variables are all-reduced); they write to a scratch folder.
    """

    def __init__(self, directory, model, optimizer, state: TrainingState, chief: bool = True, max_to_keep: int = 2):
        objects = dict(model=model, state=state, variables=model_variables(model), seeds=seed_states(model))
        if optimizer is not None:
            objects["optimizer"] = optimizer
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.chief = chief
        directory = Path(directory)
        if not chief:
            directory = Path(tempfile.mkdtemp(prefix="ofa_tf_worker_ckpt_"))
        self.directory = directory
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    def save(self) -> str:
        path = self.manager.save()
        if not self.chief:
            shutil.rmtree(self.directory, ignore_errors=True)
        return path

    def restore(self, path: str) -> None:
        """Restores everything this checkpointer tracks; fails if the checkpoint lacks any of it."""
        self.checkpoint.restore(path).assert_existing_objects_matched()


def restore_model(path: str, model, state: TrainingState) -> None:
    """Restores only model weights and position (e.g. the end of a finished phase, whose optimizer is not reused)."""
    tf.train.Checkpoint(model=model, state=state, variables=model_variables(model)).restore(path).expect_partial()


def save_weights_atomic(model, path: str | Path, write: bool = True) -> None:
    """`model.save_weights` to a temporary `.weights.h5` then renamed; with `write=False` only the
    (collective) variable reads happen and nothing is kept, for non-chief workers."""
    if not write:
        with tempfile.TemporaryDirectory(prefix="ofa_tf_worker_w_") as scratch:
            model.save_weights(str(Path(scratch) / Path(path).name))
        return
    with atomic_path(path) as tmp:
        model.save_weights(str(tmp))
