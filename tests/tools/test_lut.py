"""`android-bench lut`: latency tables of a tiny search space on the host and on a fake phone, resume, and the
repeatability checks (rounds that disagree are repeated; a table whose timings do not repeat is not written;
throttled rounds on phones).

How well a table predicts whole subnets is timing, so it lives in benchmarks/lut_accuracy.py, not here.
"""
import shutil

import numpy as np
import pytest
from bench_fakes import NOTE8
from bench_fakes import android_binary  # noqa: F401 (fixture)
from bench_fakes import fake_adb  # noqa: F401 (fixture)
from click.testing import CliRunner

from android_bench import BenchmarkOptions
from android_bench import SessionInterruptedError
from android_bench import HostInterpreterTarget
from android_bench import host_device
from android_bench import make_target
from android_bench.device import PROBE_COMMAND
from android_bench.device import cur_freq_command
from android_bench.rounds import RepeatPolicy
from android_bench.target import sha256_file
from ofa_tf.latency import OVERHEAD_KEY
from ofa_tf.latency import TABLE_FORMAT
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3
from ofa_tf.zoo import ofa_net
from tools.android_bench_cli import main
from tools.lut import LatencyTableOptions
from tools.lut import TableMismatchError
from tools.lut import UnstableTableError
from tools.lut import build_latency_table
from tools.lut import convert_to_tflite
from tools.lut import describe_checks
from tools.lut import model_filename
from tools.lut import partial_path

# 13 entries (block granularity, the default): overhead, stem, 5 stages x ks {3, 5}, head.
TINY = dict(n_classes=4, width_mult=0.5, ks_list=(3, 5), expand_list=(3,), depth_list=(1,), dropout_rate=0.0,
            first_stride=1, stage_strides=(1, 2, 2, 1, 2), resolutions=(32,))
FAST = BenchmarkOptions(warmup=3, runs=20)
# Host tables here check the mechanics, not the machine: sub-millisecond models on a loaded test machine
LOOSE = RepeatPolicy(tolerance=0.9, max_repeats=3)
STEM = "stem-input:32x32x3-output:32x32x8-conv:8-kernel:3"
PHONE_FLAGS = "--num_threads=1 --warmup_runs=10 --num_runs=50 --min_secs=0 --warmup_min_secs=0 --use_xnnpack=false"


@pytest.fixture(scope="module")
def tiny():
    return OFAMobileNetV3(**TINY)


@pytest.fixture(scope="module")
def models_dir(tiny, tmp_path_factory):
    """The 13 entry models, converted once for the whole module."""
    folder = tmp_path_factory.mktemp("lut_models")
    for layer in table_layers(tiny, granularity="block"):
        (folder / model_filename(layer.key)).write_bytes(convert_to_tflite(layer.build(tiny)))
    return folder


@pytest.fixture(scope="module")
def host():
    return HostInterpreterTarget(clock="thread_cpu")


@pytest.fixture(scope="module")
def host_table(tiny, models_dir, host, tmp_path_factory):
    out = tmp_path_factory.mktemp("host") / "host.yaml"
    return out, build_latency_table(tiny, out, host, options=FAST, work_dir=models_dir, db=None, repeat=LOOSE)


