"""The command lines print only their own lines: TensorFlow's start-up logs, absl lines and the converter's
SavedModel dumps stay behind `--verbose` (run as subprocesses, the way a user sees them)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOISE = ("I0000", "W0000", "E0000", "oneDNN", "cuInit", "absl", "TensorSpec", "Saved artifact", "WARNING:")


def python(*args, timeout=600):
    """`python *args` from the clone, as a user's shell runs it (no log-level or warning settings inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "PYTHONWARNINGS"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)


def run(*args, verbose=False):
    return python("-m", "tools.ofa_tf_cli", *(["-v"] if verbose else []), *args)


def test_an_error_is_one_line_without_tensorflow_start_up_logs(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    quiet = run("inspect", str(bad))
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert quiet.stderr.splitlines() == [f"Error: {bad}: Not a TFLite flatbuffer: the file identifier 'TFL3' is "
                                         "missing at bytes 4-8."]


@pytest.mark.slow
def test_export_prints_its_summary_and_no_converter_dump(tmp_path, tiny_weights):
    config = tmp_path / "subnet.json"
    config.write_text(json.dumps({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 12}))
    out = tmp_path / "model.tflite"
    result = run("export", "--net", "ofa_mbv3_tiny_d234_e346_k357_w0.5", "--weights", str(tiny_weights),
                 "--config", str(config), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert not [line for line in (result.stdout + result.stderr).splitlines() if any(n in line for n in NOISE)]
    assert result.stdout.startswith(f"Wrote {out} (") and out.is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not (tmp_path / ".ofa_tf_tmp").exists()  # the converter's scratch SavedModel is gone


def test_a_spawned_helper_imports_tensorflow_without_its_start_up_logs():
    """`ofa-tf demo` converts the host table's models in a spawned process (`call_quietly`)."""
    script = (
        "import importlib, multiprocessing, pickle, sys\n"
        "from android_bench.cli_support import call_quietly\n"
        "if __name__ == '__main__':\n"
        "    call = pickle.dumps((importlib.import_module, ('tensorflow',)))\n"
        "    helper = multiprocessing.get_context('spawn').Process(target=call_quietly, args=(False, call))\n"
        "    helper.start()\n"
        "    helper.join()\n"
        "    print('exit code', helper.exitcode)\n"
    )
    result = python("-c", script, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exit code 0\n"
    assert result.stderr == ""


def test_an_error_after_tensorflow_ran_is_one_line(tmp_path):
    """`eval` of a diverged run's weights: TensorFlow has run ops when the error comes, and its first look for a GPU
    (`E0000 ... failed call to cuInit`) stayed hidden too (issue 26)."""
    code = ("import numpy as np, ofa_tf\nnet = ofa_tf.ofa_net('ofa_mbv3_tiny_d234_e346_k357_w0.5', n_classes=10)\n"
            "for v in net.weights:\n    if 'classifier' in v.path: v.assign(np.full(v.shape, np.nan, np.float32))\n"
            f"net.save_weights({str(tmp_path / 'nan.weights.h5')!r})\n")
    assert python("-c", code).returncode == 0
    result = run("eval", "--net", "ofa_mbv3_tiny_d234_e346_k357_w0.5", "--weights", str(tmp_path / "nan.weights.h5"),
                 "--data", "digits")
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: The weights in {tmp_path / 'nan.weights.h5'} are not finite: ")
    assert "classifier" in line
