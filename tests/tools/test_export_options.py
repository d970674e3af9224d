"""`tools.export.ExportOptions`: the export settings shared by `export_subnet`, `export_specialized`,
`export_finetuned`, `export_keras_model` and `ofa-tf export`; checked when made, before any work."""
import dataclasses

import pytest

from tools.export import ExportOptions
from tools.export import export_finetuned
from tools.export import export_keras_model
from tools.export import export_specialized
from tools.export import export_subnet


@pytest.mark.parametrize(
    "fields, message",
    [(dict(quantize="int4"), "Unknown quantization mode 'int4': expected one of none, float16, dynamic"),
     (dict(io_type="int16"), "Invalid io_type 'int16': expected one of int8, uint8, float32"),
     (dict(batch_size=0), r"Invalid batch_size=0: expected a positive integer"),
     (dict(batch_size=True), r"Invalid batch_size=True: expected a positive integer"),
     (dict(calibrate_bn=-1), r"Invalid calibrate_bn=-1: expected a number of images >= 0"),
     (dict(quantize="int8"), "Quantization mode 'int8' needs data: pass a TFDS name, an image folder or 'digits'"),
     (dict(quantize="qat"), "Quantization mode 'qat' needs data"),
     (dict(calibrate_bn=8), "calibrate_bn=8 needs data: pass a TFDS name, an image folder or 'digits'")],
)
def test_bad_options_are_refused_when_made_naming_the_value(fields, message):
    with pytest.raises(ValueError, match=message):
        ExportOptions(**fields)


def test_options_are_frozen_and_labels_a_tuple():
    options = ExportOptions(quantize="int8", data="digits", labels=["cat", 3])
    assert options.labels == ("cat", "3") and options.batch_size is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.quantize = "none"


def test_the_split_is_the_options_else_the_finetuning_runs_else_the_default():
    record = {"data": {"validation_split": 0.25, "split_seed": 7}}
    assert ExportOptions().split() == (0.1, 0)
    assert ExportOptions().split(record) == (0.25, 7)
    assert ExportOptions(validation_split=0.5).split(record) == (0.5, 7)
    assert ExportOptions(seed=3).split(record) == (0.25, 3)


@pytest.mark.parametrize("call", [
    lambda options, out: export_specialized("no_such_net", out, options=options),
    lambda options, out: export_finetuned(out.parent / "no_such_run", out, options=options),
    lambda options, out: export_keras_model(None, out, options=options),
])
def test_whole_networks_refuse_the_subnet_only_settings_before_any_work(call, tmp_path):
    options = ExportOptions(data="digits", calibrate_bn=16, resolution=128)
    with pytest.raises(ValueError, match=r"takes no calibrate_bn=16, resolution=128: the network comes whole"):
        call(options, tmp_path / "m.tflite")
    assert list(tmp_path.iterdir()) == []


def test_keywords_override_the_options_and_are_checked_again(tmp_path):
    options = ExportOptions(data="digits")
    with pytest.raises(ValueError, match="Invalid io_type 'int16'"):
        export_subnet(None, {}, tmp_path / "m.tflite", options, quantize="int8", io_type="int16")
    with pytest.raises(TypeError, match="unexpected keyword argument 'quantise'"):
        export_specialized("tiny", tmp_path / "m.tflite", options=options, quantise="int8")


def test_the_export_command_keeps_every_option_and_default():
    from tools.cli import export_command

    assert [p.name for p in export_command.params if p.required] == ["out"]
    defaults = {p.name: p.default for p in export_command.params if not p.required}
    assert defaults == {
        "net_id": None, "specialized": None, "model_path": None, "weights": None, "pretrained": False,
        "config_path": None, "n_classes": None, "resolution": None, "quantize": "none", "data": None,
        "calibrate_bn": 0, "batch_size": 1, "io_type": "int8", "labels_path": None,
        "representative_images": 100, "qat_steps": 100, "qat_batch_size": 32, "qat_lr": 1e-5,
        "validation_split": 0.1, "seed": 0,
    }