def test_host_table_has_every_entry_and_a_full_header(tiny, host_table):
    out, table = host_table
    assert list(table.entries) == [layer.key for layer in table_layers(tiny, granularity="block")]
    assert LatencyTable.load(out) == table
    header = table.header
    device = host_device()
    assert header["format"] == TABLE_FORMAT and header["resolutions"] == [32] and header["n_classes"] == 4
    assert (header["device_fingerprint"], header["serial"]) == (device.fingerprint, "host")
    assert header["tool_version"].startswith("ai_edge_litert ") and header["tool_version"].endswith("(thread_cpu clock)")
    assert header["flags"] == ("--num_threads=1 --warmup_runs=3 --num_runs=20 --min_secs=0 --warmup_min_secs=0 "
                               "--use_xnnpack=false taskset=none")
    assert header["taskset"] == "none" and header["runs"] == 20 and header["created"] <= header["updated"]
    check = header["repeatability"]
    # one round of all 13 entries, then a check round of a sample of 8 (CHECK_SAMPLE), repeats if they disagree
    assert (check["checked_entries"], check["checked_subnets"], check["entries"]) == (8, 0, 13)
    assert check["tolerance_pct"] == 90 and check["unstable"] == 0 and check["spread_pct"]["max"] <= 90
    assert [r["purpose"] for r in header["round_log"][:2]] == ["measure", "check"]
    assert [r["models"] for r in header["round_log"][:2]] == [13, 8]
    assert all(r["cpu_khz_before"] is None or r["cpu_khz_before"] for r in header["round_log"])
    counts = sorted(entry["count"] // 20 for entry in table.entries.values())
    assert counts[:5] == [1] * 5 and all(c >= 2 for c in counts[5:])  # 8 sampled entries: 2+ rounds each
    for key, entry in table.entries.items():
        assert entry["var"] >= 0, key
        assert 0 < entry["min"] <= entry["median"] and 0 < entry["mean"] < 1000, key
    assert not partial_path(out).exists() and "status" not in header


def test_interrupted_host_build_keeps_entries_and_rerun_measures_only_the_rest(tiny, models_dir, host, tmp_path):
    out = tmp_path / "t.json"
    seen = []

    class Stop(Exception):
        pass

    def stop_after_five(progress):
        seen.append(progress.key)
        if len(seen) == 5:
            raise Stop()

    with pytest.raises(Stop):
        build_latency_table(tiny, out, host, options=FAST, work_dir=models_dir, db=None, repeat=LOOSE,
                            on_progress=stop_after_five)
    # the table is written only when complete and checked; what was measured is kept beside it
    assert not out.exists()
    kept = LatencyTable.load(partial_path(out), partial=True).entries
    assert list(kept) == seen
    # a reader is told the file is an unfinished build
    with pytest.raises(ValueError, match=r"t.partial.json is an unfinished `android-bench lut` build .* rerun the same"):
        LatencyPredictor.from_files(partial_path(out), network_shape(tiny))
    rest = []
    table = build_latency_table(tiny, out, host, options=FAST, work_dir=models_dir, db=None, repeat=LOOSE,
                                on_progress=lambda p: rest.append((p.key, p.done, p.phase)))
    all_keys = [layer.key for layer in table_layers(tiny, granularity="block")]
    measured = [(key, done) for key, done, phase in rest if phase == "measure"]
    assert sorted(key for key, _ in measured) == sorted(set(all_keys) - set(seen))
    assert measured[-1][1] == len(all_keys)
    assert sorted(table.entries) == sorted(all_keys) and not partial_path(out).exists()
    # entries of the first run that the check did not sample are as they were; sampled ones gained a round
    assert all(table.entries[k] == kept[k] or table.entries[k]["count"] > kept[k]["count"] for k in seen)
    # Complete: nothing left to measure. Other flags: refused, naming the field.
    n_progress = len(rest)
    assert build_latency_table(tiny, out, host, options=FAST, work_dir=models_dir, db=None, repeat=LOOSE,
                               on_progress=rest.append) == table and len(rest) == n_progress
    with pytest.raises(TableMismatchError, match="flags=.*--num_runs=20.*--num_runs=7"):
        build_latency_table(tiny, out, host, options=BenchmarkOptions(warmup=3, runs=7), work_dir=models_dir,
                            db=None)


def test_table_options_and_keyword_overrides(tiny, models_dir, host, tmp_path):
    """`table_options` (a `LatencyTableOptions`) and the keywords that replace its fields reach the table's header;
    a bad field is refused naming it and what is allowed, before any model is converted or file written."""
    settings = LatencyTableOptions(statistic="median", rounds=2, repeat=LOOSE)
    table = build_latency_table(tiny, tmp_path / "t.yaml", host, table_options=settings, options=FAST,
                                work_dir=models_dir, db=None, statistic="mean")
    assert (table.header["statistic"], table.header["rounds"], table.header["granularity"]) == ("mean", 2, "block")
    assert LatencyTable.load(tmp_path / "t.yaml").header["statistic"] == "mean"
    assert LatencyTableOptions(resolutions=[32]).resolutions == (32,)
    work = tmp_path / "models"
    with pytest.raises(ValueError, match=r"^Unknown calibration method 'cubic': expected one of scale, linear\.$"):
        build_latency_table(tiny, tmp_path / "u.yaml", host, table_options=settings, calibration_method="cubic",
                            work_dir=work, db=None)
    with pytest.raises(ValueError, match=r"^Invalid rounds=0 or calibrate=0: expected rounds >= 1 and calibrate >= 0"):
        build_latency_table(tiny, tmp_path / "u.yaml", host, rounds=0, work_dir=work, db=None)
    with pytest.raises(ValueError, match=r"^Unknown granularity 'op': expected one of block, layer\.$"):
        LatencyTableOptions(granularity="op")
    with pytest.raises(TypeError, match="tolerance"):
        build_latency_table(tiny, tmp_path / "u.yaml", host, tolerance=0.1, work_dir=work, db=None)
    assert not work.exists() and not list(tmp_path.glob("u*"))


BIG_CORES = [4, 5, 6, 7]  # the Note8's taskset f0


def _rounds_of(calls: list[list[str]]) -> list[list[str]]:
    """The models benchmarked between consecutive frequency readings (one list per round)."""
    freq_read = ["-s", NOTE8, "shell", cur_freq_command(BIG_CORES)]
    rounds, current = [], None
    for call in calls:
        if call == freq_read:
            if current is None:
                current = []
            else:
                rounds.append(current)
                current = None
        elif current is not None and call[2:3] == ["push"] and "benchmark_model" not in call[3]:
            current.append(call[4].rsplit("/", 1)[1])
    return rounds


def test_phone_table_exact_commands_and_header(tiny, models_dir, fake_adb, android_binary, tmp_path):
    work = tmp_path / "models"
    shutil.copytree(models_dir, work)
    overhead_model = model_filename(OVERHEAD_KEY)
    fake_adb.set_bench(overhead_model, "bench_no_percentiles.txt", stream="stdout")
    table = build_latency_table(tiny, tmp_path / "note8.yaml", NOTE8, binary=android_binary, work_dir=work,
                                db=tmp_path / "r.sqlite")
    calls = fake_adb.calls()
    freq_read = ["-s", NOTE8, "shell", cur_freq_command(BIG_CORES)]
    setup = [["-s", NOTE8, "push", str(android_binary), "/data/local/tmp/benchmark_model"],
             ["-s", NOTE8, "shell", "chmod 755 /data/local/tmp/benchmark_model"]]
    teardown = ["-s", NOTE8, "shell", "rm -f /data/local/tmp/benchmark_model"]
    # each round: the big cores' frequency, the binary pushed, the models, the binary removed, the frequency
    assert calls[:5] == [["devices", "-l"], ["-s", NOTE8, "shell", PROBE_COMMAND], freq_read, *setup]
    assert calls[-2:] == [teardown, freq_read] and calls.count(freq_read) == 4 and calls.count(teardown) == 2
    names = {model_filename(layer.key) for layer in table_layers(tiny, granularity="block")}
    rounds = _rounds_of(calls)
    # one round of every entry, then a check round of 8 of them (the same transcript: they agree, no repeat)
    assert [len(r) for r in rounds] == [13, 8] and set(rounds[0]) == names and set(rounds[1]) < names
    for name in names:  # each model: pushed, run pinned to the big cores, removed
        push = ["-s", NOTE8, "push", str(work / name), f"/data/local/tmp/{name}"]
        run = ["-s", NOTE8, "shell",
               f"taskset f0 /data/local/tmp/benchmark_model --graph=/data/local/tmp/{name} {PHONE_FLAGS}"]
        i = calls.index(push)
        assert calls[i + 1: i + 3] == [run, ["-s", NOTE8, "shell", f"rm -f /data/local/tmp/{name}"]]
    header = table.header
    assert header["device"] == "SM-N950F" and header["serial"] == NOTE8
    assert header["device_fingerprint"].startswith("samsung/greatltexx/greatlte:9/")
    assert header["tool_version"] == f"sha256:{sha256_file(android_binary)}"
    assert header["flags"] == f"{PHONE_FLAGS} taskset=f0" and header["taskset"] == "f0"
    assert table.entries[STEM] == pytest.approx(
        {"mean": 31.9874, "count": 50 * (1 + (model_filename(STEM) in rounds[1])), "var": 0.612**2,
         "median": 31.839, "min": 31.388})
    assert table.entries[OVERHEAD_KEY]["min"] == pytest.approx(14.902)
    # the device hides its current frequency here: recorded as unknown
    assert [(r["cpu_khz_before"], r["cpu_khz_after"], r["throttled"]) for r in header["round_log"]] == [
        (None, None, False)] * 2
    assert header["repeatability"]["first_spread_pct"] == {"median": 0.0, "p95": 0.0, "max": 0.0}


def test_phone_disconnect_keeps_measured_entries_and_rerun_finishes(tiny, models_dir, fake_adb, android_binary,
                                                                    tmp_path):
    out = tmp_path / "note8.yaml"
    keys = [layer.key for layer in table_layers(tiny, granularity="block")]
    fake_adb.disconnect_on(model_filename(keys[7]))
    with pytest.raises(SessionInterruptedError):
        build_latency_table(tiny, out, NOTE8, binary=android_binary, work_dir=models_dir, db=None)
    before = _rounds_of(fake_adb.calls() + [["-s", NOTE8, "shell", cur_freq_command(BIG_CORES)]])[0]
    kept = list(LatencyTable.load(partial_path(out), partial=True).entries)
    assert [model_filename(k) for k in kept] == before[:-1] and not out.exists()  # all but the disconnected one
    fake_adb.disconnect_on(None)
    fake_adb.reconnect(NOTE8)
    fake_adb.clear_log()
    table = build_latency_table(tiny, out, NOTE8, binary=android_binary, work_dir=models_dir, db=None)
    pushed = [call[3] for call in fake_adb.calls() if call[2:3] == ["push"]]
    assert pushed[0] == str(android_binary)
    measure, check = _rounds_of(fake_adb.calls())
    assert sorted(measure) == sorted(model_filename(k) for k in keys if k not in kept)
    assert len(check) == 8 and sorted(table.entries) == sorted(keys) and not partial_path(out).exists()


def test_cli_completes_an_existing_table_and_names_bad_values(fake_adb, android_binary, tmp_path):
    net_id = "ofa_mbv3_small_d234_e346_k357_w0.5"
    net = ofa_net(net_id, n_classes=10, dropout_rate=0.0)
    device = make_target(NOTE8, android_binary).device
    options = BenchmarkOptions(threads=2, runs=30)
    header = {"format": TABLE_FORMAT, "net_id": net_id, "n_classes": 10, "device_fingerprint": device.fingerprint,
              "serial": NOTE8, "tool_version": f"sha256:{sha256_file(android_binary)}", "flags": options.key("f0"),
              "resolutions": [24], "granularity": "block", "created": "2026-01-01T00:00:00+00:00"}
    entries = {layer.key: {"mean": 1.0, "count": 30, "var": 0.0}
               for layer in table_layers(net, [24], granularity="block")}
    LatencyTable(header, entries).save(tmp_path / "t.yaml")
    args = ["lut", "--net", net_id, "--serial", NOTE8, "--binary", str(android_binary), "--n-classes", "10",
            "--calibrate", "0",
            "--threads", "2", "--runs", "30", "--out", str(tmp_path / "t.yaml"), "--db", str(tmp_path / "r.db")]
    result = CliRunner().invoke(main, args + ["--resolutions", "24"])
    assert result.exit_code == 0, result.output
    assert f"{len(entries)} entries for {net_id} on SM-N950F (resolutions [24])" in result.output
    table = LatencyTable.load(tmp_path / "t.yaml")
    assert table.entries == entries and table.header["created"] == "2026-01-01T00:00:00+00:00"
    assert not any(call[2:3] == ["push"] for call in fake_adb.calls())

    result = CliRunner().invoke(main, args + ["--resolutions", "24,64"])
    assert result.exit_code == 1 and "Invalid resolutions [64]" in result.output
    result = CliRunner().invoke(main, args + ["--resolutions", "24,x"])
    assert result.exit_code == 2 and "comma-separated integers" in result.output
    result = CliRunner().invoke(main, args[:-4] + ["--runs", "31", "--out", str(tmp_path / "t.yaml")])
    assert result.exit_code == 1 and "flags=" in result.output and "--num_runs=31" in result.output
    result = CliRunner().invoke(main, ["lut", "--net", "nope", "--serial", "host", "--out", str(tmp_path / "n.yaml")])
    assert result.exit_code == 1 and "Unknown net_id 'nope'" in result.output


def test_host_rounds_merge_and_calibration_on_whole_subnets(tiny, models_dir, host, tmp_path):
    out = tmp_path / "calibrated.yaml"
    table = build_latency_table(tiny, out, host, options=FAST, work_dir=models_dir, db=None, rounds=2,
                                calibrate=2, seed=3, repeat=LOOSE, calibration_method="scale")
    header = table.header
    assert (header["rounds"], header["statistic"], header["granularity"]) == (2, "min", "block")
    # after 2 rounds every entry is checked (none sampled out); a disagreeing one would have had another round
    assert all(entry["count"] % FAST.runs == 0 and entry["count"] >= 2 * FAST.runs
               for entry in table.entries.values())
    assert (header["repeatability"]["checked_entries"], header["repeatability"]["checked_subnets"]) == (13, 2)
    calibration = header["calibration"]
    subnets = calibration["subnets"]
    assert (calibration["method"], calibration["n_subnets"], len(subnets)) == ("scale", 2, 2)
    # a calibration subnet's figure is the median of its 2+ rounds, two of which agree within the tolerance
    for s in subnets:
        values = sorted(s["rounds_ms"])
        assert len(values) >= 2 and s["measured_ms"] == pytest.approx(np.median(values))
        assert any(b <= (1 + LOOSE.tolerance) * a for a, b in zip(values, values[1:]))
    ratios = [s["measured_ms"] / s["table_ms"] for s in subnets]
    assert calibration["scale"] == pytest.approx(np.median(ratios)) and calibration["offset_ms"] == 0.0
    # The file's predictor applies the calibration it holds to the overhead-corrected sum.
    predictor = LatencyPredictor.from_files(out, network_shape(tiny))
    configs = [SubnetConfig.from_dict(s["config"]) for s in subnets]
    table_ms = [s["table_ms"] for s in subnets]
    np.testing.assert_allclose(predictor.predict_uncalibrated(configs), table_ms)
    np.testing.assert_allclose(predictor.predict(configs), calibration["scale"] * np.array(table_ms))
    # Complete and calibrated: a rerun measures nothing.
    progress = []
    again = build_latency_table(tiny, out, host, options=FAST, work_dir=models_dir, db=None, rounds=2,
                                calibrate=2, seed=3, repeat=LOOSE, calibration_method="scale",
                                on_progress=progress.append)
    assert again.entries == table.entries and again.header["calibration"] == calibration and not progress


def test_phone_rounds_and_calibration_arithmetic(tiny, models_dir, fake_adb, android_binary, tmp_path):
    work = tmp_path / "models"
    shutil.copytree(models_dir, work)
    fake_adb.set_bench(model_filename(OVERHEAD_KEY), "bench_no_percentiles.txt", stream="stdout")
    table = build_latency_table(tiny, tmp_path / "note8.json", NOTE8, binary=android_binary, work_dir=work,
                                db=None, rounds=2, calibrate=1, seed=0)
    pushed = [call[3] for call in fake_adb.calls() if call[2:3] == ["push"] and "benchmark_model" not in call[3]]
    keys = [layer.key for layer in table_layers(tiny, granularity="block")]
    assert len(pushed) == 2 * (len(keys) + 1) and len(set(pushed)) == len(keys) + 1  # entries + 1 subnet, twice
    assert table.entries[STEM] == pytest.approx(
        {"mean": 31.9874, "count": 100, "var": 0.612**2, "median": 31.839, "min": 31.388})
    # Every model replays the same transcript (min 31.388 ms; overhead 14.902 ms), so a subnet of 7 entries
    # (stem, 5 blocks, head) sums to 14.902 + 7 x (31.388 - 14.902) ms and measures 31.388 ms whole.
    calibration = table.header["calibration"]
    (subnet,) = calibration["subnets"]
    assert subnet["table_ms"] == pytest.approx(14.902 + 7 * (31.388 - 14.902))
    assert subnet["measured_ms"] == pytest.approx(31.388)
    # one subnet: no line through it, a scale (the default, linear, needs two subnets of different latency)
    assert calibration["method"] == "scale" and calibration["scale"] == pytest.approx(31.388 / subnet["table_ms"])


def test_phone_linear_calibration_is_the_default(tiny, models_dir, fake_adb, android_binary, tmp_path):
    """Kernel-5 blocks replay a slower transcript (35.102 ms least run), so two calibration subnets sum to different
    table figures while both measure 31.388 ms whole: the least-squares line through them has a negative slope, so
    the fit goes through the origin (offset 0, never a negative latency)."""
    for layer in table_layers(tiny, granularity="block"):
        if layer.kernel_size == 5:
            fake_adb.set_bench(model_filename(layer.key), "bench_current_percentiles_slower.txt")
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, calibrate=2, seed=1)
    calibration = table.header["calibration"]
    x = np.array([s["table_ms"] for s in calibration["subnets"]])
    y = np.array([s["measured_ms"] for s in calibration["subnets"]])
    assert x[0] != x[1] and y == pytest.approx([31.388, 31.388])
    assert calibration["method"] == "linear" and calibration["offset_ms"] == 0.0
    assert calibration["scale"] == pytest.approx(x @ y / (x @ x))


