import numpy as np
import pytest

from ofa_tf.families.resnet import ResNetConfig
from ofa_tf.families.resnet import ResNetSearchSpace


def test_lengths_match_reference_arch_dicts():
    space = ResNetSearchSpace()
    assert space.lengths == {"d": 5, "e": 18, "w": 6}
    assert space.stage_blocks == (4, 4, 6, 4)


def test_size_counts_distinct_subnets():
    space = ResNetSearchSpace()
    # stem: skip or not x 3 x 3 widths; stage with base b: 3 widths x (3^b + 3^(b+1) + 3^(b+2)) expand choices.
    stage = {b: 3 * (3**b + 3 ** (b + 1) + 3 ** (b + 2)) for b in (2, 4)}
    assert space.size() == 2 * 9 * stage[2] ** 3 * stage[4]
    single = ResNetSearchSpace(depth_list=(1,), expand_list=(0.25,), n_widths=1)
    assert single.size() == 1


def test_sample_follows_reference_distribution():
    space = ResNetSearchSpace()
    configs = [space.sample(np.random.default_rng(i)) for i in range(200)]
    assert {c.d[0] for c in configs} == {0, 2}  # the stem skip is drawn from {max, min} only
    assert {v for c in configs for v in c.d[1:]} == {0, 1, 2}
    assert {v for c in configs for v in c.e} == {0.2, 0.25, 0.35}
    assert {v for c in configs for v in c.w} == {0, 1, 2}
    for c in configs[:5]:
        space.validate(c)
    assert space.sample(0, with_resolution=True).r in space.resolutions


def test_expand_broadcasts_keeps_none_and_rejects_bad_values():
    space = ResNetSearchSpace()
    config = space.expand(d=1, e=0.25, w=[0, 1, None, 2, 2, 2], base=space.max_config())
    assert config.d == (1,) * 5 and config.e == (0.25,) * 18 and config.w == (0, 1, 2, 2, 2, 2)
    with pytest.raises(ValueError, match=r"`e`\[0\].*0.3"):
        space.expand(e=0.3)
    with pytest.raises(ValueError, match="`w` must be a number or a list of length 6"):
        space.expand(w=[0, 1])
    with pytest.raises(ValueError, match=r"`w`\[0\].*Received w=3"):
        space.expand(w=3)


def test_config_round_trip_and_errors(tmp_path):
    config = ResNetConfig([2, 0, 1, 2, 0], [0.2] * 18, [0, 1, 2, 0, 1, 2], r=160)
    config.save(tmp_path / "c.json")
    assert ResNetConfig.load(tmp_path / "c.json") == config
    assert ResNetConfig.from_dict({**config.to_dict(), "r": [160]}) == config
    with pytest.raises(ValueError, match="'ks'"):
        ResNetConfig.from_dict({**config.to_dict(), "ks": [3]})
    with pytest.raises(ValueError, match="'w'"):
        ResNetConfig.from_dict({"d": config.d, "e": config.e})
