import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from ofa_tf._shared_data import ENV_VAR  # noqa: E402
from ofa_tf._shared_data import shared_dir  # noqa: E402


@pytest.fixture(scope="session")
def shared():
    """Path to ../shared (or $OFA_TF_SHARED); skips the test when it is absent."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}; set {ENV_VAR} to the shared/ folder")
    return path