def test_host_latency_table_model_builds_a_calibrated_block_table(tiny, models_dir, tmp_path):
    from tools.measure import HostLatency

    host = HostLatency(tiny, tmp_path, warmup=1, runs=5, repeat=LOOSE)
    shutil.copytree(models_dir, tmp_path / "host_latency_table_models")  # entry models: converted once per module
    predictor = host.table_model(calibrate=1, rounds=1, seed=2)
    header = LatencyTable.load(tmp_path / "host_latency_table.yaml").header
    assert header["granularity"] == "block" and header["statistic"] == "min"
    assert header["tool_version"].endswith("(thread_cpu clock)") and header["calibration"]["n_subnets"] == 1
    assert predictor.granularity == "block" and predictor.calibration.n_subnets == 1
    rng = np.random.default_rng(0)
    configs = [tiny.search_space.sample(rng).with_resolution(32) for _ in range(5)]
    assert (predictor.predict(configs) > 0).all()


def test_entry_models_converted_ahead_from_a_random_weight_twin_are_reused(tiny, models_dir, tmp_path, monkeypatch):
    """`ofa-tf demo` converts the host table's models in a second process from a random-weight supernet of the same
    net while it trains; the trained supernet's table then only times them."""
    import tools.lut
    from tools.lut import convert_entry_models
    from tools.measure import HostLatency

    host = HostLatency(tiny, tmp_path, warmup=1, runs=5, repeat=LOOSE)
    shutil.copytree(models_dir, host.table_models_dir)
    for path in host.table_models_dir.glob("subnet_*"):  # calibration subnets other tests left in the module's folder
        path.unlink()
    missing = sorted(host.table_models_dir.iterdir())[:2]
    for path in missing:
        path.unlink()
    twin = OFAMobileNetV3(**TINY)  # other random weights, same shapes
    assert convert_entry_models(twin, host.table_models_dir, calibrate=1, seed=2) == 3  # 2 entries, 1 subnet
    assert all(path.is_file() for path in missing)
    assert convert_entry_models(twin, host.table_models_dir, calibrate=1, seed=2) == 0

    def no_conversion(path, model):
        raise AssertionError(f"converted {path} again")

    monkeypatch.setattr(tools.lut, "_write_model", no_conversion)
    predictor = host.table_model(calibrate=1, rounds=1, seed=2)
    assert predictor.calibration.n_subnets == 1


