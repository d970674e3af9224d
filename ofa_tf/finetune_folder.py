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

import json
import zipfile
from pathlib import Path

RECORD_FILE = "finetune.json"
METRICS_FILE = "metrics.jsonl"
MODEL_FILE = "finetuned.keras"
WEIGHTS_FILE = "finetuned.weights.h5"
CHECKPOINT_DIR = Path("checkpoints") / "finetune"
RECORD_ENTRY = "ofa_tf_finetune.json"  # inside the .keras zip
RECORD_ATTRIBUTE = "ofa_tf_finetune"  # on the .weights.h5 root
FORMAT = "ofa_tf.finetune/1"


def outputs(out: str | Path) -> dict[str, Path]:
    """The files a finished run leaves in `out`, by role."""
    out = Path(out)
    return {"model": out / MODEL_FILE, "weights": out / WEIGHTS_FILE, "record": out / RECORD_FILE,
            "metrics": out / METRICS_FILE}


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
