"""The released OFA-ResNet50 accuracy predictor (tutorial/ofa_resnet50_example.ipynb): parity with the reference's
predictions on 64 fixture subnets, the input forms, and its use as a search objective."""
import json

import numpy as np
import pytest

import ofa_tf
from ofa_tf.nas import Constraint
from ofa_tf.nas import EvolutionConfig
from ofa_tf.nas import ReferenceResNetAccuracyPredictor
from ofa_tf.nas import ResNetBatch
from ofa_tf.nas import ResNetMacsModel
from ofa_tf.families.resnet.config import ResNetConfig
from ofa_tf.zoo import ofa_net


@pytest.fixture(scope="module")
def released(shared):
    return shared / "reference" / "released"


@pytest.fixture(scope="module")
def predictor(released):
    weights = released / "ofa_resnet50_acc_predictor.pth"
    return ofa_tf.pretrained_accuracy_predictor(net_id="ofa_resnet50", weights=weights)


@pytest.fixture(scope="module")
def cases(released):
    return json.loads((released / "ofa_resnet50_acc_predictor_cases.json").read_text())


def test_matches_the_reference_predictions(predictor, cases):
    assert isinstance(predictor, ReferenceResNetAccuracyPredictor) and predictor.net_id == "ofa_resnet50"
    assert cases["image_size_list"] == list(predictor.resolutions) == [128, 144, 160, 176, 192, 224, 240, 256]
    predicted = predictor.predict(cases["archs"])
    expected = np.asarray(cases["predictions"], np.float64)
    assert predicted.shape == (64,) and np.abs(predicted - expected).max() < 1e-5
    assert 0.75 < expected.min() and expected.max() < 0.83  # ImageNet top-1 fractions, not a random MLP


def test_input_forms_agree(predictor, cases):
    archs = cases["archs"][:6]
    reference = predictor.predict(archs)
    configs = [ResNetConfig.from_dict(a) for a in archs]
    assert all(c.r == a["image_size"] for c, a in zip(configs, archs))
    np.testing.assert_array_equal(predictor.predict(configs), reference)
    np.testing.assert_array_equal(predictor([dict(a, r=a.pop("image_size")) for a in map(dict, archs)]), reference)
    np.testing.assert_array_equal(predictor.predict_batch(ResNetBatch.coerce(configs)), reference)
    np.testing.assert_array_equal(predictor.predict(archs[0]), reference[:1])


def test_features_are_the_reference_encoding(predictor):
    config = ResNetConfig(d=[2, 0, 1, 2, 0], e=[0.35] * 18, w=[0, 1, 2, 0, 1, 2], r=240)
    features = predictor.features([config])[0]
    assert features.shape == (82,)
    assert features[:8].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]  # r one-hot over the notebook's 8 image sizes
    assert features[8:10].tolist() == [0, 1]  # the stem's residual conv runs (d[0] = 2)
    assert features[10:28].reshape(6, 3).argmax(axis=1).tolist() == [0, 1, 2, 0, 1, 2]
    active = features[28:].reshape(18, 3).sum(axis=1)
    assert active.tolist() == [1, 1, 0, 0] + [1, 1, 1, 0] + [1] * 6 + [1, 1, 0, 0]  # base 2, 2, 4, 2 + d


def test_rejects_bad_input(predictor, released):
    config = ResNetConfig(d=[0] * 5, e=[0.2] * 18, w=[0] * 6)
    with pytest.raises(ValueError, match="has no resolution"):
        predictor.predict([config])
    with pytest.raises(ValueError, match=r"Invalid value for `r`: expected one of \[128, 144, .*256\]. Received r=208"):
        predictor.predict([config.with_resolution(208)])
    with pytest.raises(ValueError, match="No pretrained accuracy predictor for net_id='ofa_resnet50_tiny'"):
        ofa_tf.pretrained_accuracy_predictor(net_id="ofa_resnet50_tiny", weights=released / "acc_predictor.pth")
    with pytest.raises(ValueError, match="is not the OFA-ResNet50 accuracy predictor: unexpected keys"):
        ofa_tf.pretrained_accuracy_predictor(net_id="ofa_resnet50", weights=released / "acc_predictor.pth")
    # The default net id stays the w1.2 MobileNetV3's.
    assert ofa_tf.pretrained_accuracy_predictor(weights=released / "acc_predictor.pth").net_id == (
        "ofa_mbv3_d234_e346_k357_w1.2")


def test_is_a_search_objective_over_the_resolutions_it_encodes(predictor):
    net = ofa_net("ofa_resnet50")
    result = ofa_tf.evolution_search(predictor, predictor.space, [Constraint(ResNetMacsModel(net), 2000)],
                                     EvolutionConfig(population_size=32, n_generations=20), seed=0)
    assert result.resolutions == (128, 144, 160, 176, 192, 224)  # the ofa_resnet50 space's that it encodes
    assert result.score == pytest.approx(predictor.predict([result.config])[0])
    assert result.efficiency["macs"] <= 2000 and {c.r for c in result.population} <= set(result.resolutions)


def test_download_and_offline_error(released, tmp_path, monkeypatch, http_server):
    import shutil

    root = tmp_path / "files"
    root.mkdir()
    shutil.copy(released / "ofa_resnet50_acc_predictor.pth", root / "ofa_resnet50_acc_predictor.pth")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OFA_TF_FILES_URL", (tmp_path / "offline").as_uri())
    with pytest.raises(ConnectionError, match=r"ofa_resnet50_acc_predictor.pth.*weights='/path/to/"
                                              r"ofa_resnet50_acc_predictor.pth'"):
        ofa_tf.pretrained_accuracy_predictor(pretrained=True, net_id="ofa_resnet50")
    monkeypatch.setenv("OFA_TF_FILES_URL", http_server(root))
    downloaded = ofa_tf.pretrained_accuracy_predictor(pretrained=True, net_id="ofa_resnet50")
    assert (tmp_path / "home" / "ofa_tf" / "ofa_resnet50_acc_predictor.pth").is_file()
    assert isinstance(downloaded, ReferenceResNetAccuracyPredictor)