def _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, **kwargs):
    work = tmp_path / "models"
    if not work.exists():
        shutil.copytree(models_dir, work)
    fake_adb.set_bench(model_filename(OVERHEAD_KEY), "bench_no_percentiles.txt", stream="stdout")
    return build_latency_table(tiny, tmp_path / "note8.yaml", NOTE8, binary=android_binary, work_dir=work, db=None,
                               **kwargs)


def test_phone_disagreeing_rounds_are_repeated_and_the_spread_recorded(tiny, models_dir, fake_adb, android_binary,
                                                                       tmp_path):
    """A calibration subnet measures 31.388 ms, then 35.102 ms (11.8% apart: more than 5%), then 31.388 again:
    it gets a repeat round of its own, its figure is the median of its three rounds, and the header says so."""
    from tools.lut import _calibration_subnets
    from tools.lut import _subnet_model

    (config,) = _calibration_subnets(tiny, [32], 1, 0)
    subnet_model = _subnet_model(tiny, config)[0]
    fake_adb.set_bench_sequence(subnet_model, ["bench_current_percentiles.txt", "bench_current_percentiles_slower.txt",
                                               "bench_current_percentiles.txt"])
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, calibrate=1, seed=0)
    rounds = _rounds_of(fake_adb.calls())
    assert [len(r) for r in rounds] == [14, 9, 1] and rounds[2] == [subnet_model]
    assert [r["purpose"] for r in table.header["round_log"]] == ["measure", "check", "repeat"]
    (subnet,) = table.header["calibration"]["subnets"]
    assert subnet["rounds_ms"] == pytest.approx([31.388, 35.102, 31.388])
    assert subnet["measured_ms"] == pytest.approx(31.388)
    check = table.header["repeatability"]
    assert (check["checked_entries"], check["checked_subnets"], check["repeated"], check["unstable"]) == (8, 1, 1, 0)
    assert check["first_spread_pct"]["max"] == pytest.approx(100 * (35.102 / 31.388 - 1))
    assert check["spread_pct"]["max"] == 0.0 and check["tolerance_pct"] == 5


