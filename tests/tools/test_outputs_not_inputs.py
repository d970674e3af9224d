"""No command writes over its own input: an output path that is one of the command's inputs (the same file, a link to
it, or a path inside an image folder it reads) is refused with one line naming both options, before any work, and
every input is left as it was (issue 26: `export --out W` replaced the weights W with the .tflite and exited 0)."""
import json

import pytest
from cli_checks import folder_state
from cli_checks import image_folder
from cli_checks import one_error_line
from click.testing import CliRunner

from tools.ofa_tf_cli import main

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
CONFIG = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 16}


@pytest.fixture
def work(tmp_path, tiny_weights):
    (tmp_path / "subnet.json").write_text(json.dumps(CONFIG))
    (tmp_path / "w.weights.h5").write_bytes(tiny_weights.read_bytes())
    return tmp_path


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    from ofa_tf.nas import AccuracyPredictor
    from ofa_tf.families.mbconv.space import SearchSpace
    from ofa_tf.zoo import PRESETS

    path = tmp_path_factory.mktemp("predictor")
    AccuracyPredictor(SearchSpace(resolutions=PRESETS[TINY].resolutions), net_id=TINY, hidden_size=8).save(path)
    return path


def refused(folder, args, *, cli=main) -> str:
    """The one error line of `args`, checking that nothing under `folder` changed."""
    before = folder_state(folder)
    line = one_error_line(CliRunner().invoke(cli, [str(a) for a in args]))
    assert folder_state(folder) == before
    return line


def export(work, out, *args):
    return refused(work, ["export", "--net", TINY, "--weights", work / "w.weights.h5", "--config",
                          work / "subnet.json", "--out", out, *args])


def test_export_over_its_weights(work):
    line = export(work, work / "w.weights.h5")
    assert f"--out: {work / 'w.weights.h5'} is also the command's input (--weights {work / 'w.weights.h5'})" in line


def test_export_over_its_config_or_a_link_to_its_weights(work):
    assert "is also the command's input (--config" in export(work, work / "subnet.json")
    (work / "link.h5").symlink_to(work / "w.weights.h5")
    assert "is also the command's input (--weights" in export(work, work / "link.h5")


def test_export_over_the_final_weights_of_a_run_folder(work):
    run = work / "run"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "expand_2.weights.h5").write_bytes((work / "w.weights.h5").read_bytes())
    (run / "config_all.json").write_text(json.dumps({"net": TINY, "num_classes": 10}))
    line = refused(work, ["export", "--weights", run, "--config", work / "subnet.json", "--out",
                          run / "weights" / "expand_2.weights.h5"])
    assert "is also the command's input (--weights" in line and "expand_2.weights.h5" in line


def test_export_into_its_image_folder(work):
    data = image_folder(work / "images", ["a", "b"])
    line = export(work, data / "a" / "model.tflite", "--data", data, "--calibrate-bn", "4")
    assert f"lies inside {data}, the command's input (--data)" in line


def test_export_specialized_over_its_init(tmp_path, tiny_specialized):
    folder = tmp_path / "net"
    folder.mkdir()
    for name in ("net.config", "run.config", "init"):
        (folder / name).write_bytes((tiny_specialized / name).read_bytes())
    line = refused(tmp_path, ["export", "--specialized", "tiny", "--weights", folder, "--out", folder / "init"])
    assert "is also the command's input (--weights" in line


def test_train_into_its_image_folder(tmp_path):
    data = image_folder(tmp_path / "images", ["a", "b"], per_class=4)
    for out in (data, data / "run"):
        line = refused(tmp_path, ["train", "--net", TINY, "--data", data, "--out", out, "--epochs", "1",
                                  "--batch-size", "2", "--no-validate"])
        assert f"the command's input (--data" in line


def test_train_from_weights_it_would_write(tmp_path, tiny_weights):
    """--init run/weights/full.weights.h5 for the full phase into `run`: the run would replace its own start."""
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "full.weights.h5").write_bytes(tiny_weights.read_bytes())
    line = refused(tmp_path, ["train", "--net", TINY, "--data", "digits", "--task", "full", "--overwrite",
                              "--init", run / "weights" / "full.weights.h5", "--out", run, "--epochs", "1"])
    assert "are the weights of phase full, which this run writes" in line and "(--init)" in line


def test_predictor_over_its_weights(work):
    """The weights given as a predictor folder's own predictor.weights.h5 would be replaced by the predictor."""
    (work / "p").mkdir()
    (work / "p" / "predictor.weights.h5").write_bytes((work / "w.weights.h5").read_bytes())
    line = refused(work, ["predictor", "--net", TINY, "--weights", work / "p" / "predictor.weights.h5",
                          "--out", work / "p"])
    assert "is also the command's input (--weights" in line


def test_search_over_its_table_or_its_predictor(work, predictor):
    lut = work / "note8.json"
    lut.write_text(json.dumps({"header": {"net_id": TINY}, "table": {}}))
    args = ["search", "--net", TINY, "--predictor", predictor, "--constraint", "macs=50M", "--lut", lut,
            "--generations", "1", "--pareto-generations", "0"]
    assert "is also the command's input (--lut" in refused(work, [*args, "--out", lut])
    # the search's sidecar (OUT.search.json) is written too
    sidecar = work / "s.search.json"
    sidecar.write_text(lut.read_text())
    args[args.index(lut)] = sidecar
    assert f"{sidecar} is also the command's input (--lut" in refused(work, [*args, "--out", work / "s.json"])
    line = refused(predictor, [*args, "--out", predictor / "predictor.json"])
    assert "is also the command's input (--predictor" in line


def test_specialize_over_a_table_in_its_output_folder(work, predictor):
    """`--lut note8=OUT/note8.json` would be replaced by the device's subnet config OUT/note8.json."""
    out = work / "out"
    out.mkdir()
    lut = out / "note8.json"
    lut.write_text(json.dumps({"header": {"net_id": TINY}, "table": {}}))
    line = refused(work, ["specialize", "--supernet", work / "w.weights.h5", "--net", TINY, "--predictor", predictor,
                          "--devices", "note8:5ms", "--lut", f"note8={lut}", "--no-host", "--out", out])
    assert f"{lut} is also the command's input (--lut" in line


def test_demo_into_its_image_folder(tmp_path):
    data = image_folder(tmp_path / "images", ["a", "b"])
    line = refused(tmp_path, ["demo", "--data", data, "--out", data / "a"])
    assert f"lies inside {data}, the command's input (--data)" in line


def test_lut_over_its_binary_or_its_store(tmp_path):
    from tools.android_bench_cli import main as bench

    binary = tmp_path / "benchmark_model"
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    args = ["lut", "--net", TINY, "--serial", "host", "--binary", binary, "--db", tmp_path / "r.db"]
    assert "is also the command's input (--binary" in refused(tmp_path, [*args, "--out", binary], cli=bench)
    line = refused(tmp_path, [*args, "--out", tmp_path / "r.db"], cli=bench)
    assert "is also the output of --out" in line


def test_finetune_into_its_image_folder(work):
    data = image_folder(work / "images", ["a", "b"])
    line = refused(work, ["finetune", "--net", TINY, "--weights", work / "w.weights.h5", "--config",
                          work / "subnet.json", "--data", data, "--epochs", "1", "--out", data / "ft"])
    assert f"lies inside {data}, the command's input (--data)" in line


def test_export_model_over_the_model(work):
    model = work / "finetuned.keras"
    model.write_bytes(b"a fine-tuned model")  # refused before it is read
    line = refused(work, ["export", "--model", model, "--out", model])
    assert f"is also the command's input (--model {model})" in line
