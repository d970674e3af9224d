import json

import numpy as np
import pytest
import tensorflow as tf
from ps_helpers import randomize_bn
from ps_helpers import tiny_supernet

from ofa_tf.families.mbconv.config import SubnetConfig
from ofa_tf.training.evaluation import evaluate
from ofa_tf.training.evaluation import parse_subnets


def test_parse_subnets(tmp_path):
    net = tiny_supernet()
    space = net.search_space
    named = parse_subnets("max,min,random:3", space, seed=1)
    assert [n for n, _ in named] == ["max", "min", "random_0", "random_1", "random_2"]
    assert named[0][1] == space.max_config() and named[1][1] == space.min_config()
    assert [c for _, c in parse_subnets("random:3", space, seed=1)] == [c for _, c in named[2:]]
    path = tmp_path / "subnets.json"
    path.write_text(json.dumps({"a": space.min_config().to_dict(), "b": space.max_config().to_dict()}))
    assert [(n, c) for n, c in parse_subnets(str(path), space)] == [("a", space.min_config()), ("b", space.max_config())]
    path.write_text(json.dumps([space.max_config().to_dict()]))
    assert parse_subnets(str(path), space)[0][1] == space.max_config()
    for bad in ("largest", "random:x", "random:0", ""):
        with pytest.raises(ValueError, match="subnet"):
            parse_subnets(bad, space)
    with pytest.raises(FileNotFoundError):
        parse_subnets(str(tmp_path / "missing.json"), space)


@pytest.mark.slow
def test_evaluate_matches_manual_accuracy_and_restores_state(digits):
    net = tiny_supernet()
    randomize_bn(net)
    stats = {v.path: v.numpy().copy() for v in net.non_trainable_variables if "moving_" in v.path}
    active = net.get_active_config()
    results = evaluate(net, digits, "max,min", calibrate_bn=64, resolution=16, batch_size=50)
    assert [r.name for r in results] == ["max", "min"]
    for v in net.non_trainable_variables:
        if "moving_" in v.path:
            np.testing.assert_array_equal(v.numpy(), stats[v.path])
    assert net.get_active_config() == active

    # The same number by hand: calibrate, then count correct argmax / top-5 predictions.
    from ofa_tf.calibrate import calibrate_bn

    config = net.search_space.min_config()
    calibrate_bn(net, digits.calibration(16, n_images=64, batch_size=64), config)
    correct1 = correct5 = n = 0
    for images, labels in digits.validation(50, 16):
        logits = net(images, training=False).numpy()
        top5 = np.argsort(-logits, axis=1)[:, :5]
        correct1 += int((top5[:, 0] == labels.numpy()).sum())
        correct5 += int((top5 == labels.numpy()[:, None]).any(axis=1).sum())
        n += len(labels)
    assert results[1].n_images == n == digits.num_validation
    assert results[1].top1 == pytest.approx(correct1 / n)
    assert results[1].top5 == pytest.approx(correct5 / n)
    assert results[1].config == config.with_resolution(16)


def test_evaluate_on_a_dataset_and_subnet_resolution():
    net = tiny_supernet(n_classes=3)
    x = tf.random.stateless_normal([12, 20, 20, 3], seed=[0, 1])
    ds = tf.data.Dataset.from_tensor_slices((x, tf.constant([0, 1, 2] * 4))).batch(6)
    config = SubnetConfig(**{k: v for k, v in net.search_space.max_config().to_dict().items()}, r=20)
    (result,) = evaluate(net, ds, [config], calibrate_bn=12)
    assert result.resolution == 20 and result.n_images == 12
    assert result.top5 == 1.0  # only 3 classes: top-k clips to k=3