def test_phone_build_whose_timings_do_not_repeat_writes_no_table(tiny, models_dir, fake_adb, android_binary,
                                                                 tmp_path, monkeypatch):
    from tools.lut import _calibration_subnets
    from tools.lut import _subnet_model

    (config,) = _calibration_subnets(tiny, [32], 1, 0)
    subnet_model = _subnet_model(tiny, config)[0]
    # 31.388 ms, 35.102 ms, 39.502 ms: no two rounds within 5%
    fake_adb.set_bench_sequence(subnet_model, ["bench_current_percentiles.txt", "bench_current_percentiles_slower.txt",
                                               "bench_current_percentiles_slowest.txt"])
    with pytest.raises(UnstableTableError) as error:
        _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, calibrate=1, seed=0,
                     repeat=RepeatPolicy(tolerance=0.05, max_repeats=1))
    message = str(error.value)
    assert "\n" not in message and message.startswith("Timings did not repeat within 5%: after 1 repeat round, 1 of ")
    assert "(worst: subnet " in message and ", 31.39, 35.1, 39.5 ms, the closest 11.8% apart)" in message
    assert "note8.yaml was not written" in message
    out = tmp_path / "note8.yaml"
    kept = LatencyTable.load(partial_path(out), partial=True)
    assert not out.exists() and len(kept.entries) == 13 and kept.header["status"] == "partial"
    assert [r["purpose"] for r in kept.header["round_log"]] == ["measure", "check", "repeat"]

    def unstable(*args, **kwargs):
        raise UnstableTableError(message)

    # the command line: that one line, exit code 1
    import tools.android_bench_cli

    monkeypatch.setattr(tools.android_bench_cli, "build_latency_table", unstable)
    result = CliRunner().invoke(main, ["lut", "--net", "ofa_mbv3_tiny_d234_e346_k357_w0.5", "--serial", NOTE8,
                                       "--tolerance", "5", "--out", str(out)])
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
    result = CliRunner().invoke(main, ["lut", "--net", "n", "--serial", NOTE8, "--tolerance", "0", "--out", str(out)])
    assert result.exit_code == 2 and "--tolerance" in result.output and "0<x<100" in result.output


