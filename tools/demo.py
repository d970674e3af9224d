"""The whole OFA pipeline in one call: train a supernet, build an accuracy predictor, specialize for two budgets.

The default runs offline on CPU in minutes: the tiny-image supernet trained with the sandwich recipe on
scikit-learn's handwritten digits (8x8, at 8-16 px), 40 evaluated subnets for the predictor (judged by k-fold
cross-validation), a MACs budget and a host-latency budget, two `.tflite` files exported and run on this machine. Every stage takes real data (a TFDS
name or an image folder) and the official ImageNet supernets instead.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import pickle
import time
from pathlib import Path

import numpy as np

from android_bench.cli_support import call_quietly
from ofa_tf.latency import network_shape
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import NSGA2Config
from ofa_tf.nas import PredictorReport
from ofa_tf.nas import PredictorTrainingConfig
from ofa_tf.nas import CrossValidationReport
from ofa_tf.nas import build_accuracy_dataset
from ofa_tf.nas import cross_validate
from ofa_tf.nas import evaluation_noise
from ofa_tf.nas.arch_encoding import FEATURES
from ofa_tf.run_folder import RunFolder
from ofa_tf.run_folder import infer_n_classes
from ofa_tf.run_folder import load_supernet
from ofa_tf.run_folder import resolve_weights

from .demo_budgets import DemoBudget
from .demo_budgets import demo_budgets
from .measure import HostLatency
from .measure import make_evaluate_fn
from .specialize import SpecializeReport
from .specialize import specialize

logger = logging.getLogger(__name__)

QUICK_ENV = "OFA_TF_DEMO_QUICK"
"""Set to 1 to make `ofa-tf demo` use `DemoSettings.quick()` (the CI setting)."""


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """Everything the demo does; the defaults finish in a few minutes on 2 CPU cores.

    Args:
        net_id: supernet preset (`ofa_tf.zoo.net_ids()`).
        data: `ofa_tf.data.load_dataset` source: "digits", a TFDS name or an image folder.
        validation_split: held-out images (accuracy of subnets and of the `.tflite` files).
        weights: trained supernet weights (`.weights.h5` / `.pth`) or a training output folder; skips training.
        pretrained: use the official ImageNet weights of `net_id` (skips training; needs internet once).
        recipe: training recipe of `ofa_tf.train` ("sandwich" or "reference").
        label_ratio: the labels' share of the min and random subnets' loss in the sandwich recipe (None: the
            recipe's, 0). 0.5 lifts the weakest subnets (measured in docs/demo.md, "Settings and why").
        full_epochs: epochs of the full-network phase.
        epochs: epochs of every other phase (the sandwich recipe has one: the whole space).
        batch_size: training batch size.
        steps_per_epoch: cap on training steps per epoch (None = the whole training split).
        image_sizes: training resolutions (None = the supernet's).
        n_subnets: subnets evaluated (BN recalibrated) for the predictor's dataset.
        calibration_images: BN-recalibration images per subnet.
        predictor_epochs: predictor training epochs (one step each on the 32 subnets of a fold): few, because
            stopping early is the regularizer a few dozen samples need (docs/demo.md, "Settings and why").
        predictor_features: the predictor's inputs (`ofa_tf.nas.arch_encoder`): "stage" suits the few dozen
            evaluated subnets ("block", the reference's one-hot per block, did not; docs/demo.md).
        cv_folds: folds of the predictor's cross-validation over all evaluated subnets.
        budget_quantiles: where the two budgets sit on the unconstrained Pareto front of predicted top-1 against
            their metric (`tools.demo_budgets`), the first for the MACs budget, the second for the host-latency budget:
            0.5 is the front's median, below the most accurate subnet's figure, so both searches are constrained.
        host_points, host_rounds, host_runs: the host latency table (`HostLatency.table_model` at the largest
            resolution, which predicts the host budget, searched at that resolution): measured subnets it is
            calibrated on, interleaved rounds, timed runs per round.
        quantize: export mode of the `.tflite` files.
        search_generations, nsga2_generations: evolution / NSGA-II generations (reference: 500 / ours: 200).
        seed: seed of everything.
    """

    net_id: str = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
    data: str = "digits"
    validation_split: float = 0.2
    weights: str | None = None
    pretrained: bool = False
    recipe: str = "sandwich"
    label_ratio: float | None = 0.5
    full_epochs: int = 12
    epochs: int = 11
    batch_size: int = 32
    steps_per_epoch: int | None = None
    image_sizes: tuple[int, ...] | None = None
    n_subnets: int = 40
    calibration_images: int = 300
    predictor_epochs: int = 30
    predictor_features: str = "stage"
    cv_folds: int = 5
    budget_quantiles: tuple[float, float] = (0.5, 0.5)
    host_points: int = 5
    host_rounds: int = 3
    host_runs: int = 30
    quantize: str = "none"
    search_generations: int = 500
    nsga2_generations: int = 200
    seed: int = 0

    def __post_init__(self):
        if len(self.budget_quantiles) != 2 or not all(0 < q < 1 for q in self.budget_quantiles):
            raise ValueError(
                f"`budget_quantiles` must be two values in (0, 1); received {list(self.budget_quantiles)}."
            )
        if self.weights is not None and self.pretrained:
            raise ValueError("Pass either `weights` or `pretrained`, not both.")
        if self.full_epochs < 1 or self.epochs < 1:
            raise ValueError(f"Epochs must be >= 1; received full_epochs={self.full_epochs}, epochs={self.epochs}.")
        if not 2 <= self.cv_folds <= self.n_subnets:
            raise ValueError(f"`cv_folds` must be in [2, n_subnets={self.n_subnets}]; received {self.cv_folds}.")
        if self.predictor_features not in FEATURES:
            raise ValueError(f"`predictor_features` must be one of {', '.join(FEATURES)}; received "
                             f"{self.predictor_features!r}.")
        if self.n_subnets < 10:
            raise ValueError(f"`n_subnets` must be >= 10 to train and check a predictor; received {self.n_subnets}.")

    @classmethod
    def quick(cls, **overrides) -> DemoSettings:
        """The reduced CI setting: one short epoch per phase, fewer subnets, shorter searches."""
        values = dict(full_epochs=1, epochs=1, steps_per_epoch=4, n_subnets=24, calibration_images=200,
                      host_points=3, host_rounds=2, host_runs=10, search_generations=100, nsga2_generations=40)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_env(cls, **overrides) -> DemoSettings:
        """`quick()` when `$OFA_TF_DEMO_QUICK` is set to a true value, else the defaults."""
        quick = os.environ.get(QUICK_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        return cls.quick(**overrides) if quick else cls(**overrides)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class DemoResult:
    """Where the demo put things and how long each stage took."""

    out: Path
    weights: Path | None
    predictor_dir: Path
    predictor_report: PredictorReport
    cross_validation: CrossValidationReport
    report: SpecializeReport
    seconds: dict[str, float]


def _load_supernet(settings: DemoSettings, data, out: Path, host_dir: Path, seconds: dict):
    if settings.pretrained:
        return load_supernet(settings.net_id, pretrained=True), None
    if settings.weights is not None:
        path, net_id = resolve_weights(settings.weights, settings.net_id)
        n_classes = infer_n_classes(settings.weights) or data.num_classes
        return load_supernet(net_id, path, n_classes), path
    from ofa_tf.training import train

    train_dir = out / "train"
    final = RunFolder(train_dir).weights_path()
    if not final.is_file():
        start = time.perf_counter()
        # Training keeps about one of two cores busy (small ops, one at a time): the host table's models are
        # converted on the other meanwhile, and only timed once training is over.
        convert = pickle.dumps((_convert_host_table_models, (settings, data.num_classes, host_dir)))
        helper = multiprocessing.get_context("spawn").Process(
            target=call_quietly, args=(logger.isEnabledFor(logging.DEBUG), convert), daemon=True
        )
        helper.start()
        try:
            train(
                settings.net_id, data, train_dir, recipe=settings.recipe, label_ratio=settings.label_ratio,
                epochs=settings.epochs,
                phase_epochs={"full": settings.full_epochs},
                batch_size=settings.batch_size, steps_per_epoch=settings.steps_per_epoch,
                image_sizes=settings.image_sizes, seed=settings.seed,
                calibration_images=settings.calibration_images, validate=False, resume=True, verbose=2,
            )
        except BaseException:
            helper.terminate()
            raise
        finally:
            helper.join()
        if helper.exitcode != 0:
            logger.warning("Converting the host latency table's models beside training failed (exit code %s); "
                           "they are converted with the table.", helper.exitcode)
        seconds["train"] = time.perf_counter() - start
    else:
        logger.info("Using the trained supernet in %s.", final)
    return load_supernet(settings.net_id, final, data.num_classes), final


def run_demo(settings: DemoSettings = DemoSettings(), out: str | Path = "demo_out") -> DemoResult:
    """Train (or load) → accuracy dataset → predictor → two budgets → search, export, measure → report.

    Re-running with the same `out` reuses the trained weights and the cached accuracy dataset. Training starts a
    second process (multiprocessing's spawn), so a script calling this needs the `if __name__ == "__main__":` guard.
    Writes `out/report.md`, `out/report.json`, `out/pareto.png`, one `.tflite` + config JSON per budget,
    `out/predictor/` (model, dataset, metrics) and `out/train/` (the training run).
    """
    from ofa_tf.data import load_dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    total = time.perf_counter()
    data = load_dataset(settings.data, validation_split=settings.validation_split, seed=settings.seed)
    host_dir = out / "host_measurements"
    supernet, weights = _load_supernet(settings, data, out, host_dir, seconds)
    space = supernet.search_space

    start = time.perf_counter()
    predictor_dir = out / "predictor"
    evaluate_fn = make_evaluate_fn(supernet, data, settings.calibration_images)
    configs, accuracies = build_accuracy_dataset(
        evaluate_fn, space, settings.n_subnets, predictor_dir / "acc_dataset.jsonl", seed=settings.seed
    )
    seconds["accuracy_dataset"] = time.perf_counter() - start
    start = time.perf_counter()
    training = PredictorTrainingConfig(epochs=settings.predictor_epochs, seed=settings.seed)
    cv = cross_validate((configs, accuracies), space, settings.cv_folds, training, seed=settings.seed,
                        features=settings.predictor_features)
    (predictor_dir / "cross_validation.json").write_text(json.dumps(cv.to_dict(), indent=1) + "\n")
    spread, noise = float(np.std(accuracies)), evaluation_noise(accuracies, data.num_validation)
    logger.info("Predictor, %d-fold cross-validation over %d subnets: RMSE %.4f ± %.4f (mean baseline %.4f ± %.4f), "
                "Kendall tau %.3f ± %.3f; accuracies spread by %.4f, evaluation noise ±%.4f.", settings.cv_folds,
                len(accuracies), *cv.rmse, *cv.baseline_rmse, *cv.kendall_tau, spread, noise)
    predictor = AccuracyPredictor(space, seed=settings.seed, net_id=supernet.net_id,
                                  features=settings.predictor_features)
    predictor_report = predictor.fit((configs, accuracies), training)
    predictor.save(predictor_dir)
    (predictor_dir / "predictor_report.json").write_text(
        json.dumps(dataclasses.asdict(predictor_report), indent=1) + "\n"
    )
    seconds["predictor"] = time.perf_counter() - start
    logger.debug("Predictor: held-out RMSE %.4f (mean baseline %.4f), Kendall tau %.3f.", predictor_report.rmse,
                predictor_report.baseline_rmse, predictor_report.kendall_tau)

    start = time.perf_counter()
    shape = network_shape(supernet)
    host = HostLatency(supernet, host_dir, runs=settings.host_runs, quantize=settings.quantize)
    host_model = host.table_model(settings.host_points, settings.host_rounds, settings.seed,
                                  resolutions=host_table_resolutions(space))
    seconds["host_latency_table"] = time.perf_counter() - start
    start = time.perf_counter()
    budgets = demo_budgets(predictor, shape, space, host_model, settings.budget_quantiles,
                           NSGA2Config(n_generations=settings.nsga2_generations), settings.seed)
    seconds["budgets"] = time.perf_counter() - start
    for budget in budgets:
        logger.info("Budget %s", budget.describe())
    devices = [(b.device, b.budget) for b in budgets]
    warning = predictor_warning(cv)
    if warning:
        logger.warning(warning.replace("**", ""))

    summary = _summary_markdown(settings, data, cv, accuracies, spread, noise, budgets)
    start = time.perf_counter()
    report = specialize(
        supernet, predictor, devices, out, data=data, quantize=settings.quantize, host_model=host_model,
        host_runs=settings.host_runs, calibration_images=settings.calibration_images,
        evolution=EvolutionConfig(n_generations=settings.search_generations),
        nsga2=NSGA2Config(n_generations=settings.nsga2_generations), seed=settings.seed,
        title=f"OFA demo: {settings.net_id} on {settings.data}",
        extra={"settings": settings.to_dict(), "predictor": dataclasses.asdict(predictor_report),
               "predictor_cross_validation": cv.to_dict(), "predictor_beats_mean": warning is None,
               "predictor_warning": warning, "budgets": [b.to_dict() for b in budgets], "seconds": seconds,
               "summary_markdown": summary},
    )
    seconds["specialize"] = time.perf_counter() - start
    seconds["total"] = time.perf_counter() - total
    payload = json.loads(report.json_path.read_text())
    payload["seconds"] = seconds
    report.json_path.write_text(json.dumps(payload, indent=1) + "\n")
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    report.markdown_path.write_text(report.markdown_path.read_text() + f"Stage times: {timing}.\n")
    return DemoResult(out, weights, predictor_dir, predictor_report, cv, report, seconds)


def host_table_resolutions(space) -> list[int]:
    """The host table covers the largest resolution only (a third of the entries of the tiny preset's three), and
    the host budget is searched at it (`tools.specialize.covered_space`): the table's build stays short."""
    return [max(space.resolutions)]


def _convert_host_table_models(settings: DemoSettings, n_classes: int, host_dir: Path) -> None:
    """The second process of `_load_supernet` (its TensorFlow logs and converter dumps hidden by `call_quietly`):
    writes the `.tflite` files `HostLatency.table_model` times, from a random-weight supernet of the same net id
    (float latency depends on shapes only; `tools.lut`)."""
    from .lut import convert_entry_models

    supernet = load_supernet(settings.net_id, n_classes=n_classes)
    convert_entry_models(supernet, HostLatency(supernet, host_dir).table_models_dir,
                         host_table_resolutions(supernet.search_space), calibrate=settings.host_points,
                         seed=settings.seed)


def predictor_warning(cv: CrossValidationReport) -> str | None:
    """The report's first lines when the predictor's cross-validated RMSE is not below the mean predictor's (None
    when it is): its predictions then say nothing about which subnet is more accurate."""
    (rmse, _), (base, _) = cv.rmse, cv.baseline_rmse
    if rmse < base:
        return None
    return (f"**The accuracy predictor does not beat the mean here**: its {len(cv.folds)}-fold cross-validated RMSE "
            f"is {100 * rmse:.2f} points, against {100 * base:.2f} for always predicting the mean top-1. Its "
            "predictions do not tell these subnets apart, so the searches below chose by the budgets more than by "
            "accuracy, and predicted top-1 is shown to whole points; the measured top-1 columns are the figures. "
            "More evaluated subnets (`--n-subnets`) or a longer training (`--epochs`) give it more to learn.")


def _summary_markdown(settings, data, cv: CrossValidationReport, accuracies, spread: float, noise: float,
                      budgets: list[DemoBudget]) -> str:
    (tau, tau_sd), (rmse, rmse_sd), (base, base_sd) = cv.kendall_tau, cv.rmse, cv.baseline_rmse
    return "\n".join([
        f"Supernet `{settings.net_id}` on `{settings.data}` ({data.num_train} training / {data.num_validation} "
        f"validation images, {data.num_classes} classes), recipe `{settings.recipe}`"
        + ("" if settings.label_ratio is None else f" with label_ratio {settings.label_ratio}")
        + f" ({settings.full_epochs} "
        f"epoch(s) of the full network, {settings.epochs} per later phase)"
        + (" (given weights, not trained here)." if settings.weights or settings.pretrained else "."),
        "",
        f"Accuracy predictor (`{settings.predictor_features}` features): {len(accuracies)} subnets evaluated after "
        f"BN recalibration (top-1 from "
        f"{100 * min(accuracies):.1f}% to {100 * max(accuracies):.1f}%); {len(cv.folds)}-fold cross-validation "
        f"over all of them: RMSE {100 * rmse:.2f} ± {100 * rmse_sd:.2f} points vs {100 * base:.2f} ± "
        f"{100 * base_sd:.2f} for always predicting the mean, Kendall tau {tau:.3f} ± {tau_sd:.3f}. The accuracies "
        f"spread by {100 * spread:.2f} points (standard deviation) where the evaluation itself is "
        f"uncertain by ±{100 * noise:.2f} (binomial standard error on {data.num_validation} images): the closer "
        "the two, the less any predictor can beat the mean.",
        "",
        "Budgets: " + " ".join(b.describe() for b in budgets),
    ])
