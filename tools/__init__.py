"""Deployment tools on top of `ofa_tf` and `android_bench`: TFLite export, quantization, inspection, the host
runner, per-layer latency tables, per-device specialization, the demo, and the `ofa-tf` / `android-bench` command
lines.

The public names below are imported on first use, so the command lines start without loading TensorFlow.
"""
from ofa_tf.lazy import lazy_exports

_EXPORTS = {
    "ExportOptions": ".export",
    "ExportResult": ".export",
    "export_finetuned": ".export",
    "export_keras_model": ".export",
    "export_specialized": ".export",
    "export_subnet": ".export",
    "write_atomic": ".export",
    "HostRunResult": ".host_runner",
    "predict": ".host_runner",
    "run_tflite": ".host_runner",
    "ModelReport": ".inspect_model",
    "inspect_tflite": ".inspect_model",
    "QUANTIZE_MODES": ".quantize",
    "ConversionError": ".quantize",
    "QuantizeOptions": ".quantize",
    "ModelMetadata": ".tflite_metadata",
    "read_metadata": ".tflite_metadata",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