def test_phone_throttled_round_is_repeated_then_flagged(tiny, models_dir, fake_adb, android_binary, tmp_path):
    """The big cores read 2314 MHz before the first round and 1500 MHz after it (35% slower): that round is run
    again and its figures replaced. When the repeat is throttled too, it is kept and flagged."""
    full, hot = {c: 2314000 for c in BIG_CORES}, {c: 1500000 for c in BIG_CORES}
    fake_adb.set_cur_freqs(NOTE8, [full, hot, full, full])
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, repeat=RepeatPolicy(max_repeats=0))
    log = table.header["round_log"]
    assert [(r["purpose"].split(",")[0], r["models"], r["throttled"], r["replaced"]) for r in log] == [
        ("measure", 13, True, True), ("measure", 13, False, False), ("check", 8, False, False)]
    assert log[0]["cpu_khz_before"] == {f"cpu{c}": 2314000 for c in BIG_CORES}
    assert log[0]["cpu_khz_after"] == {f"cpu{c}": 1500000 for c in BIG_CORES}
    assert "round 1 was throttled" in log[1]["purpose"]
    counts = sorted(entry["count"] for entry in table.entries.values())  # the throttled round's figures dropped
    assert counts == [50] * 5 + [100] * 8
    lines = describe_checks(table.header)
    assert "round 1: measure, 13 models" in lines[1] and "2314/2314/2314/2314 MHz before, 1500/1500/1500/1500 after" \
        in lines[1] and lines[1].endswith("THROTTLED (replaced by the next round)")

    fake_adb.set_cur_freqs(NOTE8, [full, hot] * 4)  # every round ends throttled: kept, flagged
    (tmp_path / "note8.yaml").unlink()
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, repeat=RepeatPolicy(max_repeats=0))
    log = table.header["round_log"]
    # both rounds of every entry kept (so every entry has its 2 rounds, which agree: no check round), flagged
    assert [(r["models"], r["throttled"], r["replaced"]) for r in log] == [(13, True, False), (13, True, False)]
    assert all(entry["count"] == 100 for entry in table.entries.values())
    assert describe_checks(table.header)[1].endswith("THROTTLED (kept)")


