import numpy as np

from ofa_tf.layers import ElasticSE
from ofa_tf.utils import make_divisible


def np_se(x, wr, br, we, be):
    y = x.mean(axis=(1, 2))
    y = np.maximum(y @ wr + br, 0)
    y = y @ we + be
    y = np.clip(y + 3, 0, 6) / 6
    return x * y[:, None, None, :]


def test_hidden_width_follows_active_channels():
    rng = np.random.default_rng(0)
    layer = ElasticSE(144)
    layer.build(None)
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    assert layer.max_hidden == 40  # make_divisible(144 // 4), as the reference's SEModule (pytorch_modules.py)
    for c in (144, 96, 72):
        hidden = make_divisible(c // 4)
        x = rng.normal(size=(2, 4, 4, c)).astype("float32")
        expected = np_se(
            x, layer.reduce_kernel.numpy()[:c, :hidden], layer.reduce_bias.numpy()[:hidden],
            layer.expand_kernel.numpy()[:hidden, :c], layer.expand_bias.numpy()[:c],
        )
        np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_make_divisible_matches_the_reference_se_widths():
    # SE widths of the reference OFA-MobileNetV3 w1.0 and w1.2 (ofa/utils/pytorch_modules.py, SEModule).
    mids = {72: 24, 96: 24, 144: 40, 120: 32, 160: 40, 240: 64, 480: 120, 336: 88, 448: 112, 672: 168,
            408: 104, 816: 208, 1152: 288, 576: 144, 768: 192}
    assert {m: make_divisible(m // 4) for m in mids} == mids
