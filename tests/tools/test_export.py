"""Exported models match the Keras subnet: float32 ≤ 1e-5, float16 ≤ 1e-2, integer modes by top-1 agreement."""
import numpy as np

from tools import inspect_tflite
from tools import predict
from tools.inspect_model import CONVERSION_OPS

INT8_AGREEMENT = 0.90
DYNAMIC_AGREEMENT = 0.95
# The test runs only 3 QAT steps (for time), so the quantizer ranges are moving averages over 3 batches: a
# rougher calibration than int8's 100 representative images (measured 0.81 agreement; chance is ~0.1).
QAT_AGREEMENT = 0.75


def _relative_error(fx, out):
    error = float(np.abs(out - fx.logits).max() / np.abs(fx.logits).max())
    print(f"max relative error vs Keras: {error:.3e}")  # reported with pytest -rA
    return error


def _agreement(fx, out):
    agreement = float((out.argmax(1) == fx.logits.argmax(1)).mean())
    print(f"top-1 agreement with Keras float: {agreement:.4f} on {len(out)} images")
    return agreement


def _assert_builtin_only(report):
    bad = [op for op in report.op_histogram if op.startswith(("Flex", "CUSTOM"))]
    assert not bad, bad


def test_fixture_logits_are_not_degenerate(fx):
    # The fine-tuned subnet must beat chance by far and predict most classes, otherwise the agreement
    # figures below would be meaningless.
    accuracy = (fx.logits.argmax(1) == fx.labels).mean()
    predicted = np.unique(fx.logits.argmax(1))
    assert accuracy > 0.4, accuracy  # chance is 0.1
    assert len(predicted) >= 7, predicted


def test_export_subnet_recalibrates_bn_and_matches_supernet(fx):
    result = fx.calibration
    assert result.calibrated_images == 128 and result.metadata.extra["calibrate_bn_images"] == 128
    subnet = fx.supernet.get_active_subnet(resolution=16)  # BN statistics as recalibrated by the export
    reference = subnet(fx.images[:16], training=False).numpy()
    out = predict(result.path, fx.images[:16])
    assert np.abs(out - reference).max() <= 1e-5 * np.abs(reference).max()


def test_float32_matches_keras(fx, exported):
    result = exported("none")
    out = predict(result.path, fx.images)
    assert _relative_error(fx, out) <= 1e-5
    report = inspect_tflite(result.path)
    _assert_builtin_only(report)
    assert report.inputs[0].shape == (1, 16, 16, 3) and report.inputs[0].dtype == "float32"
    assert "HARD_SWISH" in report.op_histogram and "CONV_2D" in report.op_histogram


def test_float16_matches_keras(fx, exported):
    result = exported("float16")
    out = predict(result.path, fx.images)
    assert _relative_error(fx, out) <= 1e-2
    report = inspect_tflite(result.path)
    _assert_builtin_only(report)
    assert report.op_histogram.get("DEQUANTIZE", 0) > 0  # fp16 weights are dequantized at load
    assert report.size_bytes < 0.6 * exported("none").size_bytes


def test_dynamic_range_top1_agreement(fx, exported):
    result = exported("dynamic")
    out = predict(result.path, fx.images)
    assert _agreement(fx, out) >= DYNAMIC_AGREEMENT
    _assert_builtin_only(inspect_tflite(result.path))
    assert result.size_bytes < 0.5 * exported("none").size_bytes


def test_int8_is_integer_end_to_end(fx, exported):
    result = exported("int8")
    report = inspect_tflite(result.path)
    _assert_builtin_only(report)
    assert report.inputs[0].dtype == "int8" and report.outputs[0].dtype == "int8"
    assert report.float_compute_ops == []
    assert all(t in ("int8", "int32") for op in report.ops for t in op.input_types + op.output_types)
    out = predict(result.path, fx.images)
    assert _agreement(fx, out) >= INT8_AGREEMENT


def test_int8_with_float_io_only_converts_at_the_edges(fx, exported):
    result = exported("int8", io_type="float32")
    report = inspect_tflite(result.path)
    assert report.inputs[0].dtype == "float32" and report.outputs[0].dtype == "float32"
    assert report.ops[0].op == "QUANTIZE" and report.ops[-1].op == "DEQUANTIZE"
    assert report.op_histogram["QUANTIZE"] == 1 and report.op_histogram["DEQUANTIZE"] == 1
    assert report.float_compute_ops == []
    assert all(op.op in CONVERSION_OPS for op in report.ops if "float32" in op.input_types + op.output_types)
    assert _agreement(fx, predict(result.path, fx.images)) >= INT8_AGREEMENT


def test_qat_is_integer_end_to_end(fx, exported):
    from tools.qat import QATOptions

    result = exported("qat", qat=QATOptions(steps=3, batch_size=16, learning_rate=1e-5))
    report = inspect_tflite(result.path)
    _assert_builtin_only(report)
    assert report.float_compute_ops == []
    assert report.inputs[0].dtype == "int8" and report.inputs[0].shape == (1, 16, 16, 3)
    assert {"HARD_SWISH", "MUL", "CONV_2D", "DEPTHWISE_CONV_2D"} <= set(report.op_histogram)
    assert np.isfinite(result.qat_loss)
    assert _agreement(fx, predict(result.path, fx.images)) >= QAT_AGREEMENT


def test_batch_size_is_configurable(fx, exported):
    result = exported("none", batch_size=4)
    assert inspect_tflite(result.path).inputs[0].shape == (4, 16, 16, 3)
    out = predict(result.path, fx.images[:8])
    np.testing.assert_allclose(out, fx.logits[:8], atol=1e-5 * np.abs(fx.logits).max())

