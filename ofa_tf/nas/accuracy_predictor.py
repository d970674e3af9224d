"""MLP accuracy predictor over the family's arch-encoder features (reference `AccuracyPredictor`)."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from scipy import stats

from ofa_tf import registry
from ofa_tf.nas.accuracy_dataset import AccuracyDataset
from ofa_tf.nas.arch_encoding import arch_encoder
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.weights_file import check_finite

_WEIGHTS_FILE = "predictor.weights.h5"
_CONFIG_FILE = "predictor.json"
PREDICTOR_FILES = (_CONFIG_FILE, _WEIGHTS_FILE)
"""The files of a predictor folder (`AccuracyPredictor.save`)."""
_REQUIRED = ("space", "resolutions", "hidden_size", "n_layers", "seed")  # what `save` writes that `load` needs


@dataclasses.dataclass(frozen=True)
class PredictorTrainingConfig:
    """Training hyper-parameters (reference: Adam, lr 1e-3, weight decay 1e-4; AdamW here)."""

    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"`epochs` and `batch_size` must be >= 1; received {self.epochs}, {self.batch_size}.")


@dataclasses.dataclass(frozen=True)
class PredictorReport:
    """Held-out metrics of a fit; `baseline_rmse` is the RMSE of always predicting the training mean."""

    n_train: int
    n_val: int
    train_rmse: float
    rmse: float
    baseline_rmse: float
    kendall_tau: float
    spearman: float

    @property
    def beats_mean(self) -> bool:
        """Whether the predictor's held-out RMSE is below that of always predicting the mean (no better: its
        predictions carry no information a search could use)."""
        return self.rmse < self.baseline_rmse

    def warning(self) -> str | None:
        """One line for the user when the predictor does not beat the mean, else None."""
        if self.beats_mean:
            return None
        return (f"Warning: this predictor is no better than always predicting the mean: held-out RMSE "
                f"{100 * self.rmse:.2f} points vs {100 * self.baseline_rmse:.2f} for the mean, Kendall tau "
                f"{self.kendall_tau:.2f} on {self.n_val} subnets; a search would rank subnets by noise. Evaluate more "
                "subnets (--n-subnets), or try --features stage for a few dozen.")


@dataclasses.dataclass(frozen=True)
class CrossValidationReport:
    """k-fold cross-validation of the predictor: one `PredictorReport` per fold, each fold a fresh predictor."""

    folds: tuple[PredictorReport, ...]

    def _stat(self, name: str) -> tuple[float, float]:
        values = np.array([getattr(f, name) for f in self.folds], np.float64)
        return float(values.mean()), float(values.std())

    @property
    def kendall_tau(self) -> tuple[float, float]:
        """(mean, standard deviation) over the folds."""
        return self._stat("kendall_tau")

    @property
    def rmse(self) -> tuple[float, float]:
        return self._stat("rmse")

    @property
    def baseline_rmse(self) -> tuple[float, float]:
        """RMSE of always predicting the training folds' mean."""
        return self._stat("baseline_rmse")

    def to_dict(self) -> dict:
        return {
            "k": len(self.folds),
            "n": sum(f.n_val for f in self.folds),
            **{key: dict(zip(("mean", "std"), getattr(self, key))) for key in ("kendall_tau", "rmse", "baseline_rmse")},
            "folds": [dataclasses.asdict(f) for f in self.folds],
        }


class _BaseAccuracy(keras.layers.Layer):
    """Adds a non-trainable scalar (the mean training accuracy) to its input."""

    def build(self, input_shape):
        self.base_acc = self.add_weight(name="base_acc", shape=(), initializer="zeros", trainable=False)

    def call(self, inputs):
        return inputs + self.base_acc


