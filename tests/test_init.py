"""`import ofa_tf` keeps TensorFlow's oneDNN kernels off unless the user asks for them."""
import os
import subprocess
import sys

import pytest

PROBE = (
    "import ofa_tf, os; import tensorflow as tf; from ofa_tf.training.trainer import onednn_enabled; "
    "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], onednn_enabled())"
)


def _probe(env_value=None, code=PROBE):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if env_value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = env_value
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_turns_onednn_off_by_default():
    assert _probe() == ["0", "False"]


def test_user_choice_wins():
    assert _probe("1") == ["1", "True"]


def test_trainer_warns_when_tensorflow_came_first_with_onednn_on():
    code = (
        "import warnings, tensorflow as tf, ofa_tf; from ofa_tf.training.trainer import onednn_enabled, "
        "warn_if_onednn\nwith warnings.catch_warnings(record=True) as w:\n    warnings.simplefilter('always')\n"
        "    warn_if_onednn()\nprint(onednn_enabled(), any('oneDNN' in str(x.message) for x in w))"
    )
    enabled, warned = _probe(code=code)
    if enabled == "False":
        pytest.skip("TensorFlow does not enable oneDNN by itself on this CPU")
    assert warned == "True"
