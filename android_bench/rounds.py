"""Timing models in separated rounds until each one's figure repeats, with the CPU frequency around every round.

A figure that one measurement decides can be off by however much the device changed at that moment (another job,
a thermal step, the other core's load on a shared cache), and nothing in the figure shows it. So a model is timed
in at least two rounds, separated by other work, and trusted when they agree:

- A round benchmarks a list of models once each (`android_bench.session.benchmark`), in a shuffled order, so that
  a disturbance hits a random subset of the models rather than a run of related ones.
- A model's figure in a round is its `statistic` of the timed runs (least, median or mean). Two rounds agree when
  their figures differ by at most `RepeatPolicy.tolerance` of the smaller (or by the timer's resolution,
  `abs_tolerance_ms`). A model is stable when two of its rounds agree; its figure is the median of its rounds.
  The median, not the least: a machine whose speed drifts by a few percent over minutes (a shared VM) hands the
  least round to whichever models got the most rounds, and repeated models got more, which biased a table's
  calibration by 5% in one run (docs/latency_tables.md).
- `RepeatedRounds.check` gives every model a second round, then repeats only the models whose rounds disagree,
  up to `max_repeats` more rounds; what still disagrees is reported, and the caller refuses to use it.
- Before and after every round the current frequency of the cores the benchmark runs on is read where the device
  exposes it (`scaling_cur_freq`; phones over adb). A round after which a core runs more than
  `RepeatPolicy.freq_drop` slower than before is throttled: it is run once more and its figures replaced, or kept
  and flagged when the repeat is throttled too.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from android_bench.adb import AdbError
from android_bench.host_target import mask_to_cpus
from android_bench.options import BenchmarkOptions
from android_bench.result import Result
from android_bench.session import benchmark
from android_bench.store import ResultStore
from android_bench.store import now_iso
from android_bench.target import Target
from android_bench.target import resolve_taskset

logger = logging.getLogger(__name__)

STATISTIC_FIELDS = {"min": "min_us", "median": "p50_us", "mean": "avg_us"}


@dataclasses.dataclass(frozen=True)
class RepeatPolicy:
    """When two rounds agree, how often disagreeing models are repeated, and what counts as throttling.

    Args:
        tolerance: largest relative difference between two rounds' figures that counts as agreement.
        abs_tolerance_ms: a difference this small always agrees: the timers' resolution (`benchmark_model`
            prints whole microseconds), which is 5-20% of the 10-40 us pieces of the small presets.
        max_repeats: extra rounds for models whose rounds disagree (0: none).
        freq_drop: a round after which a core's current frequency is this fraction below its value before the
            round is throttled.
    """

    tolerance: float = 0.05
    max_repeats: int = 3
    freq_drop: float = 0.10
    abs_tolerance_ms: float = 0.002

    def __post_init__(self):
        if not 0 < self.tolerance < 1:
            raise ValueError(f"Invalid tolerance={self.tolerance!r}: expected a fraction in (0, 1), e.g. 0.05 for 5%.")
        if not 0 <= self.abs_tolerance_ms < float("inf"):
            raise ValueError(f"Invalid abs_tolerance_ms={self.abs_tolerance_ms!r}: expected a finite value >= 0.")
        if not isinstance(self.max_repeats, int) or self.max_repeats < 0:
            raise ValueError(f"Invalid max_repeats={self.max_repeats!r}: expected an integer >= 0.")
        if not 0 < self.freq_drop < 1:
            raise ValueError(f"Invalid freq_drop={self.freq_drop!r}: expected a fraction in (0, 1).")


@dataclasses.dataclass
class RoundRecord:
    """One round: why it ran, how many models, when and how long, the cores' frequencies (kHz) around it."""

    index: int
    purpose: str
    models: int
    started: str
    seconds: float
    cpu_khz_before: dict[int, int] | None
    cpu_khz_after: dict[int, int] | None
    throttled: bool = False
    replaced: bool = False  # a throttled round whose figures the next round replaced

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for key in ("cpu_khz_before", "cpu_khz_after"):  # YAML/JSON keys: "cpu4"
            data[key] = None if data[key] is None else {f"cpu{cpu}": khz for cpu, khz in sorted(data[key].items())}
        return data


