"""SGD with Nesterov momentum, warmup + per-iteration cosine LR, weight decay except on BN/bias (the reference's
`ofa/imagenet_classification/run_manager/run_config.py` and `train_ofa_net.py`)."""
from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf

# The reference's `no_decay_keys="bn#bias"`; our BN variables are `.../<x>_bn/gamma` etc., and BN-like
# names without "bn" in the layer name are caught by the variable names.
NO_DECAY_KEYS = ("bn", "bias")
NO_DECAY_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """SGD hyper-parameters; the learning rate comes from `WarmupCosine`.

    Args:
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: L2 coefficient added to the gradient (PyTorch-style coupled decay).
        no_decay_keys: substrings of a variable path that exclude it from weight decay.
    """

    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 3e-5
    no_decay_keys: tuple[str, ...] = NO_DECAY_KEYS


@keras.saving.register_keras_serializable(package="ofa_tf")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from `warmup_lr` to `init_lr` over `warmup_steps`, then per-step cosine to 0.

    Step s (0-based) of warmup: `(s + 1) / warmup_steps * (init_lr - warmup_lr) + warmup_lr`; then with
    t = s - warmup_steps and T = total_steps - warmup_steps: `0.5 * init_lr * (1 + cos(pi * t / T))`,
    as the reference's `calc_learning_rate` / `warmup_adjust_learning_rate`.
    """

    def __init__(self, init_lr: float, total_steps: int, warmup_steps: int = 0, warmup_lr: float | None = None):
        if init_lr <= 0:
            raise ValueError(f"Invalid value for `init_lr`: expected > 0. Received init_lr={init_lr}.")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps < total_steps; received warmup_steps={warmup_steps}, "
                f"total_steps={total_steps}."
            )
        self.init_lr = float(init_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.warmup_lr = float(init_lr if warmup_lr is None else warmup_lr)

    def __call__(self, step):
        s = tf.cast(step, tf.float32)
        w = float(self.warmup_steps)
        warm = (s + 1.0) / max(w, 1.0) * (self.init_lr - self.warmup_lr) + self.warmup_lr
        t = tf.minimum(s - w, float(self.total_steps - self.warmup_steps))
        cosine = 0.5 * self.init_lr * (1.0 + tf.cos(math.pi * t / float(self.total_steps - self.warmup_steps)))
        return tf.where(s < w, warm, cosine)

    def value(self, step: int) -> float:
        """The learning rate at `step`, in Python."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps * (self.init_lr - self.warmup_lr) + self.warmup_lr
        t = min(step - self.warmup_steps, self.total_steps - self.warmup_steps)
        return 0.5 * self.init_lr * (1 + math.cos(math.pi * t / (self.total_steps - self.warmup_steps)))

    def get_config(self):
        return {
            "init_lr": self.init_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_lr": self.warmup_lr,
        }


def build_optimizer(config: OptimizerConfig, learning_rate) -> keras.optimizers.SGD:
    """Keras SGD (momentum, Nesterov); weight decay is applied by `add_weight_decay`, not here."""
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=config.momentum, nesterov=config.nesterov)


def is_decayed(variable, no_decay_keys=NO_DECAY_KEYS) -> bool:
    """False for variables whose path contains a `no_decay_keys` entry (or BN gamma/beta)."""
    path = getattr(variable, "path", None) or variable.name
    leaf = path.rsplit("/", 1)[-1].split(":")[0]
    return not (any(key in path for key in no_decay_keys) or leaf in NO_DECAY_NAMES)


def decay_mask(variables, no_decay_keys=NO_DECAY_KEYS) -> list[bool]:
    return [is_decayed(v, no_decay_keys) for v in variables]


def add_weight_decay(grads, variables, mask, weight_decay: float, num_replicas: int = 1):
    """`g + wd * w` for decayed variables (divided by the replica count, as replica gradients are summed)."""
    if not weight_decay:
        return list(grads)
    coef = weight_decay / num_replicas
    return [g + coef * tf.convert_to_tensor(v) if m and g is not None else g for g, v, m in zip(grads, variables, mask)]


def reset_optimizer(optimizer) -> None:
    """A fresh start for a new phase: step count and momentum buffers to zero."""
    optimizer.iterations.assign(0)
    for variable in optimizer.variables:
        if variable is not optimizer.iterations and "learning_rate" not in variable.path:
            variable.assign(tf.zeros_like(variable))
