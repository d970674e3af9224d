"""How well latency tables predict whole subnets on the host (nn-Meter's bar: 99% within ±10%), on held-out subnets.

Protocol, per `--resolution`:
1. Builds a host table of `--net` with `tools.lut.build_latency_table` (what `android-bench lut` runs): granularity
   `block` (stem, whole MBConv blocks, head: what the interpreter runs back to back), `--rounds` rounds of `--runs`
   timed runs per entry in a shuffled order, statistic `min`, and a calibration on `--calibrate` measured random
   whole subnets (seed `--seed + 1000`). The build checks its own repeatability (`android_bench.rounds`: every
   calibration subnet and a sample of entries in 2+ rounds, disagreeing ones repeated, `--tolerance`); a build
   that cannot repeat its timings ends the benchmark with that one line. With `--layer-table`, also the
   reference's per-layer table (same settings, no calibration).
2. Samples `--subnets` other random subnets (seed `--seed`), converts each to float32 `.tflite` (cached in
   `--work-dir`) and times them whole the same way: `--rounds` rounds, then each subnet's second round and repeats
   until two of its rounds agree; a subnet's figure is the median of its rounds. The first two rounds of each
   subnet give the test-retest spread: how far one measurement of a whole subnet moves when it is taken again, the
   floor no predictor can beat on this machine. On a host shared with other jobs, pre-emption only ever adds time,
   so `--clock thread_cpu` (the default; one thread) counts the CPU time of the invoking thread; one extra
   wall-clock round is reported beside it.
3. Compares every predictor with the measured figures on those held-out subnets; the table build never saw them.

Prints, per predictor, the fraction within ±10% and ±5%, mean absolute and signed error, the test-retest spread
next to them, and a verdict on the recommended predictor (block table with its own calibration, linear by
default, as `android-bench lut` and `ofa-tf specialize` build it): at least 95% of the held-out subnets within ±10%, or 99% where the test-retest spread (95th
percentile) is under 3%. Writes `accuracy.json` with the `recommended` entry, `test_retest` and `verdict`.
TensorFlow's start-up lines are hidden unless `--verbose`.

    python benchmarks/lut_accuracy.py --resolution 128 --subnets 30 --calibrate 5 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from android_bench.cli_support import import_tensorflow
from android_bench.cli_support import native_output_silenced

RECOMMENDED = "block table + linear calibration"
GOAL_WITHIN_10PCT = 0.95
GOAL_WITHIN_10PCT_PRECISE = 0.99
PRECISE_SPREAD_PCT = 3.0
"""The goal (issue 26): 95% of held-out subnets within ±10%, 99% where whole subnets repeat within 3% (95th
percentile of the test-retest spread)."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="ofa_mbv3_d234_e346_k357_w1.0")
    parser.add_argument("--resolution", type=int, nargs="+", default=[128])
    parser.add_argument("--subnets", type=int, default=30, help="Held-out random subnets per resolution.")
    parser.add_argument("--calibrate", type=int, default=5, help="Measured whole subnets for the calibration.")
    parser.add_argument("--runs", type=int, default=30, help="Timed runs per entry and per subnet, per round.")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--delegate", default="cpu", choices=("cpu", "xnnpack"))
    parser.add_argument("--clock", default="thread_cpu", choices=("thread_cpu", "wall"),
                        help="How the host times an invoke: CPU time of the (single) invoking thread, or wall time.")
    parser.add_argument("--layer-table", action="store_true", help="Also build and judge the per-layer table.")
    parser.add_argument("--tolerance", type=float, default=5.0,
                        help="Percent two rounds of a model may differ by and agree (table build and held-out).")
    parser.add_argument("--max-repeats", type=int, default=3, help="Extra rounds for models whose rounds disagree.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", default="/tmp/ofa_tf_lut_accuracy")
    parser.add_argument("-v", "--verbose", action="store_true", help="Show TensorFlow's start-up and converter logs.")
    return parser.parse_args(argv)


