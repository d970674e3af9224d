"""The training run folder layout and `load_supernet` (weights file or run folder)."""
import json

import numpy as np
import pytest

from ofa_tf.run_folder import FINAL_PHASE
from ofa_tf.run_folder import RunFolder
from ofa_tf.run_folder import infer_n_classes
from ofa_tf.run_folder import load_supernet
from ofa_tf.run_folder import resolve_weights
from ofa_tf.training import progressive_shrinking
from ofa_tf.zoo import ofa_net

NET_ID = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


def test_final_phase_is_the_last_phase_of_progressive_shrinking():
    assert FINAL_PHASE == progressive_shrinking()[-1].name


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run folder as `ofa_tf.train` leaves it: config and the final phase's weights (7 classes)."""
    out = tmp_path_factory.mktemp("run")
    net = ofa_net(NET_ID, n_classes=7)
    folder = RunFolder(out)
    folder.weights_path().parent.mkdir()
    net.save_weights(folder.weights_path())
    folder.write_config("all", {"net": NET_ID, "num_classes": 7})
    return out, net


def test_layout_paths(tmp_path):
    folder = RunFolder(str(tmp_path))
    assert folder.root == tmp_path
    assert folder.weights_path() == tmp_path / "weights" / "expand_2.weights.h5"
    assert folder.weights_path("full") == tmp_path / "weights" / "full.weights.h5"
    assert folder.config_path("depth_1") == tmp_path / "config_depth_1.json"
    assert folder.checkpoint_dir("depth_1") == tmp_path / "checkpoints" / "depth_1"
    assert (folder.metrics_path, folder.tensorboard_dir) == (tmp_path / "metrics.jsonl", tmp_path / "tensorboard")
    assert folder.read_config() == {} and folder.net_ids() == {}
    folder.config_path("kernel").write_text('{"num_classes": 3}')
    assert folder.read_config() == {"num_classes": 3}
    folder.write_config("all", {"net": NET_ID, "num_classes": 5})
    assert folder.read_config() == {"net": NET_ID, "num_classes": 5}  # config_all.json first
    assert folder.net_ids() == {"config_all.json": NET_ID}  # config_kernel.json names no net
    assert RunFolder.of_weights(folder.weights_path("full")) == folder == RunFolder.of_weights(tmp_path)
    assert RunFolder.of_weights(tmp_path / "elsewhere.weights.h5") is None


def test_finished_phases_and_metrics(tmp_path):
    folder = RunFolder(tmp_path)
    folder.weights_path("full").parent.mkdir()
    folder.weights_path("kernel").write_bytes(b"")
    assert folder.finished(["full", "kernel", "depth_1"]) == ["kernel"]
    folder.append_metrics({"event": "epoch", "loss": 1.5})
    folder.append_metrics({"event": "epoch", "loss": 0.5})
    assert [json.loads(line) for line in folder.metrics_path.read_text().splitlines()] == [
        {"event": "epoch", "loss": 1.5}, {"event": "epoch", "loss": 0.5}]


def test_only_the_chief_writes(tmp_path):
    worker = RunFolder(tmp_path, chief=False)
    worker.write_config("all", {"net": NET_ID})
    worker.append_metrics({"event": "epoch"})
    assert list(tmp_path.iterdir()) == []


def test_load_supernet_from_a_run_folder_reads_net_id_classes_and_final_weights(run):
    out, net = run
    assert resolve_weights(out, None) == (RunFolder(out).weights_path(), NET_ID)
    assert RunFolder(out).final_weights(None) == (RunFolder(out).weights_path(), NET_ID)
    assert infer_n_classes(out) == 7 and infer_n_classes(RunFolder(out).weights_path()) == 7
    loaded = load_supernet(None, out)
    assert loaded.net_id == NET_ID and loaded.n_classes == 7 and loaded.dropout_rate == 0.0
    for a, b in zip(loaded.get_weights(), net.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_supernet_from_a_weights_file_reads_the_classes_from_its_classifier(run, tmp_path):
    out, _ = run
    copy = tmp_path / "elsewhere.weights.h5"
    copy.write_bytes(RunFolder(out).weights_path().read_bytes())
    assert load_supernet(NET_ID, copy).n_classes == 7
    assert load_supernet(NET_ID, copy, n_classes=7, dropout_rate=0.1).dropout_rate == 0.1
    assert load_supernet(NET_ID).n_classes == 1000


def test_errors_name_what_is_missing(run, tmp_path):
    out, _ = run
    with pytest.raises(FileNotFoundError, match="without weights/expand_2.weights.h5"):
        resolve_weights(tmp_path, NET_ID)
    with pytest.raises(ValueError, match=f"The training run in {out} is of {NET_ID}, not ofa_mbv3_d234_e346_k357_w1.0"):
        resolve_weights(out, "ofa_mbv3_d234_e346_k357_w1.0")
    with pytest.raises(FileNotFoundError, match="Weights not found: .*nothing.h5"):
        load_supernet(NET_ID, tmp_path / "nothing.h5")
    with pytest.raises(ValueError, match="Pass --net: the net id of .*elsewhere.h5 is not known"):
        (tmp_path / "elsewhere.h5").write_bytes(b"")
        resolve_weights(tmp_path / "elsewhere.h5", None)
    with pytest.raises(ValueError, match="Pass --net"):
        load_supernet()