def test_phone_sample_that_does_not_repeat_gives_every_entry_a_second_round(tiny, models_dir, fake_adb,
                                                                            android_binary, tmp_path):
    """With one round, 8 sampled entries are retimed; when more than 15% of them disagree (here every block and
    the stem/head: 31.388 ms, then 35.102 ms, then 31.388 ms again), the unsampled entries are as suspect: every
    entry gets a second round, and the disagreeing ones their repeat."""
    names = [model_filename(layer.key) for layer in table_layers(tiny, granularity="block")
             if layer.key != OVERHEAD_KEY]
    for name in names:
        fake_adb.set_bench_sequence(name, ["bench_current_percentiles.txt", "bench_current_percentiles_slower.txt",
                                           "bench_current_percentiles.txt"])
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path)
    log = table.header["round_log"]
    assert [(r["purpose"], r["models"]) for r in log] == [
        ("measure", 13), ("check", 8), ("measure: the sample did not repeat", 5), ("repeat", 12)]
    check = table.header["repeatability"]
    assert check["escalated"] and (check["checked_entries"], check["unstable"], check["repeated"]) == (13, 0, 12)
    assert all(table.entries[key]["min"] == pytest.approx(31.388) for key in table.entries if key != OVERHEAD_KEY)
    assert "every entry was timed twice" in describe_checks(table.header)[0]