def error_stats(predicted, measured) -> dict:
    predicted, measured = np.asarray(predicted, np.float64), np.asarray(measured, np.float64)
    rel = (predicted - measured) / measured
    return {
        "within_10pct": float(np.mean(np.abs(rel) <= 0.10)),
        "within_5pct": float(np.mean(np.abs(rel) <= 0.05)),
        "mean_abs_error_pct": float(100 * np.mean(np.abs(rel))),
        "mean_error_pct": float(100 * np.mean(rel)),
        "max_abs_error_pct": float(100 * np.max(np.abs(rel))),
        "n": int(len(rel)),
    }


def measure_whole(paths, target, options, rounds: int, policy, seed: int):
    """Each model's figure (ms): the median of its rounds, after `rounds` rounds, a second one for every model and
    repeats until two of its rounds agree (`android_bench.rounds`). Returns the figures and the rounds."""
    from android_bench.rounds import RepeatedRounds

    engine = RepeatedRounds(target, options, policy, "min", db=None, seed=seed)
    for _ in range(rounds):
        engine.run_round(paths, "measure")
    unstable = engine.check(paths)
    if engine.failed:
        path, error = next(iter(engine.failed.items()))
        raise RuntimeError(f"{len(engine.failed)} subnet(s) failed: {path}: {error}")
    return np.array([engine.figure(p) for p in paths]), engine, unstable


def wall_round(paths, options) -> np.ndarray:
    """One wall-clock round (least run of each model, ms)."""
    from android_bench import benchmark

    return np.array([r.min_us / 1000.0 for r in benchmark(paths, "host", options=options, db=None)])


def test_retest(engine, paths) -> dict:
    """How far one measurement of a whole subnet (one round) moves when it is taken again (its second round)."""
    spreads = np.array([engine.first_spread(p) for p in paths], np.float64) * 100
    return {"median_pct": float(np.median(spreads)), "p95_pct": float(np.percentile(spreads, 95)),
            "max_pct": float(spreads.max()), "n": int(len(spreads)),
            "repeated": int(sum(map(engine.repeated, paths)))}


def verdict(within_10pct: float, spread: dict) -> dict:
    """The goal: `GOAL_WITHIN_10PCT`, or `GOAL_WITHIN_10PCT_PRECISE` where subnets repeat within
    `PRECISE_SPREAD_PCT` (95th percentile)."""
    precise = spread["p95_pct"] < PRECISE_SPREAD_PCT
    goal = GOAL_WITHIN_10PCT_PRECISE if precise else GOAL_WITHIN_10PCT
    met = within_10pct >= goal
    return {"goal_within_10pct": goal, "within_10pct": within_10pct, "met": met,
            "text": f"{'MET' if met else 'NOT MET'}: {100 * within_10pct:.0f}% of the held-out subnets within ±10% "
                    f"(goal {100 * goal:.0f}%, as whole subnets repeat within {spread['p95_pct']:.1f}% (95th "
                    f"percentile), {'under' if precise else 'not under'} {PRECISE_SPREAD_PCT:g}%)"}


