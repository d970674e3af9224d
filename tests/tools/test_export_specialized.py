"""`export_specialized`: each zoo fixture's float32 .tflite against the reference logits; quantized modes and
metadata on a small folder."""
import numpy as np
import pytest

from tools import export_specialized
from tools import predict
from tools import read_metadata

NETS = ("note8_lat@54ms_top1@70.0_finetune@25", "cpu_lat@11ms_top1@71.0_finetune@25",
        "resnet50D_MAC@2.2B_top1@77.0_finetune@25")


@pytest.mark.slow
@pytest.mark.parametrize("net", NETS)
def test_float32_tflite_matches_reference_logits(shared, tmp_path, net):
    folder = shared / "reference" / "zoo" / "specialized" / net
    result = export_specialized(net, tmp_path / "net.tflite", weights=folder)
    cases = np.load(folder / "logits.npz")
    logits = predict(result.path, cases["input"])
    np.testing.assert_allclose(logits, cases["logits"], rtol=0, atol=1e-4 * np.abs(cases["logits"]).max())
    meta = read_metadata(result.path)
    assert meta.net_id == net and meta.resolution == cases["input"].shape[1] and meta.subnet_config == {}
    assert meta.net_config["name"] in ("MobileNetV3", "ProxylessNASNets", "ResNets")


@pytest.mark.parametrize("mode", ["float16", "dynamic", "int8"])
def test_quantized_modes(tiny_specialized, tmp_path, mode):
    from ofa_tf import ofa_specialized

    data = "digits" if mode == "int8" else None
    result = export_specialized("tiny", tmp_path / f"{mode}.tflite", weights=tiny_specialized, quantize=mode,
                                data=data, representative_images=16)
    meta = read_metadata(result.path)
    assert (meta.quantization, meta.resolution, meta.n_classes, meta.net_id) == (mode, 16, 10, "tiny")
    assert meta.labels == (tuple(str(d) for d in range(10)) if mode == "int8" else None)
    model, size = ofa_specialized("tiny", weights=tiny_specialized)
    images = np.random.default_rng(0).normal(size=(4, size, size, 3)).astype("float32")
    expected = model(images).numpy()
    logits = predict(result.path, images)
    assert logits.shape == expected.shape
    assert np.abs(logits - expected).max() < (0.01 if mode == "float16" else 0.25) * np.abs(expected).max()


def test_int8_needs_data(tiny_specialized, tmp_path):
    with pytest.raises(ValueError, match="needs data"):
        export_specialized("tiny", tmp_path / "m.tflite", weights=tiny_specialized, quantize="int8")
    assert not (tmp_path / "m.tflite").exists()
