"""`train(..., init_weights=W, new_classifier=True)`: a supernet trained on other classes moved to the data's."""
import json
import logging

import numpy as np
import pytest
from cli_checks import image_folder

from ofa_tf.training import train
from ofa_tf.training.config import TrainConfig
from ofa_tf.zoo import ofa_net

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
OPTIONS = dict(task="full", epochs=1, batch_size=4, steps_per_epoch=1, validate=False, verbose=0, lr=1e-9,
               warmup_epochs=0)


@pytest.fixture
def three_classes(tmp_path):
    return image_folder(tmp_path / "images", ["ant", "bee", "cat"], per_class=4)


@pytest.mark.slow
def test_train_moves_a_supernet_to_new_classes(tmp_path, tiny_weights, three_classes, caplog):
    with caplog.at_level(logging.INFO, logger="ofa_tf"):
        result = train(TINY, three_classes, tmp_path / "run", init_weights=str(tiny_weights), new_classifier=True,
                       **OPTIONS)
    net = result.supernet
    assert tuple(net.classifier.kernel.shape) == (640, 3)
    source = ofa_net(TINY, n_classes=10, weights=tiny_weights)
    kernels = [(a, b) for a, b in zip(net.weights, source.weights) if a.path.endswith("/kernel")
               and "classifier" not in a.path]
    assert len(kernels) > 50
    for mine, theirs in kernels:  # one step at lr 1e-9: the body is the file's
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-6)
    assert any("new 3-class classifier" in r.getMessage() for r in caplog.records)
    recorded = json.loads((tmp_path / "run" / "config_full.json").read_text())["initial_weights"]
    assert recorded == {"path": str(tiny_weights.resolve()), "new_classifier": True, "net": TINY, "n_classes": 10}


def test_class_count_mismatch_without_new_classifier_is_refused(tmp_path, tiny_weights, three_classes):
    with pytest.raises(ValueError, match="with 10 classes, not to .* with 3 classes"):
        train(TINY, three_classes, tmp_path / "run", init_weights=str(tiny_weights), **OPTIONS)


def test_new_classifier_needs_init_weights():
    with pytest.raises(ValueError, match="new_classifier=True replaces the classifier of the starting weights"):
        TrainConfig(new_classifier=True)
