"""Fetching the reference's released files (raw.githubusercontent.com/han-cai/files) into a local cache."""
from __future__ import annotations

import logging
import os
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ofa_tf.files import atomic_path

logger = logging.getLogger(__name__)

FILES_URL_ENV = "OFA_TF_FILES_URL"
FILES_URL = "https://raw.githubusercontent.com/han-cai/files/master/ofa"
"""Root of the reference's released files (ofa/model_zoo.py, ofa/tutorial/accuracy_predictor.py); any
http(s):// or file:// URL with the same layout can replace it through $OFA_TF_FILES_URL."""


class BrokenDownloadError(ValueError):
    """A download arrived but does not read (truncated, or another file): it was not cached."""


def files_url() -> str:
    return os.environ.get(FILES_URL_ENV, FILES_URL).rstrip("/")


def cache_dir() -> Path:
    """`$KERAS_HOME/ofa_tf` (default `~/.keras/ofa_tf`), where downloads are kept."""
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "ofa_tf"


def resolve_url(relative_or_url: str) -> str:
    """An absolute URL as it is; a path relative to the released files' root under `files_url()`."""
    return relative_or_url if "://" in relative_or_url else f"{files_url()}/{relative_or_url}"


def fetch(relative: str, target: Path, verify: Callable[[Path], object] | None = None) -> Path:
    """`target`, downloaded from `files_url()/relative` unless present (see `fetch_url`)."""
    return fetch_url(f"{files_url()}/{relative}", target, verify)


def fetch_url(url: str, target: Path, verify: Callable[[Path], object] | None = None) -> Path:
    """`target`, downloaded from `url` unless present; written atomically (no partial file).

    `verify(path)` raises ValueError when a file is not what it should be (a truncated checkpoint, HTML where JSON
    was due): a download that fails it never enters the cache, and a cached copy that fails it is removed and
    fetched again, so a mirror that once served a broken file does not break every later call.
    """
    if target.is_file():
        if verify is None:
            return target
        try:
            verify(target)
            return target
        except ValueError as err:
            logger.warning("The cached %s does not read (%s); downloading it again from %s.", target,
                           str(err).replace(str(target), target.name), url)
            target.unlink()
    with atomic_path(target) as tmp:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
        if verify is not None:
            try:
                verify(tmp)
            except ValueError as err:
                detail = str(err).replace(str(tmp), target.name)
                raise BrokenDownloadError(f"{url} served a file that does not read ({detail}); nothing was "
                                          "cached") from err
    return target
