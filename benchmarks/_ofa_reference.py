"""Importing the PyTorch reference (the PyPI package `ofa`, mit-han-lab/once-for-all) for side-by-side benchmarks.

    pip install torch && pip install --no-deps ofa

The package imports torchvision for its data loaders and gdown for downloads; benchmarks use neither, so when they
are missing empty stand-in modules satisfy those imports. It is never a dependency of ofa_tf.
"""
from __future__ import annotations

import importlib.util
import sys
import types

INSTALL = "pip install torch && pip install --no-deps ofa  (the reference's PyPI package; it also uses pyyaml and tqdm)"


def stub_unused_imports() -> None:
    """Empty torchvision / gdown modules when they are not installed (the code the benchmarks run never uses them)."""
    if importlib.util.find_spec("torchvision") is None:
        names = ["torchvision", "torchvision.transforms", "torchvision.transforms.functional", "torchvision.datasets"]
        modules = {name: types.ModuleType(name) for name in names}
        modules["torchvision"].transforms = modules["torchvision.transforms"]
        modules["torchvision"].datasets = modules["torchvision.datasets"]
        modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
        placeholder = type("Unavailable", (), {"__init__": lambda self, *a, **k: None})
        modules["torchvision.transforms"].RandomResizedCrop = placeholder
        modules["torchvision.transforms"].Compose = placeholder
        modules["torchvision.transforms.functional"].InterpolationMode = placeholder
        sys.modules.update(modules)
    if importlib.util.find_spec("gdown") is None:
        sys.modules["gdown"] = types.ModuleType("gdown")


def reference_available() -> bool:
    return importlib.util.find_spec("ofa") is not None and importlib.util.find_spec("torch") is not None
