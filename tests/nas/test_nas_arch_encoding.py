import numpy as np
import pytest

from ofa_tf.nas import ArchEncoder
from ofa_tf.nas import ConfigBatch
from ofa_tf.nas import config_key
from ofa_tf.families.mbconv.space import SearchSpace
from ofa_tf.families.mbconv.config import SubnetConfig

SPACE = SearchSpace(resolutions=(128, 160, 192, 224))


def _random_configs(n, seed=0, space=SPACE):
    rng = np.random.default_rng(seed)
    return [space.sample(rng).with_resolution(int(rng.choice(space.resolutions))) for _ in range(n)]


@pytest.mark.parametrize("resolutions, n_dim", [((128, 160, 192, 224), 124), ((224,), 121)])
def test_n_dim_matches_reference(resolutions, n_dim):
    encoder = ArchEncoder(SPACE, resolutions)
    assert encoder.n_dim == n_dim
    assert encoder.encode([SPACE.max_config(r=224)]).shape == (1, n_dim)


def test_layout_and_zeros_for_skipped_blocks():
    encoder = ArchEncoder(SPACE)
    ks = [3, 5, 7, 7] + [5] * 16
    e = [6, 4, 3, 3] + [4] * 16
    config = SubnetConfig(ks, e, d=(2, 4, 3, 2, 4), r=160)
    x = encoder.encode(config)[0]
    assert x[:4].tolist() == [0, 1, 0, 0]
    ks_part = x[4 : 4 + 60].reshape(20, 3)
    e_part = x[64:].reshape(20, 3)
    assert ks_part[0].tolist() == [1, 0, 0] and ks_part[1].tolist() == [0, 1, 0]
    assert e_part[0].tolist() == [0, 0, 1] and e_part[1].tolist() == [0, 1, 0]
    skipped = [2, 3, 11, 14, 15]  # stage 0 keeps 2 of 4, stage 2 keeps 3, stage 3 keeps 2
    active = [b for b in range(20) if b not in skipped]
    assert not ks_part[skipped].any() and not e_part[skipped].any()
    assert (ks_part[active].sum(axis=1) == 1).all() and (e_part[active].sum(axis=1) == 1).all()
    assert x.sum() == 1 + 2 * len(active)


def test_configs_differing_only_in_skipped_blocks_encode_equal():
    encoder = ArchEncoder(SPACE)
    a = SubnetConfig([3] * 20, [3] * 20, (2,) * 5, 128)
    b = SubnetConfig([3, 3, 7, 7] * 5, [3, 3, 6, 6] * 5, (2,) * 5, 128)
    np.testing.assert_array_equal(encoder.encode([a]), encoder.encode([b]))


def test_round_trip_batch():
    encoder = ArchEncoder(SPACE)
    configs = _random_configs(200)
    features = encoder.encode(configs)
    decoded = encoder.decode(features)
    assert [config_key(c) for c in decoded] == [config_key(c) for c in configs]
    np.testing.assert_array_equal(encoder.encode(decoded), features)
    for config in decoded:
        SPACE.validate(config)


def test_encode_accepts_batches_and_single_configs():
    encoder = ArchEncoder(SPACE)
    configs = _random_configs(5)
    np.testing.assert_array_equal(encoder.encode(ConfigBatch.from_configs(configs)), encoder.encode(configs))
    np.testing.assert_array_equal(encoder.encode(configs[2]), encoder.encode(configs)[2:3])


def test_resolution_not_in_list_is_a_clear_error():
    encoder = ArchEncoder(SPACE)
    with pytest.raises(ValueError, match=r"expected one of \[128, 160, 192, 224\]\. Received r=176"):
        encoder.encode([SPACE.max_config(r=176)])
    with pytest.raises(ValueError, match="no resolution"):
        encoder.encode([SPACE.max_config()])


def test_bad_choice_is_a_clear_error():
    encoder = ArchEncoder(SPACE)
    bad = SubnetConfig([4] + [3] * 19, [3] * 20, (2,) * 5, 224)
    with pytest.raises(ValueError, match=r"`ks`.*\[3, 5, 7\].*ks=4"):
        encoder.encode([bad])


