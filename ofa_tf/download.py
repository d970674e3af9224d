"""Fetching the reference's released files (raw.githubusercontent.com/han-cai/files) into a local cache."""
from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from ofa_tf.files import atomic_path

FILES_URL_ENV = "OFA_TF_FILES_URL"
FILES_URL = "https://raw.githubusercontent.com/han-cai/files/master/ofa"
"""Root of the reference's released files (ofa/model_zoo.py, ofa/tutorial/accuracy_predictor.py); any
http(s):// or file:// URL with the same layout can replace it through $OFA_TF_FILES_URL."""


def files_url() -> str:
    return os.environ.get(FILES_URL_ENV, FILES_URL).rstrip("/")


def cache_dir() -> Path:
    """`$KERAS_HOME/ofa_tf` (default `~/.keras/ofa_tf`), where downloads are kept."""
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "ofa_tf"


def fetch(relative: str, target: Path) -> Path:
    """`target`, downloaded from `files_url()/relative` unless present; written atomically (no partial file)."""
    if target.is_file():
        return target
    with atomic_path(target) as tmp, urllib.request.urlopen(f"{files_url()}/{relative}", timeout=60) as response, \
            open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    return target