def one_resolution(args, net, r: int, options, work: Path, target, policy) -> dict:
    from ofa_tf_tools.lut import build_latency_table
    from ofa_tf_tools.lut import convert_to_tflite
    from ofa_tf_tools.lut import describe_checks
    from ofa_tf_tools.lut import partial_path
    from ofa_tf.latency import Calibration
    from ofa_tf.latency import LatencyPredictor
    from ofa_tf.latency import network_shape
    from ofa_tf.families.mobilenet_v3.materialize import materialize
    from ofa_tf.nas import MacsLatencyModel
    from ofa_tf.families.mbconv.config import SubnetConfig

    shape = network_shape(net)
    tables = {}
    for granularity in ("block", "layer") if args.layer_table else ("block",):
        path = work / f"{args.net}_host_r{r}_{granularity}.yaml"
        path.unlink(missing_ok=True)
        partial_path(path).unlink(missing_ok=True)
        tick = time.time()
        with native_output_silenced(not args.verbose):  # the converter's logs
            tables[granularity] = build_latency_table(
                net, path, target, resolutions=[r], options=options, db=None, granularity=granularity,
                rounds=args.rounds, calibrate=args.calibrate if granularity == "block" else 0, seed=args.seed + 1000,
                repeat=policy, work_dir=work / f"{args.net}_r{r}_{granularity}_models")
        seconds = time.time() - tick
        tables[granularity].header["build_seconds"] = seconds
        print(f"r={r}: {granularity} table, {len(tables[granularity].entries)} entries, built in {seconds:.0f}s "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
        for line in describe_checks(tables[granularity].header):
            print(f"  {line}", flush=True)

    rng = np.random.default_rng(args.seed)
    configs, paths = [], []
    for i in range(args.subnets):
        config = net.search_space.sample(rng).with_resolution(r)
        path = work / f"heldout_{args.seed}_{i:03d}_r{r}.tflite"
        meta = path.with_suffix(".json")
        if not (path.is_file() and meta.is_file() and SubnetConfig.load(meta) == config):
            with native_output_silenced(not args.verbose):
                path.write_bytes(convert_to_tflite(materialize(net, config, r, batch_size=1)))
            config.save(meta)
        configs.append(config)
        paths.append(path)
    tick = time.time()
    measured, engine, unstable = measure_whole(paths, target, options, args.rounds, policy, args.seed)
    wall = wall_round(paths, options) if args.clock != "wall" else measured
    spread = test_retest(engine, paths)
    print(f"r={r}: {len(paths)} held-out subnets measured in {time.time() - tick:.0f}s ({len(engine.rounds)} rounds, "
          f"{spread['repeated']} subnets repeated, {len(unstable)} still disagreeing)", flush=True)

    block = tables["block"]
    calibration = block.header["calibration"]
    cal_configs = [SubnetConfig.from_dict(s["config"]) for s in calibration["subnets"]]
    cal_ms = [s["measured_ms"] for s in calibration["subnets"]]
    uncalibrated = LatencyPredictor(block, shape, calibration=False)
    predictors = {
        "block table, plain sum": uncalibrated.predict_sum(configs),
        "block table, sum - overhead": uncalibrated.predict(configs),
        RECOMMENDED: LatencyPredictor(block, shape).predict(configs),  # the table's own calibration
        "block table + scale calibration": uncalibrated.calibrated(cal_configs, cal_ms, "scale").predict(configs),
        "MACs, line fit on the calibration subnets": MacsLatencyModel.fit(shape, cal_configs, cal_ms).predict(configs),
    }
    if "layer" in tables:
        layer = LatencyPredictor(tables["layer"], shape, calibration=False)
        predictors["layer table, plain sum (reference)"] = layer.predict_sum(configs)
        predictors["layer table, sum - overhead"] = layer.predict(configs)
        predictors["layer table + scale calibration"] = layer.calibrated(cal_configs, cal_ms).predict(configs)
    stats = {name: error_stats(values, measured) for name, values in predictors.items()}
    recommended = {"name": RECOMMENDED, **{k: stats[RECOMMENDED][k] for k in ("within_10pct", "within_5pct", "n")},
                   "calibration_subnets": int(calibration["n_subnets"])}
    return {
        "resolution": r,
        "recommended": recommended,
        "test_retest": spread,
        "heldout_unstable": len(unstable),
        "heldout_rounds": engine.round_log(),
        "table_repeatability": block.header.get("repeatability"),
        "predictors": stats,
        "calibration": {k: v for k, v in calibration.items()},
        "tables": {g: {"entries": len(t.entries), "build_seconds": t.header["build_seconds"],
                       "overhead_ms": t.entries.get("Overhead-input:1x1x1-output:1x1x1", {}).get("min")}
                   for g, t in tables.items()},
        "measured_ms": {"min": float(measured.min()), "median": float(np.median(measured)),
                        "max": float(measured.max())},
        "wall_over_measured_median": float(np.median(wall / measured)),
        "per_subnet": [{"config": c.to_dict(), "measured_ms": float(m), "rounds_ms": engine.figures(paths[i]),
                        "wall_ms": float(wall[i]), **{name: float(v[i]) for name, v in predictors.items()}}
                       for i, (c, m) in enumerate(zip(configs, measured))],
    }, Calibration.from_dict(calibration)


def main(argv=None) -> int:
    args = parse_args(argv)
    import_tensorflow(args.verbose)  # TensorFlow's start-up lines (oneDNN, cuInit) bypass every log level
    import ofa_tf
    from android_bench import BenchmarkOptions
    from android_bench import HostInterpreterTarget
    from android_bench.rounds import RepeatPolicy
    from ofa_tf_tools.lut import UnstableTableError

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    options = BenchmarkOptions(threads=args.threads, delegate=args.delegate, warmup=args.warmup, runs=args.runs)
    try:
        net = ofa_tf.ofa_net(args.net, dropout_rate=0.0)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    start = time.time()
    load_before = os.getloadavg()
    target = HostInterpreterTarget(clock=args.clock)
    policy = RepeatPolicy(tolerance=args.tolerance / 100, max_repeats=args.max_repeats)
    results = []
    for r in args.resolution:
        try:
            result, calibration = one_resolution(args, net, r, options, work, target, policy)
        except UnstableTableError as exc:
            print(f"r={r}: {exc}", file=sys.stderr)
            return 1
        results.append(result)
        print(f"\n{args.net} at r={r}, host ({args.clock} clock), statistic min, {args.rounds} rounds x {args.runs} runs; "
              f"one wall-clock round gives {result['wall_over_measured_median']:.2f}x these figures (median); calibration "
              f"({calibration.method}) x{calibration.scale:.3f} + {calibration.offset_ms:.3f} ms on "
              f"{calibration.n_subnets} subnets; held-out subnets "
              f"{result['measured_ms']['min']:.2f}-{result['measured_ms']['max']:.2f} ms")
        print(f"{'predictor':<44}{'n':>4}{'±10%':>8}{'±5%':>8}{'MAE%':>8}{'bias%':>8}{'max%':>8}")
        for name, s in result["predictors"].items():
            print(f"{name:<44}{s['n']:>4}{100 * s['within_10pct']:>7.0f}%{100 * s['within_5pct']:>7.0f}%"
                  f"{s['mean_abs_error_pct']:>8.1f}{s['mean_error_pct']:>+8.1f}{s['max_abs_error_pct']:>8.1f}")
        spread = result["test_retest"]
        print(f"{'test-retest of one whole-subnet measurement':<44}{spread['n']:>4}{'':>16}"
              f"{spread['median_pct']:>8.1f}{'':>8}{spread['max_pct']:>8.1f}   (MAE% column: median; p95 "
              f"{spread['p95_pct']:.1f}%)")
    held = [r["recommended"] for r in results]
    n = sum(h["n"] for h in held)
    spread_all = {"median_pct": float(np.median([r["test_retest"]["median_pct"] for r in results])),
                  "p95_pct": float(max(r["test_retest"]["p95_pct"] for r in results))}  # the worst resolution
    report = {
        "net": args.net, "resolutions": args.resolution, "subnets": args.subnets, "rounds": args.rounds,
        "runs": args.runs, "warmup": args.warmup, "threads": args.threads, "statistic": "min", "seed": args.seed,
        "clock": args.clock,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "recommended": {
            "name": RECOMMENDED,
            "within_10pct": sum(h["within_10pct"] * h["n"] for h in held) / n,
            "within_5pct": sum(h["within_5pct"] * h["n"] for h in held) / n,
            "n": n,
            "calibration_subnets": max(h["calibration_subnets"] for h in held),
        },
        "per_resolution": results,
    }
    report["test_retest"] = spread_all
    report["verdict"] = verdict(report["recommended"]["within_10pct"], spread_all)
    out = work / "accuracy.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nrecommended ({RECOMMENDED}): {100 * report['recommended']['within_10pct']:.0f}% within ±10%, "
          f"{100 * report['recommended']['within_5pct']:.0f}% within ±5% of {n} held-out subnets; "
          f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"verdict: {report['verdict']['text']}")
    print(f"wrote {out} (total {time.time() - start:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
