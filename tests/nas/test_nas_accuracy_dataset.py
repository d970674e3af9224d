import json

import numpy as np
import pytest

from ofa_tf.nas import AccuracyDataset
from ofa_tf.nas import build_accuracy_dataset
from ofa_tf.nas import config_key
from ofa_tf.families.mbconv.space import SearchSpace

SPACE = SearchSpace()
RESOLUTIONS = (128, 160, 192, 224)


def _accuracy(config):
    return 0.5 + 0.01 * sum(config.d) + config.r / 10000


class Interrupted(Exception):
    pass


def test_builds_distinct_subnets_with_resolutions_from_the_list(tmp_path):
    cache = tmp_path / "acc.jsonl"
    configs, accs = build_accuracy_dataset(_accuracy, SPACE, 40, cache, RESOLUTIONS, seed=1, verbose=False)
    assert len(configs) == 40 and len({config_key(c) for c in configs}) == 40
    assert {c.r for c in configs} <= set(RESOLUTIONS)
    np.testing.assert_allclose(accs, [_accuracy(c) for c in configs])
    loaded = AccuracyDataset.load(tmp_path / "acc.jsonl")
    assert len(loaded) == 40
    assert sorted(config_key(c) for c in loaded.configs) == sorted(config_key(c) for c in configs)


def test_resumes_without_re_evaluating(tmp_path):
    cache = tmp_path / "acc.jsonl"
    calls = []

    def flaky(config):
        if len(calls) == 7:
            raise Interrupted
        calls.append(config_key(config))
        return _accuracy(config)

    with pytest.raises(Interrupted):
        build_accuracy_dataset(flaky, SPACE, 20, cache, RESOLUTIONS, seed=3, verbose=False)
    assert len(cache.read_text().splitlines()) == 7
    with cache.open("a") as f:  # an interrupted write leaves half a line behind
        f.write('{"config": {"ks": [3, 5')

    counted = []

    def evaluate(config):
        counted.append(config_key(config))
        return _accuracy(config)

    configs, accs = build_accuracy_dataset(evaluate, SPACE, 20, cache, RESOLUTIONS, seed=3, verbose=False)
    assert len(counted) == 13
    assert not set(counted) & set(calls)
    np.testing.assert_allclose(accs, [_accuracy(c) for c in configs])
    lines = cache.read_text().splitlines()
    assert len(lines) == 20 and all(json.loads(line)["acc"] > 0 for line in lines)

    counted.clear()
    again, accs_again = build_accuracy_dataset(evaluate, SPACE, 20, cache, RESOLUTIONS, seed=3, verbose=False)
    assert counted == [] and again == configs
    np.testing.assert_array_equal(accs_again, accs)


def test_accuracy_out_of_range_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"75.*\[0, 1\]"):
        build_accuracy_dataset(lambda c: 75.0, SPACE, 3, tmp_path / "acc.jsonl", RESOLUTIONS, verbose=False)


def test_malformed_cache_line_names_the_line(tmp_path):
    cache = tmp_path / "acc.jsonl"
    good = json.dumps({"config": SPACE.min_config(r=128).to_dict(), "acc": 0.5})
    cache.write_text(good + "\nnot json\n")
    with pytest.raises(ValueError, match="line 2"):
        AccuracyDataset.load(cache)


def test_split_is_seeded_and_disjoint(tmp_path):
    configs, accs = build_accuracy_dataset(_accuracy, SPACE, 50, tmp_path / "a.jsonl", RESOLUTIONS, verbose=False)
    dataset = AccuracyDataset(configs, accs)
    train, val = dataset.split(0.2, seed=5)
    assert (len(train), len(val)) == (40, 10)
    assert not {config_key(c) for c in train.configs} & {config_key(c) for c in val.configs}
    assert dataset.split(0.2, seed=5)[1].configs == val.configs


def test_evaluation_noise_is_the_binomial_standard_error():
    from ofa_tf.nas import evaluation_noise

    assert evaluation_noise([0.5], 100) == pytest.approx(0.05)
    # root mean square over subnets: (0.9 * 0.1 + 0.5 * 0.5) / 2 = 0.17 on 400 images
    assert evaluation_noise([0.9, 0.5], 400) == pytest.approx(np.sqrt(0.17 / 400))
    assert evaluation_noise([1.0, 0.0], 50) == 0.0
    with pytest.raises(ValueError, match="n_images=0"):
        evaluation_noise([0.5], 0)
    with pytest.raises(ValueError, match="1.5"):
        evaluation_noise([1.5], 10)
