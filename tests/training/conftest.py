import pytest


@pytest.fixture(scope="session")
def digits():
    """sklearn digits (offline), 20% held out."""
    from ofa_tf.data import load_dataset

    return load_dataset("digits", validation_split=0.2, seed=0)