def test_decode_rejects_non_prefix_blocks():
    encoder = ArchEncoder(SPACE)
    x = encoder.encode([SPACE.min_config(r=224)])
    x[0, 4 + 3 * 3] = 1  # ks bit of block 3 (a skipped block of stage 0)
    x[0, 64 + 3 * 3] = 1
    with pytest.raises(ValueError, match="prefix"):
        encoder.decode(x)


def test_proxyless_layout_as_the_reference_mbv2_encoder():
    """21 blocks in 6 stages (the last of one block): (n_stage - 1) * max_depth + 1 block slots, as the reference's
    `MobileNetArchEncoder` for "mbv2" spaces; the final stage's depth is 1."""
    space = SearchSpace(n_stages=6, resolutions=(160, 224), stage_depths=(4, 4, 4, 4, 4, 1))
    encoder = ArchEncoder(space)
    assert encoder.n_dim == 2 + 21 * 3 + 21 * 3
    configs = _random_configs(20, seed=3, space=space)
    batch = ConfigBatch.from_configs(configs)
    assert batch.stage_depths == (4, 4, 4, 4, 4, 1) and batch.active_mask()[:, -1].all()
    decoded = encoder.decode(encoder.encode(configs))
    assert [config_key(c) for c in decoded] == [config_key(c) for c in configs]
    x = encoder.encode(space.min_config(r=224))[0]
    assert x[2 + 20 * 3] == 1 and x[2 + 63 + 20 * 3] == 1  # the final block (ks 3, e 3) is always encoded
    with pytest.raises(ValueError, match=r"expected one of \[1\]. Received d=2"):
        encoder.encode(SubnetConfig([3] * 21, [3] * 21, (2,) * 6, r=224))
    with pytest.raises(ValueError, match="do not fill 6 stages"):
        ConfigBatch(np.zeros((1, 19)), np.zeros((1, 19)), np.zeros((1, 6)), np.zeros(1))


def test_stage_encoder_layout():
    from ofa_tf.nas import StageEncoder

    encoder = StageEncoder(SPACE)
    assert encoder.n_dim == 4 + 3 * 5 == 19
    ks = [3, 5, 7, 7] + [5] * 16
    e = [6, 4, 3, 3] + [4] * 16
    x = encoder.encode(SubnetConfig(ks, e, d=(2, 4, 3, 2, 4), r=160))[0]
    assert x[:4].tolist() == [0, 1, 0, 0]
    stages = x[4:].reshape(5, 3)
    # stage 0 runs blocks 0-1 of 4: kernels 3 and 5, expands 6 and 4 (the skipped 7s and 3s do not count)
    np.testing.assert_allclose(stages[0], [2 / 4, 4 / 7, 5 / 6], rtol=1e-6)
    np.testing.assert_allclose(stages[2], [3 / 4, 5 / 7, 4 / 6], rtol=1e-6)
    np.testing.assert_allclose(stages[:, 0], [2 / 4, 4 / 4, 3 / 4, 2 / 4, 4 / 4])


def test_stage_encoder_rejects_configs_outside_the_space():
    from ofa_tf.nas import StageEncoder

    with pytest.raises(ValueError, match="Received ks=4"):
        StageEncoder(SPACE).encode(SubnetConfig([4] * 20, [3] * 20, (2,) * 5, 128))
    with pytest.raises(ValueError, match="expected one of \\[128, 160, 192, 224\\]"):
        StageEncoder(SPACE).encode(SubnetConfig([3] * 20, [3] * 20, (2,) * 5, 100))


def test_arch_encoder_features():
    from ofa_tf.nas import StageEncoder
    from ofa_tf.nas import arch_encoder
    from ofa_tf.families.resnet.space import ResNetSearchSpace

    assert isinstance(arch_encoder(SPACE), ArchEncoder)
    assert isinstance(arch_encoder(SPACE, features="stage"), StageEncoder)
    with pytest.raises(ValueError, match="Unknown features 'layer': expected one of block, stage"):
        arch_encoder(SPACE, features="layer")
    with pytest.raises(ValueError, match="OFA-ResNets take features='block'"):
        arch_encoder(ResNetSearchSpace(), features="stage")
