"""`ofa_net(..., new_classifier=True)` / `load_body`: a trained supernet brought to other classes."""
import logging

import numpy as np
import pytest

from ofa_tf.zoo import load_body
from ofa_tf.zoo import ofa_net

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


def _body_and_head(net):
    head = {id(v) for v in net.classifier.weights}
    return [v for v in net.weights if id(v) not in head], list(net.classifier.weights)


def test_new_classifier_keeps_every_other_weight_bit_exact(tiny_weights, caplog):
    source = ofa_net(TINY, n_classes=10, weights=tiny_weights)
    with caplog.at_level(logging.INFO, logger="ofa_tf.zoo"):
        net = ofa_net(TINY, n_classes=4, weights=tiny_weights, new_classifier=True)
    body, head = _body_and_head(net)
    source_body, source_head = _body_and_head(source)
    assert len(body) == len(source_body) > 300
    for mine, theirs in zip(body, source_body):
        assert mine.path == theirs.path
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert [tuple(v.shape) for v in head] == [(640, 4), (4,)]
    assert [tuple(v.shape) for v in source_head] == [(640, 10), (10,)]
    for variable in head:  # a new head starting at zero, not a slice of the old one
        np.testing.assert_array_equal(variable.numpy(), np.zeros(variable.shape, np.float32))
    lines = [r.getMessage() for r in caplog.records if r.name == "ofa_tf.zoo"]
    assert len(lines) == 1 and "10-class classifier" in lines[0] and "new 4-class classifier" in lines[0]
    assert net.weights_source == str(tiny_weights.resolve())


def test_class_count_mismatch_without_the_flag_is_still_refused(tiny_weights):
    with pytest.raises(ValueError, match=r"with 10 classes, not to .* with 4 classes.*--new-classifier"):
        ofa_net(TINY, n_classes=4, weights=tiny_weights)
    with pytest.raises(ValueError, match="new_classifier=True replaces the classifier of loaded weights"):
        ofa_net(TINY, n_classes=4, new_classifier=True)


def test_new_classifier_still_refuses_another_network(tiny_weights):
    with pytest.raises(ValueError, match="belong to ofa_mbv3_tiny"):
        ofa_net("ofa_proxyless_tiny_d234_e346_k357_w0.5", n_classes=4, weights=tiny_weights, new_classifier=True)


def test_load_body_of_the_reference_imagenet_checkpoint(shared):
    """The reference's 1000-class .pth (random weights, `shared/reference/ofa_mbv3_w1.0`) on 10 classes."""
    pytest.importorskip("torch", reason="reading .pth needs the torch extra")
    path = shared / "reference" / "ofa_mbv3_w1.0" / "ofa_mbv3_w1.0.pth"
    net_id = "ofa_mbv3_d234_e346_k357_w1.0"
    imagenet = ofa_net(net_id, weights=path)
    net = ofa_net(net_id, n_classes=10)
    assert load_body(net, path) == 1000
    body, head = _body_and_head(net)
    for mine, theirs in zip(body, _body_and_head(imagenet)[0]):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert tuple(head[0].shape) == (1280, 10)
