"""`finetune(..., strategy="mirrored")` trains like one device (the check of test_distributed.py for `train`)."""
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from ps_helpers import tiny_supernet

WORKER = str(Path(__file__).with_name("finetune_worker.py"))
pytestmark = pytest.mark.slow


def _run(strategy, out):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, WORKER, strategy, str(out)], env=env, capture_output=True, text=True,
                            timeout=900)
    assert f"DONE {strategy} 1" in result.stdout, (result.stdout + result.stderr)[-3000:]
    return [v.numpy() for v in keras.saving.load_model(out / "finetuned.keras", compile=False).weights]


def test_mirrored_finetuning_matches_single_device(tmp_path):
    single, mirrored = _run("default", tmp_path / "a"), _run("mirrored", tmp_path / "b")
    net = tiny_supernet(ks_list=(3,), dropout_rate=0.0, seed=5)
    net.set_active_config(net.search_space.min_config(16))
    start = [v.numpy() for v in net.get_active_subnet(resolution=16).weights]
    diff = total = 0.0
    for a, b, s in zip(single, mirrored, start, strict=True):
        if a.ndim > 1:  # kernels; BN statistics follow each replica's batch (see test_distributed.py)
            da, db = a - s, b - s
            diff, total = diff + float(np.sum((da - db) ** 2)), total + float(np.sum(da**2))
    assert total > 0 and (diff / total) ** 0.5 < 0.03  # a wrong gradient scale or data split: ~50% off
