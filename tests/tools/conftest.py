"""Shared fixture: a small supernet, BN-recalibrated on digits through `export_subnet`, and its materialized
subnet briefly fine-tuned on digits.

A random-init subnet's logits barely separate images (its features are not linearly separable on digits), so
top-1 agreement between float and quantized models would measure noise. A few dozen training steps of the
materialized (stock-layer) subnet give class-separating logits, which the integer modes must reproduce.
"""
import dataclasses
import json

import keras
import numpy as np
import pytest

NET_ID = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
RESOLUTION = 16
N_VALIDATION = 128
FINE_TUNE_STEPS = 100


@dataclasses.dataclass
class Fixture:
    supernet: object
    config: object
    data: object
    keras_model: object  # the materialized subnet after fine-tuning (batch dimension free)
    images: np.ndarray  # normalized validation images
    labels: np.ndarray
    logits: np.ndarray  # Keras float logits of `images`
    weights_path: object
    config_path: object
    workdir: object
    calibration: object  # ExportResult of the export that ran BN recalibration
    exports: dict = dataclasses.field(default_factory=dict)


def _fine_tune(model, data, steps=FINE_TUNE_STEPS):
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.train(32, RESOLUTION, seed=0, repeat=True), steps_per_epoch=steps, epochs=1, verbose=0)


@pytest.fixture(scope="session")
def fx(tmp_path_factory):
    from ofa_tf.data import load_dataset
    from ofa_tf.families.mbconv.config import SubnetConfig
    from ofa_tf.zoo import ofa_net
    from tools import export_subnet

    keras.utils.set_random_seed(0)
    workdir = tmp_path_factory.mktemp("tools")
    supernet = ofa_net(NET_ID, n_classes=10)
    config = SubnetConfig(ks=[3, 5, 7, 5] * 5, e=[3, 4, 6, 4] * 5, d=[2, 3, 2, 2, 2], r=RESOLUTION)
    data = load_dataset("digits", validation_split=0.2, seed=0)
    calibration = export_subnet(supernet, config, workdir / "calibrated.tflite", data=data, calibrate_bn=128)
    weights_path = workdir / "supernet.weights.h5"
    supernet.save_weights(weights_path)
    config_path = workdir / "subnet.json"
    config.save(config_path)
    model = supernet.get_active_subnet(resolution=RESOLUTION)
    _fine_tune(model, data)
    images, labels = next(iter(data.validation(N_VALIDATION, RESOLUTION)))
    images = images.numpy()
    logits = np.concatenate([model(images[i : i + 1], training=False).numpy() for i in range(len(images))])
    return Fixture(supernet, config, data, model, images, labels.numpy(), logits, weights_path, config_path,
                   workdir, calibration)


@pytest.fixture(scope="session")
def exported(fx):
    """`exported(mode, **kwargs)` → ExportResult, each distinct export done once per session."""
    from tools import export_keras_model

    def get(mode, **kwargs):
        key = (mode, json.dumps(kwargs, sort_keys=True, default=str))
        if key not in fx.exports:
            kwargs = {"batch_size": 1, **kwargs}
            fx.exports[key] = export_keras_model(
                fx.keras_model, fx.workdir / f"{mode}_{len(fx.exports)}.tflite", quantize=mode, data=fx.data,
                subnet_config=fx.config.to_dict(), net_id=NET_ID, **kwargs,
            )
        return fx.exports[key]

    return get
