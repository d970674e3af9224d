"""Shared helpers of the training tests (a tiny supernet, randomized BN, data for replica checks)."""
import dataclasses

import numpy as np


def tiny_supernet(n_classes=10, ks_list=(3, 5), expand_list=(2, 3), depth_list=(1, 2), dropout_rate=0.1, seed=0):
    """A fast supernet for tests: width 0.25, 2 blocks per stage, small-image strides."""
    import keras

    from ofa_tf.families.mobilenet_v3.supernet import OFAMobileNetV3

    keras.utils.set_random_seed(seed)
    return OFAMobileNetV3(
        n_classes=n_classes, width_mult=0.25, ks_list=ks_list, expand_list=expand_list, depth_list=depth_list,
        dropout_rate=dropout_rate, first_stride=2, stage_strides=(1, 2, 2, 1, 2), resolutions=(16, 20, 24),
    )


def randomize_bn(net, seed=0):
    """Non-trivial BN statistics and affine parameters, so invariance tests can fail."""
    rng = np.random.default_rng(seed)
    for v in net.variables:
        leaf = v.path.rsplit("/", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
        elif leaf in ("beta", "moving_mean", "reduce_bias", "expand_bias"):
            v.assign(rng.normal(0, 0.2, v.shape).astype(np.float32))




def tiny_proxyless(n_classes=10, dropout_rate=0.1, seed=0):
    """A fast ProxylessNAS supernet: width 0.5, ks {3, 5}, e {2, 3}, d {1, 2}, small-image strides."""
    import keras

    from ofa_tf.families.proxyless.supernet import OFAProxylessNASNets

    keras.utils.set_random_seed(seed)
    return OFAProxylessNASNets(
        n_classes=n_classes, width_mult=0.5, ks_list=(3, 5), expand_list=(2, 3), depth_list=(1, 2),
        dropout_rate=dropout_rate, first_stride=2, stage_strides=(1, 2, 2, 1, 2, 1), resolutions=(16, 20, 24),
    )


@dataclasses.dataclass
class RepeatedHalves:
    """`ImageData` whose training batches are [A; A] for A a half batch of `base`: each of 2 replicas sees the
    whole batch's images, so batch-norm statistics match a single-device run and the summed gradients must too."""

    base: object

    def __getattr__(self, name):
        return getattr(self.base, name)

    def train(self, batch_size, resolutions, **kwargs):
        import tensorflow as tf

        half = self.base.train(batch_size // 2, resolutions, **kwargs)
        return half.map(lambda x, y: (tf.concat([x, x], 0), tf.concat([y, y], 0)))
