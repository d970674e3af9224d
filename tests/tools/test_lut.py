"""`android-bench lut`: latency tables of a tiny search space on the host and on a fake phone, resume.

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
from android_bench import host_device
from android_bench import make_target
from android_bench.device import PROBE_COMMAND
from android_bench.target import sha256_file
from ofa_tf.latency import OVERHEAD_KEY
from ofa_tf.latency import TABLE_FORMAT
from ofa_tf.latency import LatencyPredictor
from ofa_tf.latency import LatencyTable
from ofa_tf.latency import network_shape
from ofa_tf.latency import table_layers
from ofa_tf.subnet_config import SubnetConfig
from ofa_tf.supernet import OFAMobileNetV3
from ofa_tf.zoo import ofa_net
from tools.android_bench_cli import main
from tools.lut import TableMismatchError
from tools.lut import build_latency_table
from tools.lut import convert_to_tflite
from tools.lut import model_filename

# 13 entries (block granularity, the default): overhead, stem, 5 stages x ks {3, 5}, head.
TINY = dict(n_classes=4, width_mult=0.5, ks_list=(3, 5), expand_list=(3,), depth_list=(1,), dropout_rate=0.0,
            first_stride=1, stage_strides=(1, 2, 2, 1, 2), resolutions=(32,))
FAST = BenchmarkOptions(warmup=3, runs=20)
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
def host_table(tiny, models_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("host") / "host.yaml"
    return out, build_latency_table(tiny, out, "host", options=FAST, work_dir=models_dir, db=None)


def test_host_table_has_every_entry_and_a_full_header(tiny, host_table):
    out, table = host_table
    assert list(table.entries) == [layer.key for layer in table_layers(tiny, granularity="block")]
    assert LatencyTable.load(out) == table
    header = table.header
    device = host_device()
    assert header["format"] == TABLE_FORMAT and header["resolutions"] == [32] and header["n_classes"] == 4
    assert (header["device_fingerprint"], header["serial"]) == (device.fingerprint, "host")
    assert header["tool_version"].startswith("ai_edge_litert ")
    assert header["flags"] == ("--num_threads=1 --warmup_runs=3 --num_runs=20 --min_secs=0 --warmup_min_secs=0 "
                               "--use_xnnpack=false taskset=none")
    assert header["taskset"] == "none" and header["runs"] == 20 and header["created"] <= header["updated"]
    for key, entry in table.entries.items():
        assert entry["count"] == 20 and entry["var"] >= 0, key
        assert 0 < entry["min"] <= entry["median"] and 0 < entry["mean"] < 1000, key


def test_interrupted_host_build_keeps_entries_and_rerun_measures_only_the_rest(tiny, models_dir, tmp_path):
    out = tmp_path / "t.json"
    seen = []

    class Stop(Exception):
        pass

    def stop_after_five(progress):
        seen.append(progress.key)
        if len(seen) == 5:
            raise Stop()

    with pytest.raises(Stop):
        build_latency_table(tiny, out, "host", options=FAST, work_dir=models_dir, db=None, on_progress=stop_after_five)
    kept = LatencyTable.load(out).entries
    assert list(kept) == seen
    rest = []
    table = build_latency_table(tiny, out, "host", options=FAST, work_dir=models_dir, db=None,
                                on_progress=lambda p: rest.append((p.key, p.done)))
    all_keys = [layer.key for layer in table_layers(tiny, granularity="block")]
    assert [key for key, _ in rest] == all_keys[5:] and rest[-1][1] == len(all_keys)
    assert list(table.entries) == all_keys and all(table.entries[k] == kept[k] for k in seen)
    # Complete: nothing left to measure. Other flags: refused, naming the field.
    assert build_latency_table(tiny, out, "host", options=FAST, work_dir=models_dir, db=None,
                               on_progress=rest.append) == table and len(rest) == len(all_keys) - 5
    with pytest.raises(TableMismatchError, match="flags=.*--num_runs=20.*--num_runs=7"):
        build_latency_table(tiny, out, "host", options=BenchmarkOptions(warmup=3, runs=7), work_dir=models_dir,
                            db=None)


def test_phone_table_exact_commands_and_header(tiny, models_dir, fake_adb, android_binary, tmp_path):
    work = tmp_path / "models"
    shutil.copytree(models_dir, work)
    overhead_model = model_filename(OVERHEAD_KEY)
    fake_adb.set_bench(overhead_model, "bench_no_percentiles.txt", stream="stdout")
    table = build_latency_table(tiny, tmp_path / "note8.yaml", NOTE8, binary=android_binary, work_dir=work,
                                db=tmp_path / "r.sqlite")
    commands = [["devices", "-l"], ["-s", NOTE8, "shell", PROBE_COMMAND],
                ["-s", NOTE8, "push", str(android_binary), "/data/local/tmp/benchmark_model"],
                ["-s", NOTE8, "shell", "chmod 755 /data/local/tmp/benchmark_model"]]
    for layer in table_layers(tiny, granularity="block"):
        name = model_filename(layer.key)
        commands += [
            ["-s", NOTE8, "push", str(work / name), f"/data/local/tmp/{name}"],
            ["-s", NOTE8, "shell",
             f"taskset f0 /data/local/tmp/benchmark_model --graph=/data/local/tmp/{name} {PHONE_FLAGS}"],
            ["-s", NOTE8, "shell", f"rm -f /data/local/tmp/{name}"],
        ]
    commands.append(["-s", NOTE8, "shell", "rm -f /data/local/tmp/benchmark_model"])
    assert fake_adb.calls() == commands
    header = table.header
    assert header["device"] == "SM-N950F" and header["serial"] == NOTE8
    assert header["device_fingerprint"].startswith("samsung/greatltexx/greatlte:9/")
    assert header["tool_version"] == f"sha256:{sha256_file(android_binary)}"
    assert header["flags"] == f"{PHONE_FLAGS} taskset=f0" and header["taskset"] == "f0"
    assert table.entries[STEM] == pytest.approx(
        {"mean": 31.9874, "count": 50, "var": 0.612**2, "median": 31.839, "min": 31.388})
    assert table.entries[OVERHEAD_KEY] == pytest.approx({"mean": 15.2178, "count": 50, "var": 0.298**2, "min": 14.902})


def test_phone_disconnect_keeps_measured_entries_and_rerun_finishes(tiny, models_dir, fake_adb, android_binary,
                                                                    tmp_path):
    out = tmp_path / "note8.yaml"
    keys = [layer.key for layer in table_layers(tiny, granularity="block")]
    fake_adb.disconnect_on(model_filename(keys[7]))
    with pytest.raises(SessionInterruptedError):
        build_latency_table(tiny, out, NOTE8, binary=android_binary, work_dir=models_dir, db=None)
    assert list(LatencyTable.load(out).entries) == keys[:7]
    fake_adb.disconnect_on(None)
    fake_adb.reconnect(NOTE8)
    fake_adb.clear_log()
    table = build_latency_table(tiny, out, NOTE8, binary=android_binary, work_dir=models_dir, db=None)
    pushed = [call[3] for call in fake_adb.calls() if call[2:3] == ["push"]]
    assert pushed == [str(android_binary)] + [str(models_dir / model_filename(key)) for key in keys[7:]]
    assert list(table.entries) == keys


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


def test_host_rounds_merge_and_calibration_on_whole_subnets(tiny, models_dir, tmp_path):
    out = tmp_path / "calibrated.yaml"
    table = build_latency_table(tiny, out, "host", options=FAST, work_dir=models_dir, db=None, rounds=2,
                                calibrate=2, seed=3)
    header = table.header
    assert (header["rounds"], header["statistic"], header["granularity"]) == (2, "min", "block")
    assert all(entry["count"] == 2 * FAST.runs for entry in table.entries.values())
    calibration = header["calibration"]
    subnets = calibration["subnets"]
    assert (calibration["method"], calibration["n_subnets"], len(subnets)) == ("scale", 2, 2)
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
    again = build_latency_table(tiny, out, "host", options=FAST, work_dir=models_dir, db=None, rounds=2,
                                calibrate=2, seed=3, on_progress=progress.append)
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
    assert calibration["scale"] == pytest.approx(31.388 / subnet["table_ms"])


def test_host_latency_table_model_builds_a_calibrated_block_table(tiny, models_dir, tmp_path):
    from tools.measure import HostLatency

    host = HostLatency(tiny, tmp_path, warmup=1, runs=5)
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

    host = HostLatency(tiny, tmp_path, warmup=1, runs=5)
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
