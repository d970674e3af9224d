"""`ofa-tf zoo` and `ofa-tf export --specialized` through click's CliRunner."""
import json

from click.testing import CliRunner

from tools.cli import export_command
from tools.cli import inspect_command
from tools.cli import zoo_command


def test_zoo_lists_the_released_ids():
    result = CliRunner().invoke(zoo_command, [])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| ") and "@" in line]
    assert len(rows) == 58
    assert "| note8_lat@65ms_top1@76.1_finetune@25 | Samsung Note8 | 65 ms | 76.1 | 92.7 | 220M | 5.3M |" in rows
    assert "| resnet50D_MAC@4.1B_top1@79.8 | MACs budget (ResNet50-D space) | - | 79.8 | 94.7 | 4.1B | 30.9M |" in rows
    assert "ofa-tf export --specialized NET_ID --pretrained" in result.output


def test_zoo_json():
    result = CliRunner().invoke(zoo_command, ["--json"])
    assert result.exit_code == 0, result.output
    nets = json.loads(result.output)
    assert len(nets) == 58 and nets[0]["net_id"] == "flops@595M_top1@80.0_finetune@75"
    assert {k: nets[0][k] for k in ("device", "latency_ms", "top1", "macs", "params")} == {
        "device": "MACs budget", "latency_ms": None, "top1": 80.0, "macs": 595_000_000, "params": 9_100_000}


def test_export_specialized_then_inspect(tiny_specialized, tmp_path):
    out = tmp_path / "tiny.tflite"
    args = ["--specialized", "tiny_lat@1ms", "--weights", str(tiny_specialized), "--quantize", "dynamic", "--out",
            str(out)]
    result = CliRunner().invoke(export_command, args)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output and "tiny_lat@1ms at 16x16" in result.output
    result = CliRunner().invoke(inspect_command, [str(out)])
    assert result.exit_code == 0, result.output
    assert "net: tiny_lat@1ms  quantization: dynamic  resolution: 16" in result.output
    assert "network: ProxylessNASNets with 2 blocks (reference net.config)" in result.output


def test_export_specialized_errors(tiny_specialized, tmp_path):
    out = str(tmp_path / "m.tflite")
    cases = [
        (["--specialized", "x", "--out", out], "exactly one of --weights FOLDER or --pretrained"),
        (["--specialized", "x", "--weights", str(tiny_specialized), "--pretrained", "--out", out], "exactly one of"),
        (["--specialized", "x", "--weights", str(tiny_specialized), "--quantize", "int8", "--out", out],
         "--quantize int8 needs --data"),
        (["--specialized", "x", "--net", "ofa_mbv3_d234_e346_k357_w1.0", "--weights", str(tiny_specialized),
          "--out", out], "--specialized takes none of --net"),
        (["--specialized", "note9_lat@1ms", "--pretrained", "--out", out], "Unknown specialized net id"),
        (["--weights", str(tiny_specialized), "--out", out], "is a specialized network's folder (net.config, run.config, init): export it with --specialized"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(export_command, args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    assert not (tmp_path / "m.tflite").exists()
