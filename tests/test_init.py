"""`import ofa_tf` turns TensorFlow's oneDNN kernels on with one inter-op thread unless the user chose otherwise."""
import os
import subprocess
import sys

import pytest

SETTINGS = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTEROP_THREADS")
PROBE = (
    "import ofa_tf, os; import tensorflow as tf; from ofa_tf.training.runtime import inter_op_threads; "
    "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS', '-'), inter_op_threads())"
)
WARN_PROBE = (
    "import warnings, tensorflow as tf, ofa_tf; from ofa_tf.training.runtime import onednn_enabled, "
    "inter_op_threads, warn_if_onednn_unsafe\nwith warnings.catch_warnings(record=True) as w:\n"
    "    warnings.simplefilter('always')\n    warn_if_onednn_unsafe()\n"
    "print(onednn_enabled(), inter_op_threads(), any('oneDNN' in str(x.message) for x in w))"
)


def _probe(code=PROBE, **settings):
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(settings, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_turns_onednn_on_with_one_inter_op_thread():
    assert _probe() == ["1", "1"]


def test_user_choice_wins():
    cores = str(os.cpu_count())
    assert _probe(TF_ENABLE_ONEDNN_OPTS="0") == ["0", cores]
    assert _probe(TF_ENABLE_ONEDNN_OPTS="1", TF_NUM_INTEROP_THREADS="2") == ["1", "2"]


def test_trainer_warns_when_onednn_runs_ops_in_parallel():
    enabled, threads, warned = _probe(WARN_PROBE, TF_ENABLE_ONEDNN_OPTS="1", TF_NUM_INTEROP_THREADS="2")
    if enabled == "False":
        pytest.skip(reason="this TensorFlow build has no oneDNN kernels")
    assert (threads, warned) == ("2", "True")
    assert _probe(WARN_PROBE, TF_ENABLE_ONEDNN_OPTS="1", TF_NUM_INTEROP_THREADS="1")[1:] == ["1", "False"]


def test_no_public_name_is_also_a_submodule():
    """`ofa_tf.profile` is the function and `ofa_tf.training.evaluate` too: importing a submodule cannot rebind them."""
    import importlib
    import pkgutil
    import types

    for name in ("ofa_tf", "ofa_tf.training", "ofa_tf.nas", "ofa_tf.data", "ofa_tf.layers", "ofa_tf.latency", "ofa_tf.families",
                 "ofa_tf.families.mbconv", "ofa_tf.families.mobilenet_v3", "ofa_tf.families.proxyless",
                 "ofa_tf.families.resnet", "tools"):
        package = importlib.import_module(name)
        submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}
        public = set(getattr(package, "__all__", ())) | {
            n for n, v in vars(package).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)
        }
        assert not public & submodules, f"{name}: {sorted(public & submodules)} name both a submodule and an export"
    import ofa_tf
    import ofa_tf.counting  # noqa: F401
    import ofa_tf.training.evaluation  # noqa: F401

    assert callable(ofa_tf.profile) and isinstance(ofa_tf.training.evaluate, types.FunctionType)


def test_latency_names_are_imported_on_first_use():
    """`ofa_tf.latency` re-exports the public names of its four modules (keys, entries, table, predict) and imports
    none of them, nor TensorFlow, until a name is used."""
    code = ("import sys, ofa_tf.latency as latency; print('tensorflow' in sys.modules, len(latency.__all__)); "
            "print(latency.LatencyTable.__module__, latency.TableLayer.__module__, latency.Calibration.__module__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    modules = "ofa_tf.latency.table ofa_tf.latency.entries ofa_tf.latency.predict"
    assert result.stdout.splitlines() == ["False 17", modules]


def _user_env(**settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "PYTHONWARNINGS"))}
    return {**env, **settings}


def test_using_ofa_tf_prints_no_tensorflow_start_up_lines():
    """TensorFlow 2.21 prints its start-up lines twice from C++, past every log level; ofa_tf imports it with them
    hidden (issue 26). TF_CPP_MIN_LOG_LEVEL=0 asks for them."""
    code = "import ofa_tf; ofa_tf.ofa_net; import tensorflow as tf; print(tf.__loader__.__class__.__name__)"
    quiet = subprocess.run([sys.executable, "-c", code], env=_user_env(), capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert quiet.stdout == "SourceFileLoader\n"  # the real loader, not the one that hid the output
    shown = subprocess.run([sys.executable, "-c", code], env=_user_env(TF_CPP_MIN_LOG_LEVEL="0"), capture_output=True,
                           text=True, timeout=300)
    assert shown.stderr.count("oneDNN custom operations are on") == 2


def test_a_failing_tensorflow_import_shows_its_output(tmp_path):
    """What TensorFlow printed is replayed when its import fails, so the reason is not hidden."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text("import sys\nprint('libfoo.so: cannot open shared object file', "
                                      "file=sys.stderr)\nraise ImportError('broken install')\n")
    code = "import ofa_tf\ntry:\n    import tensorflow\nexcept ImportError as err:\n    print('caught', err)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=_user_env(PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"),
                            cwd=tmp_path)
    assert result.stdout == "caught broken install\n"
    assert "libfoo.so: cannot open shared object file" in result.stderr