def frequency_dropped(before: dict[int, int] | None, after: dict[int, int] | None, drop: float) -> bool:
    """Whether a core read both times runs more than `drop` slower after a round than before it."""
    if not before or not after:
        return False
    return any(after[cpu] < (1 - drop) * before[cpu] for cpu in before.keys() & after.keys() if before[cpu] > 0)


def relative_spread(a: float, b: float) -> float:
    """|a - b| relative to the smaller of the two."""
    return abs(a - b) / min(a, b)


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not len(values):
        return None
    v = 100 * np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": float(v.max())}


class RepeatedRounds:
    """Rounds of measurements of models (paths) on one target, their figures per round, and the checks above.

    Args:
        target: a ready target (`android_bench.make_target`).
        options: benchmark settings.
        policy: agreement tolerance, repeats, throttling threshold.
        statistic: 'min', 'median' or 'mean' of each round's timed runs.
        db: results store (as `benchmark`'s).
        seed: seed of the rounds' shuffled orders.
        on_result: called with every result and the purpose of its round.
    """

    def __init__(self, target: Target, options: BenchmarkOptions, policy: RepeatPolicy | None = None,
                 statistic: str = "min", *, db: str | Path | ResultStore | None = None, seed: int = 0,
                 on_result: Callable[[Result, str], None] | None = None):
        if statistic not in STATISTIC_FIELDS:
            raise ValueError(f"Unknown statistic {statistic!r}: expected one of {', '.join(STATISTIC_FIELDS)}.")
        self.target = target
        self.options = options
        self.policy = policy or RepeatPolicy()
        self.statistic = statistic
        self.db = db
        self.rng = np.random.default_rng(seed)
        self.on_result = on_result
        self.rounds: list[RoundRecord] = []
        self.results: dict[str, list[tuple[int, Result]]] = {}
        self.prior: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        taskset = resolve_taskset(target, options)
        self.cores = sorted(mask_to_cpus(taskset)) if taskset else list(target.device.cpu.big_cores)

    # === rounds ===

    def run_round(self, models: Sequence[str | Path], purpose: str = "measure") -> RoundRecord:
        """Benchmarks `models` once each in a shuffled order; a throttled round is run once more (see module)."""
        record = self._round(models, purpose)
        if record.throttled:
            logger.warning("Round %d (%s) was throttled: the cores ran at %s kHz after it, %s before; repeating it.",
                           record.index + 1, purpose, record.cpu_khz_after, record.cpu_khz_before)
            again = self._round(models, f"{purpose}, repeated: round {record.index + 1} was throttled")
            if not again.throttled:
                record.replaced = True
                for path in self.results:
                    self.results[path] = [(i, r) for i, r in self.results[path] if i != record.index]
        return record

    def _round(self, models, purpose: str) -> RoundRecord:
        models = [str(Path(m).resolve()) for m in models]
        order = [models[i] for i in self.rng.permutation(len(models))]
        index = len(self.rounds)

        def record_result(result: Result) -> None:
            if result.ok and self._value(result) is not None:
                self.results.setdefault(result.model_path, []).append((index, result))
            else:
                self.failed[result.model_path] = result.error or f"no {self.statistic} timing"
            if self.on_result is not None:
                self.on_result(result, purpose)

        before, started, tick = self._freqs(), now_iso(), time.perf_counter()
        if order:
            benchmark(order, self.target, options=self.options, db=self.db, on_result=record_result)
        after = self._freqs()
        record = RoundRecord(index, purpose, len(order), started, time.perf_counter() - tick, before, after,
                             frequency_dropped(before, after, self.policy.freq_drop))
        self.rounds.append(record)
        return record

    def _freqs(self) -> dict[int, int] | None:
        read = getattr(self.target, "cpu_freqs_khz", None)
        if read is None or not self.cores:
            return None
        try:
            return read(self.cores) or None
        except (AdbError, OSError) as exc:  # a disconnect shows in the next round's benchmark
            logger.debug("could not read the CPU frequency: %s", exc)
            return None

    def check(self, models: Sequence[str | Path]) -> list[str]:
        """Gives each of `models` (but failed ones) a second round, then repeats those with no two agreeing rounds,
        up to `policy.max_repeats` more rounds. Returns the models that still disagree."""
        models = [str(Path(m).resolve()) for m in models]
        once = [m for m in models if m not in self.failed and len(self.figures(m)) < 2]
        if once:
            self.run_round(once, "check")
        for _ in range(self.policy.max_repeats):
            disagree = self.unstable(models)
            if not disagree:
                break
            self.run_round(disagree, "repeat")
        return self.unstable(models)

    # === figures ===

    def _value(self, result: Result) -> float | None:
        value = getattr(result, STATISTIC_FIELDS[self.statistic])
        return None if value is None else value / 1000.0

    def add_prior(self, model: str | Path, figure_ms: float) -> None:
        """A figure of `model` measured earlier (e.g. a stored table entry); it counts as its first round."""
        self.prior[str(Path(model).resolve())] = float(figure_ms)

    def figures(self, model: str | Path) -> list[float]:
        """`model`'s figure (ms) in each of its rounds, a prior figure first."""
        model = str(Path(model).resolve())
        prior = [self.prior[model]] if model in self.prior else []
        return prior + [self._value(r) for _, r in self.results.get(model, [])]

    def measured(self, model: str | Path) -> list[Result]:
        """The results of `model`'s rounds (without replaced throttled rounds)."""
        return [r for _, r in self.results.get(str(Path(model).resolve()), [])]

    def spread(self, model: str | Path) -> float | None:
        """Relative difference of `model`'s two closest rounds (None with fewer than two)."""
        values = sorted(self.figures(model))
        if len(values) < 2:
            return None
        return min(relative_spread(a, b) for a, b in zip(values, values[1:]))

    def first_spread(self, model: str | Path) -> float | None:
        """Relative difference of `model`'s first two rounds: one measurement against its retest."""
        values = self.figures(model)
        return relative_spread(values[0], values[1]) if len(values) >= 2 else None

    def repeated(self, model: str | Path) -> bool:
        """Whether `model` needed a repeat round (its rounds disagreed)."""
        repeats = {r.index for r in self.rounds if r.purpose.startswith("repeat")}
        return any(i in repeats for i, _ in self.results.get(str(Path(model).resolve()), []))

    def agree(self, a: float, b: float) -> bool:
        """Whether two rounds' figures (ms) agree: within the relative or the absolute tolerance."""
        return abs(a - b) <= self.policy.abs_tolerance_ms or relative_spread(a, b) <= self.policy.tolerance

    def stable(self, model: str | Path) -> bool:
        """Whether two of `model`'s rounds agree."""
        values = sorted(self.figures(model))
        return any(self.agree(a, b) for a, b in zip(values, values[1:]))

    def first_agree(self, model: str | Path) -> bool | None:
        """Whether `model`'s first round agrees with its retest (None with fewer than two rounds)."""
        values = self.figures(model)
        return self.agree(values[0], values[1]) if len(values) >= 2 else None

    def unstable(self, models: Sequence[str | Path]) -> list[str]:
        return [str(Path(m).resolve()) for m in models
                if str(Path(m).resolve()) not in self.failed and not self.stable(m)]

    def figure(self, model: str | Path) -> float:
        """`model`'s figure (ms): the median of its rounds' figures."""
        values = self.figures(model)
        if not values:
            raise ValueError(f"{model} has no {self.statistic!r} timing.")
        return float(np.median(values))

    def summary(self, models: Sequence[str | Path]) -> dict:
        """What the checks of `models` achieved: spreads in percent (first: a round against its retest; achieved:
        the two closest rounds), how many needed a repeat round, how many still disagree."""
        models = [str(Path(m).resolve()) for m in models if str(Path(m).resolve()) not in self.failed]
        first = [s for s in map(self.first_spread, models) if s is not None]
        achieved = [s for s in map(self.spread, models) if s is not None]
        return {
            "tolerance_pct": 100 * self.policy.tolerance,
            "abs_tolerance_ms": self.policy.abs_tolerance_ms,
            "statistic": self.statistic,
            "max_repeats": self.policy.max_repeats,
            "checked": len(models),
            "repeated": sum(map(self.repeated, models)),
            "unstable": len(self.unstable(models)),
            "first_spread_pct": _percentiles(first),
            "spread_pct": _percentiles(achieved),
        }

    def round_log(self) -> list[dict]:
        return [r.to_dict() for r in self.rounds]
