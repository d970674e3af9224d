"""The folder a fine-tuning run writes (`ofa_tf.finetune(..., out)`, `ofa-tf finetune --out`), and the record every
one of its artifacts carries: which supernet (net id, weights), subnet, classes and data the model came from.

    out/finetune.json               the record (and the run's settings); `status` "running" until the end
    out/metrics.jsonl               one record per epoch (loss, top-1/top-5, validation, seconds)
    out/checkpoints/finetune/       resumable checkpoints (model, optimizer, epoch, dropout seeds), every epoch
    out/finetuned.keras             the fine-tuned subnet: stock Keras layers, loads without custom objects; the
                                    record inside the zip as `ofa_tf_finetune.json` (Keras ignores it)
    out/finetuned.weights.h5        its weights; the record as the HDF5 root attribute `ofa_tf_finetune`
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import zipfile
from pathlib import Path

from ofa_tf.files import atomic_path
from ofa_tf.files import write_atomic
from ofa_tf.run_folder import RunFolder
from ofa_tf.run_folder import append_jsonl

RECORD_FILE = "finetune.json"
METRICS_FILE = "metrics.jsonl"
MODEL_FILE = "finetuned.keras"
WEIGHTS_FILE = "finetuned.weights.h5"
CHECKPOINT_DIR = Path("checkpoints") / "finetune"
RECORD_ENTRY = "ofa_tf_finetune.json"  # inside the .keras zip
RECORD_ATTRIBUTE = "ofa_tf_finetune"  # on the .weights.h5 root
FORMAT = "ofa_tf.finetune/1"


@dataclasses.dataclass(frozen=True)
class FinetuneFolder:
    """The folder a fine-tuning run writes (layout in the module docstring): its paths, what it holds, and its writes.

    `chief`: whether this process writes the files (in a multi-worker run only the chief does).
    """

    root: Path
    chief: bool = True

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # === Paths ===
    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def weights_path(self) -> Path:
        return self.root / WEIGHTS_FILE

    @property
    def record_path(self) -> Path:
        return self.root / RECORD_FILE

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / CHECKPOINT_DIR

    # === Reading ===
    def holds_training_run(self) -> bool:
        """Whether a supernet training run (`ofa_tf.run_folder`) wrote into this folder."""
        return bool(RunFolder(self.root).config_paths())

    def latest_checkpoint(self) -> str | None:
        import tensorflow as tf

        return tf.train.latest_checkpoint(str(self.checkpoint_dir))

    def finished(self) -> list[Path]:
        """The fine-tuned model files this folder holds."""
        return [p for p in (self.model_path, self.weights_path) if p.is_file()]

    def read_record(self) -> dict | None:
        """The run's record (`finetune.json`), or None when there is none."""
        return read_record(self.root)

    def read_metrics(self) -> list[dict]:
        """The records of metrics.jsonl ([] before the first epoch)."""
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    # === Writing (the chief only) ===
    def clear(self) -> None:
        """Removes the checkpoints and metrics of an earlier run (its model files stay until replaced)."""
        if self.chief:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
            self.metrics_path.unlink(missing_ok=True)

    def write_record(self, record: dict) -> None:
        """`finetune.json`, written whole (a temporary file renamed)."""
        if self.chief:
            write_atomic(self.record_path, json.dumps(record, indent=2) + "\n")

    def append_metrics(self, record: dict) -> None:
        append_jsonl(self.metrics_path, record, self.chief)

    def save_model(self, model, record: dict) -> None:
        """`finetuned.keras` and `finetuned.weights.h5` of `model`, each written whole with `record` inside, then the
        record file."""
        if not self.chief:
            return
        with atomic_path(self.model_path) as tmp:
            model.save(tmp)
            attach_record(tmp, record)
        with atomic_path(self.weights_path) as tmp:
            model.save_weights(tmp)
            attach_record(tmp, record)
        self.write_record(record)


def attach_record(path: str | Path, record: dict) -> None:
    """Writes `record` into a `.keras` file (a zip entry) or a `.weights.h5` file (a root attribute)."""
    path = Path(path)
    text = json.dumps(record)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(RECORD_ENTRY, text)
        return
    import h5py

    with h5py.File(path, "a") as handle:
        handle.attrs[RECORD_ATTRIBUTE] = text


def read_record(path: str | Path) -> dict | None:
    """The fine-tuning record of a run folder, a `.keras` file or a `.weights.h5` file (None: a model that ofa_tf
    did not fine-tune).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is not a readable `.keras` / `.weights.h5` file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_FILE
        return json.loads(path.read_text()) if path.is_file() else None
    if not path.is_file():
        raise FileNotFoundError(f"Model not found: {path}")
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                if RECORD_ENTRY not in archive.namelist():
                    return None
                return json.loads(archive.read(RECORD_ENTRY))
        if path.name.endswith(".weights.h5"):
            import h5py

            with h5py.File(path, "r") as handle:
                raw = handle.attrs.get(RECORD_ATTRIBUTE)
            return None if raw is None else json.loads(raw)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path} is not a readable {path.suffix} file ({' '.join(str(err).split())}); it may be "
                         "truncated: pass the finetuned.keras a fine-tuning run wrote.") from err
    return json.loads(path.read_text()) if path.suffix == ".json" else None


def load_finetuned(path: str | Path):
    """(stock Keras model, record or None) of a `.keras` file or a fine-tuning run folder (its `finetuned.keras`)."""
    import keras

    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if path.suffix != ".keras":
        raise ValueError(f"Expected a .keras model file (e.g. DIR/{MODEL_FILE}); received {path}.")
    record = read_record(path)
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        first = " ".join(str(err).split())[:200]
        raise ValueError(f"{path} is not a loadable Keras model ({first}).") from err
    return model, record


def describe(record: dict) -> str:
    """One line naming what a fine-tuned model came from."""
    supernet = record["supernet"]
    name = supernet.get("net_id") or supernet.get("class") or "a supernet"
    weights = f" ({supernet['weights']})" if supernet.get("weights") else ""
    return (f"subnet {record.get('subnet_name', '')} of {name}{weights} at {record['resolution']} px, fine-tuned for "
            f"{record['epochs']} epochs on {record['data'].get('source') or 'in-memory data'} "
            f"({len(record['classes'])} classes)")


def check_classes(record: dict | None, class_names, n_outputs: int, what: str = "the data") -> None:
    """Refuses data whose classes are not the model's: by name and order when the model has a record, else by count.

    Raises:
        ValueError: naming both sides.
    """
    class_names = list(class_names)
    if record is not None and list(record["classes"]) != class_names:
        mine = list(record["classes"])
        lacks, adds = [c for c in mine if c not in class_names], [c for c in class_names if c not in mine]
        detail = (f"{what} lacks {_names(lacks)} and adds {_names(adds)}" if lacks or adds
                  else "the same names in another order")
        raise ValueError(f"The model was fine-tuned on {len(mine)} classes {_names(mine)} but {what} has "
                         f"{len(class_names)} classes {_names(class_names)} ({detail}): pass data with the model's "
                         "classes (same folder names, same order).")
    if len(class_names) != n_outputs:
        raise ValueError(f"The model has {n_outputs} outputs but {what} has {len(class_names)} classes "
                         f"{_names(class_names)}.")


def _names(names) -> str:
    names = list(names)
    return "[" + ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") + "]"
