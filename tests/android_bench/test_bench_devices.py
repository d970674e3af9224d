"""Device listing, getprop/sysfs probing, core masks and the profile fallback."""

import json

import pytest
from bench_fakes import NOTE8
from bench_fakes import PIXEL1
from bench_fakes import PIXEL2
from click.testing import CliRunner

from android_bench.adb import Adb
from android_bench.adb import parse_devices_output
from android_bench.cli import main
from android_bench.device import PROBE_COMMAND
from android_bench.device import CpuLayout
from android_bench.device import cores_to_mask
from android_bench.device import probe_device
from android_bench.profiles import DEVICE_PROFILES
from android_bench.profiles import match_profile


def test_parse_devices_listing_skips_daemon_chatter():
    text = "* daemon started successfully\nList of devices attached\nabc device usb:1 model:Pixel_2\nxyz offline\n\n"
    rows = parse_devices_output(text)
    assert [(r.serial, r.state) for r in rows] == [("abc", "device"), ("xyz", "offline")]
    assert rows[0].properties["model"] == "Pixel_2"


def test_probe_note8_reads_getprop_and_sysfs(fake_adb):
    info = probe_device(Adb(), NOTE8)
    assert (info.model, info.manufacturer, info.abi, info.android_version) == ("SM-N950F", "samsung", "arm64-v8a", "9")
    assert info.soc == "Exynos 8895 (universal8895)"
    assert info.fingerprint == "samsung/greatltexx/greatlte:9/PPR1.180610.011/N950FXXU6DTC1:user/release-keys"
    assert info.cpu.source == "sysfs"
    assert (info.cpu.big_mask, info.cpu.little_mask, info.cpu.describe()) == ("f0", "f", "4x1690MHz+4x2314MHz")
    assert fake_adb.shell_commands(NOTE8) == [
        "getprop; cat /sys/devices/system/cpu/possible; "
        "grep -H . /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq"
    ] == [PROBE_COMMAND]


def test_probe_pixel2_big_cores_4_to_7(fake_adb):
    info = probe_device(Adb(), PIXEL2)
    assert (info.model, info.android_version, info.profile) == ("Pixel 2", "11", "Google Pixel 2")
    assert info.cpu.big_cores == [4, 5, 6, 7] and info.cpu.big_mask == "f0"


def test_unreadable_sysfs_falls_back_to_the_profile_table(fake_adb):
    info = probe_device(Adb(), PIXEL1)
    assert info.cpu.source == "profile:Google Pixel"
    assert (info.cpu.big_mask, info.cpu.little_mask) == ("c", "3")
    assert info.soc == "Snapdragon 821 (msm8996)"


@pytest.mark.parametrize(
    "model, profile, soc, big_mask",
    [
        ("SM-N950F", "Samsung Galaxy Note8", "Exynos 8895", "f0"),
        ("SM-N950U", "Samsung Galaxy Note8", "Snapdragon 835", "f0"),
        ("Pixel", "Google Pixel", "Snapdragon 821", "c"),
        ("Pixel XL", "Google Pixel", "Snapdragon 821", "c"),
        ("Pixel 2", "Google Pixel 2", "Snapdragon 835", "f0"),
        ("SM-N970F", "Samsung Galaxy Note10", "Exynos 9825", "f0"),
        ("SM-N970U1", "Samsung Galaxy Note10", "Snapdragon 855", "f0"),
        ("SM-G935F", "Samsung Galaxy S7 edge", "Exynos 8890", "f0"),
        ("SM-G935T", "Samsung Galaxy S7 edge", "Snapdragon 820", "c"),
        ("LM-G820N", "LG G8 ThinQ", "Snapdragon 855", "f0"),
    ],
)
def test_profiles_match_models(model, profile, soc, big_mask):
    matched = match_profile(model)
    assert (matched.name, matched.soc.name) == (profile, soc)
    assert CpuLayout(matched.soc.core_max_freq_khz, "profile").big_mask == big_mask


def test_unknown_model_has_no_profile_and_profiles_have_two_clusters_or_more():
    assert match_profile("Pixel 7") is None
    assert all(len(CpuLayout(p.soc.core_max_freq_khz, "x").clusters()) >= 2 for p in DEVICE_PROFILES)


def test_masks():
    assert cores_to_mask([4, 5, 6, 7]) == "f0" and cores_to_mask([2, 3]) == "c" and cores_to_mask([]) == ""
    homogeneous = CpuLayout((2000000,) * 4, "sysfs")
    assert (homogeneous.big_mask, homogeneous.little_mask) == ("f", "")


def test_devices_command_lists_every_device(fake_adb):
    result = CliRunner().invoke(main, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["serial"]: row for row in map(json.loads, result.output.splitlines())}
    assert set(rows) == {NOTE8, PIXEL2, PIXEL1, "R58M12ABCDE"}
    assert rows["R58M12ABCDE"]["state"] == "unauthorized" and "model" not in rows["R58M12ABCDE"]
    assert rows[NOTE8]["big_mask"] == "f0" and rows[PIXEL1]["big_mask"] == "c"
    table = CliRunner().invoke(main, ["devices"])
    assert "SM-N950F" in table.output and "4x1690MHz+4x2314MHz" in table.output


def test_adb_from_env_var(fake_adb, tmp_path, monkeypatch):
    monkeypatch.setenv("ADB", str(tmp_path / "bin" / "adb"))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert Adb().executable == str(tmp_path / "bin" / "adb")
    monkeypatch.setenv("ADB", str(tmp_path / "missing-adb"))
    with pytest.raises(FileNotFoundError, match="missing-adb"):
        Adb()
