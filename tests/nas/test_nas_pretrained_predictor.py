"""The tutorial's pretrained accuracy predictor: parity on the reference's cases, the input forms, use as a
search objective, and its download (local HTTP server; never the network)."""
import json
import shutil

import numpy as np
import pytest

import ofa_tf
from ofa_tf.nas import Constraint
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import MacsModel
from ofa_tf.nas import NetworkShape
from ofa_tf.families.mbconv.config import ConfigBatch
from ofa_tf.families.mbconv.config import SubnetConfig


@pytest.fixture(scope="module")
def fixture_dir(shared):
    return shared / "reference" / "zoo" / "acc_predictor"


@pytest.fixture(scope="module")
def predictor(fixture_dir):
    return ofa_tf.pretrained_accuracy_predictor(weights=fixture_dir / "acc_predictor.pth")


@pytest.fixture(scope="module")
def cases(fixture_dir):
    return json.loads((fixture_dir / "cases.json").read_text())


def test_matches_reference_predictions(predictor, cases):
    expected = np.asarray(cases["predictions"], np.float64).reshape(-1)
    np.testing.assert_allclose(predictor.predict(cases["archs"]), expected, rtol=0, atol=1e-5)


def test_input_forms_agree(predictor, cases):
    archs = cases["archs"][:8]
    reference = predictor.predict(archs)
    configs = [SubnetConfig.from_dict(a) for a in archs]
    as_int_r = [dict(a, r=a["r"][0]) for a in archs]
    np.testing.assert_array_equal(predictor.predict(configs), reference)
    np.testing.assert_array_equal(predictor.predict(as_int_r), reference)
    np.testing.assert_array_equal(predictor(ConfigBatch.from_configs(configs)), reference)
    # The resolution bin is (r - 112) // 16, as the tutorial's spec2feats.
    same_bin = predictor.predict([configs[0].with_resolution(r) for r in (160, 164, 175, 176)])
    assert same_bin[0] == same_bin[1] == same_bin[2] != same_bin[3]


def test_features_zero_skipped_blocks(predictor):
    config = SubnetConfig(ks=[7] * 20, e=[6] * 20, d=[2] * 5, r=224)
    features = predictor.features([config])[0]
    assert features.shape == (128,) and features.sum() == 10 + 10 + 1
    assert features[2] == 1 and features[60 + 2] == 1 and features[127] == 1  # k7, e6 of block 0; r bin 7
    assert features[2 * 3 : 4 * 3].sum() == 0  # blocks 2, 3 of stage 0 are skipped


def test_rejects_bad_input(predictor):
    with pytest.raises(ValueError, match="Invalid resolution r=100"):
        predictor.predict([SubnetConfig([3] * 20, [3] * 20, [2] * 5, 100)])
    with pytest.raises(ValueError, match="has no resolution"):
        predictor.predict([SubnetConfig([3] * 20, [3] * 20, [2] * 5)])
    with pytest.raises(ValueError, match=r"Invalid value for `ks`"):
        predictor.predict([{"ks": [9] * 20, "e": [3] * 20, "d": [2] * 5, "r": [160]}])


def test_is_an_evolution_objective(predictor):
    shape = NetworkShape.mobilenet_v3(width_mult=1.2)
    result = ofa_tf.evolution_search(predictor, predictor.space, [Constraint(MacsModel(shape), 300)],
                                     EvolutionConfig(population_size=16, n_generations=3), seed=0)
    assert result.score == pytest.approx(predictor.predict([result.config])[0])
    assert result.efficiency["macs"] <= 300 and result.config.r in predictor.space.resolutions


def test_wrong_file_and_download(fixture_dir, tmp_path, monkeypatch, http_server):
    with pytest.raises(ValueError, match="exactly one of"):
        ofa_tf.pretrained_accuracy_predictor()
    bad = tmp_path / "bad.pth"
    import torch

    torch.save({"layers.0.weight": torch.zeros(400, 124)}, bad)
    with pytest.raises(ValueError, match=r"unexpected keys \['layers.0.weight'\]"):
        ofa_tf.pretrained_accuracy_predictor(weights=bad)

    root = tmp_path / "files"
    root.mkdir()
    shutil.copy(fixture_dir / "acc_predictor.pth", root / "acc_predictor.pth")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OFA_TF_FILES_URL", (tmp_path / "offline").as_uri())
    with pytest.raises(ConnectionError, match=r"acc_predictor.pth.*weights='/path/to/acc_predictor.pth'"):
        ofa_tf.pretrained_accuracy_predictor(pretrained=True)
    monkeypatch.setenv("OFA_TF_FILES_URL", http_server(root))
    downloaded = ofa_tf.pretrained_accuracy_predictor(pretrained=True)
    assert (tmp_path / "home" / "ofa_tf" / "acc_predictor.pth").is_file()
    config = SubnetConfig([5] * 20, [4] * 20, [3] * 5, 192)
    local = ofa_tf.pretrained_accuracy_predictor(weights=fixture_dir / "acc_predictor.pth")
    assert downloaded.predict([config]) == pytest.approx(local.predict([config]))
