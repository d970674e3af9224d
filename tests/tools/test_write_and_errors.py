"""Atomic writes, forced conversion failures, bad API arguments, metadata and host runner units."""

import os
import keras
import numpy as np
import pytest
import tensorflow as tf

from tools import ConversionError
from tools import ModelMetadata
from tools import export_keras_model
from tools import export_subnet
from tools import read_metadata
from tools import run_tflite
from tools.tflite_metadata import embed_metadata
from tools.tflite_metadata import metadata_entries


def _folder_listing(path):
    return sorted(p.name for p in path.iterdir())


def test_converter_scratch_lives_next_to_the_output_and_stale_ones_are_removed(tmp_path):
    import subprocess
    import tempfile

    from tools.quantize import SCRATCH_DIR
    from tools.quantize import scratch_near

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / SCRATCH_DIR / str(dead.pid) / "saved_model"  # left by a SIGKILLed export
    stale.mkdir(parents=True)
    with scratch_near(tmp_path):
        assert not stale.exists()
        assert tempfile.mkdtemp().startswith(str(tmp_path / SCRATCH_DIR / str(os.getpid())))
    assert not (tmp_path / SCRATCH_DIR).exists() and tempfile.gettempdir() != str(tmp_path / SCRATCH_DIR)


def test_flex_op_fails_loudly_and_writes_nothing(tmp_path):
    inputs = keras.Input((8, 8, 3), batch_size=1)
    outputs = keras.layers.Lambda(lambda x: tf.math.bessel_i0e(x))(keras.layers.Conv2D(4, 1)(inputs))
    model = keras.Model(inputs, outputs)
    target = tmp_path / "flex.tflite"
    target.write_bytes(b"previous export")
    with pytest.raises(ConversionError, match=r"ops without a TFLite builtin kernel: \['BesselI0e'\]"):
        export_keras_model(model, target)
    assert target.read_bytes() == b"previous export"
    assert _folder_listing(tmp_path) == ["flex.tflite"]


def test_failure_after_conversion_leaves_nothing(fx, tmp_path, monkeypatch):
    import tools.export

    def broken(flatbuffer, metadata):
        raise RuntimeError("metadata writer crashed")

    monkeypatch.setattr(tools.export, "embed_metadata", broken)
    inputs = keras.Input((8, 8, 3), batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(RuntimeError, match="metadata writer crashed"):
        export_keras_model(model, tmp_path / "m.tflite")
    assert _folder_listing(tmp_path) == []


def test_bad_api_arguments(fx, tmp_path):
    out = tmp_path / "m.tflite"
    with pytest.raises(ValueError, match=r"Unknown quantization mode 'int4': expected one of none, float16, dynamic"):
        export_subnet(fx.supernet, fx.config, out, quantize="int4")
    with pytest.raises(ValueError, match=r"Quantization mode 'int8' needs data|quantization mode 'int8' needs data"):
        export_subnet(fx.supernet, fx.config, out, quantize="int8")
    with pytest.raises(ValueError, match=r"Invalid io_type 'int16': expected one of int8, uint8, float32"):
        export_subnet(fx.supernet, fx.config, out, quantize="int8", io_type="int16", data=fx.data)
    bad = fx.config.to_dict()
    bad["e"][0] = 5
    with pytest.raises(ValueError, match=r"Invalid value for `e`\[0\]: expected one of \[3, 4, 6\]. Received e=5."):
        export_subnet(fx.supernet, bad, out)
    with pytest.raises(FileNotFoundError, match="Output folder does not exist"):
        export_subnet(fx.supernet, fx.config, tmp_path / "missing" / "m.tflite")
    with pytest.raises(ValueError, match="Received 3 labels for a model with 10 outputs"):
        export_subnet(fx.supernet, fx.config, out, labels=["a", "b", "c"])
    assert not out.exists()


def test_metadata_is_replaced_not_duplicated(fx):
    flatbuffer = fx.calibration.path.read_bytes()
    meta = read_metadata(flatbuffer)
    changed = ModelMetadata(**{**meta.__dict__, "labels": tuple("abcdefghij")})
    again = embed_metadata(flatbuffer, changed)
    names = list(metadata_entries(again))
    assert names.count("ofa_tf") == 1 and "min_runtime_version" in names
    assert read_metadata(again).labels == tuple("abcdefghij")
    assert read_metadata(again) == changed


def test_metadata_rejects_unknown_keys():
    data = ModelMetadata(32, 1, (0.5,) * 3, (0.5,) * 3, {}, "none", "float32", "float32", 10).to_dict()
    with pytest.raises(ValueError, match=r"Unknown ofa_tf metadata keys \['colour'\]"):
        ModelMetadata.from_dict({**data, "colour": "rgb"})


def test_embedding_metadata_keeps_outputs_identical(fx):
    from tools import predict

    flatbuffer = fx.calibration.path.read_bytes()
    plain = predict(flatbuffer, fx.images[:4])
    meta = read_metadata(flatbuffer)
    again = embed_metadata(flatbuffer, ModelMetadata(**{**meta.__dict__, "net_id": "x"}))
    np.testing.assert_array_equal(predict(again, fx.images[:4]), plain)


def test_host_runner_reports_latency_and_outputs(fx):
    result = run_tflite(fx.calibration.path, inputs=[fx.images[:1]], threads=1, warmup=2, runs=5)
    assert result.runs == 5 and result.size_bytes == fx.calibration.size_bytes
    assert 0 < result.min_us <= result.p50_us <= result.max_us and result.std_us >= 0
    assert result.outputs[0].shape == (1, 10)
    with pytest.raises(ValueError, match="runs >= 1"):
        run_tflite(fx.calibration.path, runs=0)
