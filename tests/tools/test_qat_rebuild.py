"""The tf_keras rebuild used for QAT computes exactly what the Keras 3 subnet computes."""
import numpy as np
import pytest


def test_tf_keras_rebuild_matches_keras3(fx):
    from tools.qat import to_tf_keras

    rebuilt = to_tf_keras(fx.keras_model, annotate=False)
    out = rebuilt(fx.images[:8], training=False).numpy()
    np.testing.assert_allclose(out, fx.logits[:8], atol=1e-5 * np.abs(fx.logits).max())
    names = [layer.name for layer in rebuilt.layers]
    gates = [n for n in names if n.endswith("_se_gate")]
    assert gates and all(f"{g}_add3" in names and f"{g}_relu6" in names for g in gates)


def test_unsupported_layer_is_named():
    import keras

    from tools.qat import to_tf_keras

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.MaxPooling2D(name="pool_x")(inputs))
    with pytest.raises(ValueError, match="Layer 'pool_x' of type MaxPooling2D has no tf_keras QAT equivalent"):
        to_tf_keras(model)


def test_importing_qat_leaves_the_keras_setting_alone():
    import os

    import tensorflow as tf

    import tools.qat  # noqa: F401

    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert tf.keras.__name__.startswith("keras")
