"""`ofa-tf inspect` names a file that is not a complete TFLite model in one line."""
import pytest
from cli_checks import folder_state
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main


@pytest.mark.parametrize("payload, expected", [
    (b"", "Not a TFLite flatbuffer"),
    (b"hello world, not a model" * 10, "Not a TFLite flatbuffer"),
    (b"\x1c\x00\x00\x00TFL3" + b"\x00" * 2, "Not a complete TFLite model"),
    (b"\x1c\x00\x00\x00TFL3" + bytes(range(256)) * 2, "Not a complete TFLite model"),
])
def test_garbage_and_truncated_models(tmp_path, payload, expected):
    model = tmp_path / "model.tflite"
    model.write_bytes(payload)
    before = folder_state(tmp_path)
    line = one_error_line(CliRunner().invoke(main, ["inspect", str(model)]))
    assert str(model) in line and expected in line
    assert folder_state(tmp_path) == before


def test_missing_model(tmp_path):
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "nope.tflite")])
    assert result.exit_code == 2 and "does not exist" in one_error_line(result)
