"""Where tests and benchmarks find the shared reference data (never copied into the repo)."""
import os
from pathlib import Path

ENV_VAR = "OFA_TF_SHARED"


def shared_dir() -> Path:
    """`$OFA_TF_SHARED`, or `../shared` next to the repository root."""
    default = Path(__file__).resolve().parents[1].parent / "shared"
    return Path(os.environ.get(ENV_VAR, default))