class AccuracyPredictor:
    """Predicts top-1 accuracy (0..1): `n_layers` × (Dense(hidden) → ReLU) → Dense(1, no bias) + base_acc.

    Args:
        space: the search space the configs come from (a `SearchSpace` or a `ResNetSearchSpace`).
        resolutions: resolutions one-hot encoded; defaults to `space.resolutions`.
        hidden_size: width of the hidden layers.
        n_layers: number of hidden layers.
        seed: seed of the weight initialisation.
        net_id: the supernet whose subnets it predicts (saved; `check_supernet` compares it).
        features: "block" (the reference's one-hot per block, `ArchEncoder`) or "stage" (`StageEncoder`: resolution,
            depth, mean kernel size and expand ratio per stage; for accuracy datasets of a few dozen subnets).

    Example:
    >>> predictor = AccuracyPredictor(SearchSpace(resolutions=[160, 224]))
    >>> report = predictor.fit(AccuracyDataset.load("acc_cache.jsonl"))  # doctest: +SKIP
    >>> predictor.predict([SearchSpace().max_config(r=224)])  # doctest: +SKIP
    """

    def __init__(
        self,
        space,
        resolutions: Sequence[int] | None = None,
        hidden_size: int = 400,
        n_layers: int = 3,
        seed: int = 0,
        net_id: str | None = None,
        features: str = "block",
    ):
        if hidden_size < 1 or n_layers < 1:
            raise ValueError(f"`hidden_size` and `n_layers` must be >= 1; received {hidden_size}, {n_layers}.")
        self.encoder = arch_encoder(space, resolutions, features)
        self.features = features
        self.space = space
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.seed = seed
        self.net_id = net_id
        inputs = keras.Input((self.encoder.n_dim,), dtype="float32")
        x = inputs
        fan_in = self.encoder.n_dim
        for i in range(n_layers):
            x = keras.layers.Dense(
                hidden_size, activation="relu", name=f"dense_{i}", **_torch_linear_init(fan_in, seed + 2 * i)
            )(x)
            fan_in = hidden_size
        head_init = _torch_linear_init(fan_in, seed + 2 * n_layers)["kernel_initializer"]
        x = keras.layers.Dense(1, use_bias=False, kernel_initializer=head_init, name="head")(x)
        self._base = _BaseAccuracy(name="base_acc")
        outputs = self._base(x)
        self.model = keras.Model(inputs, outputs, name="accuracy_predictor")
        self._forward = tf.function(
            lambda features: tf.reshape(self.model(features, training=False), [-1]),
            input_signature=[tf.TensorSpec([None, self.encoder.n_dim], tf.float32)],
            reduce_retracing=True,
        )

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The resolutions it one-hot encodes: the ones a search with it draws (`ofa_tf.nas.search_resolutions`)."""
        return tuple(self.encoder.resolutions)

    @property
    def base_acc(self) -> float:
        return float(keras.ops.convert_to_numpy(self._base.base_acc))

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Predicted accuracy (float64, (N,)) of encoded configs, in one compiled call, within [0, 1]: an MLP fitted
        to a few dozen subnets extrapolates past 100% on the configs a search favours (seen in `ofa-tf demo`)."""
        features = np.asarray(features, dtype=np.float32)
        return np.clip(self._forward(tf.constant(features)).numpy().astype(np.float64), 0.0, 1.0)

    def predict_batch(self, batch) -> np.ndarray:
        return self.predict_features(self.encoder.encode(batch))

    def predict(self, configs: ConfigBatch | Sequence[SubnetConfig] | SubnetConfig) -> np.ndarray:
        """Predicted accuracy of configs of the space's family (`SubnetConfig`s, or `ResNetConfig`s)."""
        return self.predict_batch(configs)

    __call__ = predict_batch

    def fit(
        self,
        dataset: AccuracyDataset | tuple[Sequence[SubnetConfig], Sequence[float]],
        config: PredictorTrainingConfig = PredictorTrainingConfig(),
    ) -> PredictorReport:
        """Trains on a shuffled split of `dataset` and reports RMSE and rank correlations on the held-out part."""
        if not isinstance(dataset, AccuracyDataset):
            dataset = AccuracyDataset(*dataset)
        train, val = dataset.split(config.val_fraction, config.seed)
        self._train(train, config)
        return self.score(val, train)

    def score(self, val: AccuracyDataset, train: AccuracyDataset) -> PredictorReport:
        """RMSE and rank correlations on `val`, beside the RMSE of always predicting the mean of `train`."""
        pred_val = self.predict(val.configs)
        return PredictorReport(
            n_train=len(train),
            n_val=len(val),
            train_rmse=_rmse(self.predict(train.configs), train.accuracies),
            rmse=_rmse(pred_val, val.accuracies),
            baseline_rmse=_rmse(np.full(len(val), train.accuracies.mean()), val.accuracies),
            kendall_tau=float(stats.kendalltau(pred_val, val.accuracies).statistic),
            spearman=float(stats.spearmanr(pred_val, val.accuracies).statistic),
        )

    def _train(self, train: AccuracyDataset, config: PredictorTrainingConfig) -> None:
        x_train = self.encoder.encode(train.configs)
        # Fit standardized targets, then fold mean and scale into base_acc and the (bias-free, linear) head: with
        # accuracies a point or two apart, the initial function's noise would otherwise swamp the signal.
        mean, scale = float(train.accuracies.mean()), float(train.accuracies.std()) or 1.0
        y_train = ((train.accuracies - mean) / scale).astype(np.float32)
        self._base.base_acc.assign(0.0)

        optimizer = keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
        variables = self.model.trainable_variables
        optimizer.build(variables)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, self.encoder.n_dim], tf.float32),
                tf.TensorSpec([None], tf.float32),
            ],
            reduce_retracing=True,
        )
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(tf.reshape(self.model(x, training=True), [-1]) - y))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        rng = np.random.default_rng(config.seed)
        for _ in range(config.epochs):
            order = rng.permutation(len(y_train))
            for start in range(0, len(order), config.batch_size):
                idx = order[start : start + config.batch_size]
                train_step(tf.constant(x_train[idx]), tf.constant(y_train[idx]))
        head = self.model.get_layer("head").kernel
        head.assign(head * scale)
        self._base.base_acc.assign(mean)

    def save(self, directory: str | Path) -> None:
        """Writes `predictor.weights.h5` and `predictor.json` (architecture + search space) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(directory / _WEIGHTS_FILE)
        space = dataclasses.asdict(self.space)
        meta = {
            "family": self.space.kind,  # "mobilenet" or "resnet" (`ofa_tf.registry.space_type` reads it back)
            "space": {k: list(v) if isinstance(v, tuple) else v for k, v in space.items()},
            "resolutions": list(self.encoder.resolutions),
            "hidden_size": self.hidden_size,
            "n_layers": self.n_layers,
            "seed": self.seed,
            "net_id": self.net_id,
            "features": self.features,
        }
        (directory / _CONFIG_FILE).write_text(json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> AccuracyPredictor:
        directory = Path(directory)
        for name in (_CONFIG_FILE, _WEIGHTS_FILE):
            if not (directory / name).exists():
                raise FileNotFoundError(f"{directory / name} not found; save a predictor there with `save()`.")
        config_file, weights_file = directory / _CONFIG_FILE, directory / _WEIGHTS_FILE
        try:
            meta = json.loads(config_file.read_text())
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"{config_file} is not valid JSON ({err}); it may be truncated: save the predictor "
                             "again (`ofa-tf predictor`).") from err
        missing = [key for key in _REQUIRED if not isinstance(meta, dict) or key not in meta]
        if missing:
            raise ValueError(f"{config_file} lacks {', '.join(repr(k) for k in missing)}: a predictor.json written by "
                             f"`AccuracyPredictor.save` holds {', '.join(_REQUIRED)}; save the predictor again.")
        space_type = registry.space_type(meta.get("family", "mobilenet"), source=str(config_file))
        try:
            predictor = cls(space_type(**meta["space"]), meta["resolutions"], meta["hidden_size"],
                            meta["n_layers"], meta["seed"], meta.get("net_id"), meta.get("features", "block"))
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"{config_file} does not describe a predictor ({type(err).__name__}: {err}); save the "
                             "predictor again.") from err
        try:
            predictor.model.load_weights(weights_file)
        except (ValueError, OSError) as err:  # truncated or foreign HDF5, other shapes
            detail = " ".join(str(err).split())[:160]
            raise ValueError(f"{weights_file} is not readable predictor weights ({detail}); it may be truncated or "
                             f"belong to another predictor.json: save the predictor again.") from err
        check_finite(((v.path, v.numpy()) for v in predictor.model.weights), weights_file)
        predictor.directory = directory
        return predictor

    def check_supernet(self, supernet) -> None:
        """Raises ValueError naming both sides when this predictor was trained for another supernet or search space
        (its predictions would be meaningless there)."""
        where = getattr(self, "directory", "this predictor")
        if self.net_id and supernet.net_id and self.net_id != supernet.net_id:
            raise ValueError(f"The predictor in {where} was trained on subnets of {self.net_id}, not of "
                             f"{supernet.net_id}: build one for {supernet.net_id} with `ofa-tf predictor`.")
        if self.space.kind != supernet.search_space.kind:
            raise ValueError(f"The predictor in {where} was trained for a {type(self.space).__name__}, not the "
                             f"{type(supernet.search_space).__name__} of {supernet.net_id or 'this supernet'}: build "
                             f"one with `ofa-tf predictor`.")
        if self.space != supernet.search_space:
            mine, theirs = dataclasses.asdict(self.space), dataclasses.asdict(supernet.search_space)
            detail = ", ".join(f"{k} {list(mine[k])} vs {list(theirs[k])}" for k in mine
                               if mine[k] != theirs[k] and k != "n_stages")
            raise ValueError(f"The predictor in {where} was trained for another search space than "
                             f"{supernet.net_id or 'this supernet'} ({detail}): build one with `ofa-tf predictor`.")


def _torch_linear_init(fan_in: int, seed: int) -> dict:
    """PyTorch's default `nn.Linear` init, U(±1/sqrt(fan_in)) for kernel and bias, as the reference predictor uses.

    Its small initial outputs matter: with Glorot init the random initial function is not trained away off the
    training points and held-out error is several times higher.
    """
    limit = 1.0 / np.sqrt(fan_in)
    return {
        "kernel_initializer": keras.initializers.RandomUniform(-limit, limit, seed=seed),
        "bias_initializer": keras.initializers.RandomUniform(-limit, limit, seed=seed + 1),
    }


def _rmse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(target)) ** 2)))


def cross_validate(
    dataset: AccuracyDataset | tuple[Sequence[SubnetConfig], Sequence[float]],
    space: SearchSpace,
    k: int = 5,
    config: PredictorTrainingConfig = PredictorTrainingConfig(),
    **predictor_options,
) -> CrossValidationReport:
    """Scores `AccuracyPredictor(space, **predictor_options)` by k-fold cross-validation over all of `dataset`:
    every sample is held out exactly once, by a predictor trained on the other folds."""
    if not isinstance(dataset, AccuracyDataset):
        dataset = AccuracyDataset(*dataset)
    reports = []
    for train, val in dataset.folds(k, config.seed):
        predictor = AccuracyPredictor(space, **predictor_options)
        predictor._train(train, config)
        reports.append(predictor.score(val, train))
    return CrossValidationReport(tuple(reports))
