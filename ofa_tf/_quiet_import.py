"""TensorFlow's start-up lines, hidden when ofa_tf imports it.

Importing TensorFlow 2.21 prints its start-up lines twice (absl's "All log messages before absl::InitializeLog()",
the oneDNN notice, "Could not find cuda drivers", the CPU-feature notice) from C++, past TF_CPP_MIN_LOG_LEVEL. When
ofa_tf is imported first, its modules import TensorFlow with file descriptors 1 and 2 pointed at a scratch file
(replayed if the import fails), unless TF_CPP_MIN_LOG_LEVEL=0 asks for TensorFlow's info lines. The command lines
import TensorFlow themselves, showing the lines with `--verbose` (`android_bench.cli_support.import_tensorflow`).
"""
from __future__ import annotations

import contextlib
import importlib.abc
import os
import sys
import tempfile

_MODULE = "tensorflow"


@contextlib.contextmanager
def _output_hidden():
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = (os.dup(1), os.dup(2))
    except OSError:  # no real descriptors: nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of TensorFlow's top-level package with its output hidden, then steps aside."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with _output_hidden():
            self.loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds TensorFlow's top-level package through the other finders and wraps its loader; removes itself."""

    def find_spec(self, name, path, target=None):
        if name != _MODULE:
            return None
        uninstall()
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


_FINDER = _QuietFinder()


def install() -> None:
    """Hides the start-up lines of the first TensorFlow import (a no-op once TensorFlow is imported, or with
    TF_CPP_MIN_LOG_LEVEL=0)."""
    if _MODULE in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or _FINDER in sys.meta_path:
        return
    sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
