"""The fine-tuning run folder (`ofa_tf.finetune_folder.FinetuneFolder`): layout, what it holds, chief-only writes."""
import json

import keras
import numpy as np

from ofa_tf.finetune_folder import FinetuneFolder
from ofa_tf.finetune_folder import load_finetuned
from ofa_tf.finetune_folder import read_record
from ofa_tf.run_folder import RunFolder


def test_layout_and_what_it_holds(tmp_path):
    folder = FinetuneFolder(str(tmp_path))
    assert (folder.model_path, folder.weights_path, folder.record_path, folder.metrics_path, folder.checkpoint_dir) == (
        tmp_path / "finetuned.keras", tmp_path / "finetuned.weights.h5", tmp_path / "finetune.json",
        tmp_path / "metrics.jsonl", tmp_path / "checkpoints" / "finetune")
    assert folder.finished() == [] and folder.read_metrics() == [] and folder.read_record() is None
    assert folder.latest_checkpoint() is None and not folder.holds_training_run()
    RunFolder(tmp_path).write_config("all", {"net": "x"})
    assert folder.holds_training_run()


def test_writes_record_metrics_and_models_with_the_record_inside(tmp_path):
    folder = FinetuneFolder(tmp_path)
    folder.append_metrics({"event": "epoch", "epoch": 1})
    folder.append_metrics({"event": "epoch", "epoch": 2})
    assert folder.read_metrics() == [{"event": "epoch", "epoch": 1}, {"event": "epoch", "epoch": 2}]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    record = {"format": "ofa_tf.finetune/1", "classes": ["a", "b"]}
    folder.save_model(model, record)
    assert folder.finished() == [folder.model_path, folder.weights_path]
    assert read_record(folder.model_path) == read_record(folder.weights_path) == folder.read_record() == record
    loaded, loaded_record = load_finetuned(tmp_path)
    assert loaded_record == record
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    (folder.checkpoint_dir / "x").parent.mkdir(parents=True)
    folder.clear()  # an earlier run's checkpoints and metrics go, its model files stay
    assert not folder.checkpoint_dir.exists() and not folder.metrics_path.exists() and len(folder.finished()) == 2


def test_only_the_chief_writes(tmp_path):
    worker = FinetuneFolder(tmp_path, chief=False)
    worker.append_metrics({"event": "epoch"})
    worker.write_record({"status": "running"})
    worker.save_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), {})
    assert list(tmp_path.iterdir()) == []
    FinetuneFolder(tmp_path).write_record({"status": "running"})
    FinetuneFolder(tmp_path).append_metrics({"event": "epoch"})
    worker.clear()
    assert json.loads((tmp_path / "finetune.json").read_text()) == {"status": "running"}
    assert worker.read_metrics() == [{"event": "epoch"}]
