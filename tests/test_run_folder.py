"""The training run folder layout and `load_supernet` (weights file or run folder)."""
import json

import numpy as np
import pytest

from ofa_tf.run_folder import FINAL_PHASE
from ofa_tf.run_folder import config_path
from ofa_tf.run_folder import infer_n_classes
from ofa_tf.run_folder import load_supernet
from ofa_tf.run_folder import read_run_config
from ofa_tf.run_folder import resolve_weights
from ofa_tf.run_folder import weights_path
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
    weights_path(out).parent.mkdir()
    net.save_weights(weights_path(out))
    config_path(out, "all").write_text(json.dumps({"net": NET_ID, "num_classes": 7}))
    return out, net


def test_layout_paths(tmp_path):
    assert weights_path(tmp_path) == tmp_path / "weights" / "expand_2.weights.h5"
    assert weights_path(tmp_path, "full") == tmp_path / "weights" / "full.weights.h5"
    assert config_path(tmp_path, "depth_1") == tmp_path / "config_depth_1.json"
    assert read_run_config(tmp_path) == {}
    config_path(tmp_path, "kernel").write_text('{"num_classes": 3}')
    assert read_run_config(tmp_path) == {"num_classes": 3}


def test_load_supernet_from_a_run_folder_reads_net_id_classes_and_final_weights(run):
    out, net = run
    assert resolve_weights(out, None) == (weights_path(out), NET_ID)
    assert infer_n_classes(out) == 7 and infer_n_classes(weights_path(out)) == 7
    loaded = load_supernet(None, out)
    assert loaded.net_id == NET_ID and loaded.n_classes == 7 and loaded.dropout_rate == 0.0
    for a, b in zip(loaded.get_weights(), net.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_supernet_from_a_weights_file_reads_the_classes_from_its_classifier(run, tmp_path):
    out, _ = run
    copy = tmp_path / "elsewhere.weights.h5"
    copy.write_bytes(weights_path(out).read_bytes())
    assert load_supernet(NET_ID, copy).n_classes == 7
    assert load_supernet(NET_ID, copy, n_classes=7, dropout_rate=0.1).dropout_rate == 0.1
    assert load_supernet(NET_ID).n_classes == 1000


def test_errors_name_what_is_missing(run, tmp_path):
    out, _ = run
    with pytest.raises(FileNotFoundError, match="without weights/expand_2.weights.h5"):
        resolve_weights(tmp_path, NET_ID)
    with pytest.raises(FileNotFoundError, match="Weights not found: .*nothing.h5"):
        load_supernet(NET_ID, tmp_path / "nothing.h5")
    with pytest.raises(ValueError, match="Pass --net: the net id of .*elsewhere.h5 is not known"):
        (tmp_path / "elsewhere.h5").write_bytes(b"")
        resolve_weights(tmp_path / "elsewhere.h5", None)
    with pytest.raises(ValueError, match="Pass --net"):
        load_supernet()
