"""End to end on the w1.0 ImageNet supernet: `.pth` → `ofa-tf export` → TFLite equals the PyTorch reference."""
import json

import numpy as np
import pytest
from click.testing import CliRunner


@pytest.mark.slow
def test_w10_export_matches_pytorch_reference_logits(shared, tmp_path):
    pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")
    from tools import inspect_tflite
    from tools import predict
    from tools.cli import export_command

    folder = shared / "reference" / "ofa_mbv3_w1.0"
    cases = json.loads((folder / "ofa_mbv3_w1.0_cases.json").read_text())
    golden = np.load(folder / "ofa_mbv3_w1.0_cases.npz")
    case = next(c for c in cases["configs"] if c["name"] == "random0")
    config_path = tmp_path / "subnet.json"
    config_path.write_text(json.dumps({"ks": case["ks"], "e": case["e"], "d": case["d"], "r": 160}))
    out = tmp_path / "w10.tflite"
    result = CliRunner().invoke(export_command, [
        "--net", "ofa_mbv3_d234_e346_k357_w1.0", "--weights", str(folder / "ofa_mbv3_w1.0.pth"),
        "--config", str(config_path), "--quantize", "none", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    reference = golden["logits_random0_r160"]
    logits = predict(out, golden["input_r160"].astype(np.float32))
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
    report = inspect_tflite(out)
    assert report.metadata.n_classes == 1000 and report.metadata.resolution == 160
    assert not any(op.startswith(("Flex", "CUSTOM")) for op in report.op_histogram)