def test_phone_one_sampled_entry_that_does_not_repeat_gives_every_entry_a_second_round(
        tiny, models_dir, fake_adb, android_binary, tmp_path):
    """One of the 8 sampled entries off (its retest 12% slower) is enough: the unsampled entries get their second
    round too (`ESCALATE`; at 2 of 14 off, a 15% threshold let through a table that missed its goal)."""
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path)  # which entries the seeded sample is
    sampled = sorted(key for key, entry in table.entries.items() if entry["count"] == 100 and key != OVERHEAD_KEY)
    assert sampled and not table.header["repeatability"]["escalated"]
    fake_adb.set_bench_sequence(model_filename(sampled[0]), ["bench_current_percentiles.txt",
                                                             "bench_current_percentiles_slower.txt",
                                                             "bench_current_percentiles.txt"])
    (tmp_path / "note8.yaml").unlink()
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path)
    log = table.header["round_log"]
    assert [(r["purpose"], r["models"]) for r in log] == [
        ("measure", 13), ("check", 8), ("measure: the sample did not repeat", 5), ("repeat", 1)]
    assert table.header["repeatability"]["escalated"]


def test_cli_prints_the_check_and_every_round(tiny, models_dir, fake_adb, android_binary, tmp_path, monkeypatch):
    import tools.android_bench_cli

    fake_adb.set_cur_freqs(NOTE8, [{c: 2314000 for c in BIG_CORES}])
    table = _phone_build(tiny, models_dir, fake_adb, android_binary, tmp_path, calibrate=1)
    monkeypatch.setattr(tools.android_bench_cli, "build_latency_table", lambda *args, **kwargs: table)
    result = CliRunner().invoke(main, ["lut", "--net", "ofa_mbv3_tiny_d234_e346_k357_w0.5", "--serial", NOTE8,
                                       "--out", str(tmp_path / "t.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("repeatability: 8 of 13 entries and 1 calibration subnets timed in 2+ rounds; a round against "
                        "its retest differed by 0.0% (median), 0.0% (max); after repeats (0 models) two rounds of each "
                        "agree within 0.0% (tolerance 5%)")
    assert lines[1].startswith("  round 1: measure, 14 models, ") and lines[1].endswith(
        " s, cores at 2314/2314/2314/2314 MHz before, 2314/2314/2314/2314 after")
    assert lines[2].startswith("  round 2: check, 9 models, ")
    assert lines[3].startswith("calibration: x") and lines[4].startswith(f"13 entries for {table.header['net_id']} on SM-N950F")
