"""tf.distribute strategies for training (`--strategy default|mirrored|multiworker|tpu`)."""
from __future__ import annotations

import contextlib
import json
import logging
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
logger = logging.getLogger(__name__)


def make_strategy(name: str | tf.distribute.Strategy = "default", tpu: str | None = None) -> tf.distribute.Strategy:
    """The strategy called `name` (a `tf.distribute.Strategy` passes through).

    - default: the current (single-device) strategy.
    - mirrored: `MirroredStrategy` over all GPUs, or over all logical CPUs when there is no GPU.
    - multiworker: `MultiWorkerMirroredStrategy`; the cluster comes from `TF_CONFIG`.
    - tpu: `TPUStrategy` on `TPUClusterResolver(tpu)` (`tpu` = name or grpc address; None = local/env).

    MultiWorkerMirroredStrategy must be created before TensorFlow runs any op; in a program that builds
    tensors first, create it at startup and pass the instance.
    """
    if isinstance(name, tf.distribute.Strategy):
        return name
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {list(STRATEGIES)}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            logger.warning("TF_CONFIG is not set: MultiWorkerMirroredStrategy runs as a single worker.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes files (task 0 / the chief; always true off multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return task_type == "worker" and task_id == 0 and not has_chief


def _batch_norm_stats_on_read(next_creator, **kwargs):
    if not kwargs.get("trainable", True) and kwargs.get("aggregation") == tf.VariableAggregation.MEAN:
        kwargs["synchronization"] = tf.VariableSynchronization.ON_READ
    return next_creator(**kwargs)


@contextlib.contextmanager
def model_scope(strategy: tf.distribute.Strategy):
    """`strategy.scope()` in which running BN statistics become replica-local (sync on read, mean).

    Our BN layers update their statistics inside `tf.cond` / `tf.switch_case` branches (elastic depth
    and kernel), where a mirrored variable's cross-replica update (`merge_call`) is not allowed. Kept
    per replica and averaged when read, as Keras 2 did for BatchNormalization; since the update is
    linear this equals averaging every step.
    """
    with strategy.scope(), tf.variable_creator_scope(_batch_norm_stats_on_read):
        yield
