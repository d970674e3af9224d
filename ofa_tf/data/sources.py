"""Where images come from: an image-folder tree, a TFDS dataset or scikit-learn's digits.

Every source is indexed into an `ImageStore`: random access to example `i` as a uint8 [H, W, 3] image, either
from a file path, from encoded bytes held in memory, or from an in-memory decoded buffer.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
}
_TRAILER_BYTES = 64
# Augmentation policy (`ofa_tf.data.transforms.POLICIES`) of sources whose images must not be flipped; other
# sources get "cifar" (small images) or "imagenet" by image size.
SOURCE_POLICIES = {"digits": "digits", "mnist": "digits", "emnist": "digits", "svhn_cropped": "digits"}


class CorruptImageWarning(UserWarning):
    """Files skipped because they are not readable images."""


def _file_problem(path: str) -> str | None:
    """Why `path` is not a complete image file (header magic, JPEG/PNG end marker), or None if it looks fine."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        return f"unreadable ({err.strerror})"
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, 8, 0)
        tail = os.pread(fd, _TRAILER_BYTES, max(0, size - _TRAILER_BYTES))
    finally:
        os.close(fd)
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), None)
    if kind is None:
        return "not an image (unknown header)"
    if kind == "jpeg" and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if kind == "png" and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)"
    return None


def _warn_skipped(skipped: list[tuple[str, str]], where: str) -> None:
    if not skipped:
        return
    shown = "\n".join(f"  {path}: {why}" for path, why in skipped[:20])
    more = f"\n  ... and {len(skipped) - 20} more" if len(skipped) > 20 else ""
    message = f"Skipped {len(skipped)} file(s) in {where} that are not readable images:\n{shown}{more}"
    logger.warning(message)
    warnings.warn(message, CorruptImageWarning, stacklevel=3)


def index_image_folder(
    root: str | Path, class_names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Index `root/<class>/<image>`: (paths, int32 labels, sorted class names).

    Files with another extension, a wrong header or a missing end marker are skipped with a
    `CorruptImageWarning` that names them. `class_names` forces the label order (e.g. for a validation
    folder, which must not hold classes the training folder lacks).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder {str(root)!r} does not exist or is not a directory.")
    found = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not found:
        raise ValueError(f"Image folder {str(root)!r} has no class subfolders; expected the layout root/<class>/<image>.")
    training = class_names is None
    if training:
        class_names = found
        if len(found) < 2:
            raise ValueError(f"Image folder {str(root)!r} has only the class folder {found[0]!r}: classification needs "
                             "at least two classes (root/<class>/<image>, one folder per class).")
    unknown = sorted(set(found) - set(class_names))
    if unknown:
        raise ValueError(f"Folder {str(root)!r} has classes {unknown} that are not in the class list {class_names}.")
    paths, labels, skipped = [], [], []
    for label, name in enumerate(class_names):
        folder = root / name
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if not entry.name.lower().endswith(IMAGE_EXTENSIONS):
                skipped.append((entry.path, f"extension not in {IMAGE_EXTENSIONS}"))
                continue
            problem = _file_problem(entry.path)
            if problem:
                skipped.append((entry.path, problem))
                continue
            paths.append(entry.path)
            labels.append(label)
    _warn_skipped(skipped, repr(str(root)))
    empty = [name for label, name in enumerate(class_names) if label not in set(labels)]
    if training and empty:
        raise ValueError(f"Class folder(s) {', '.join(repr(str(root / n)) for n in empty)} hold no readable images "
                         f"(extensions {IMAGE_EXTENSIONS}): add images or remove the folder(s).")
    if not paths:
        raise ValueError(f"Image folder {str(root)!r} holds no readable images with extensions {IMAGE_EXTENSIONS}.")
    return np.array(paths, dtype=object), np.array(labels, np.int32), list(class_names)


def decode_image(contents: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP bytes → uint8 [H, W, 3] (grayscale and RGBA converted)."""
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])


@dataclasses.dataclass
class ImageStore:
    """Random access to `num_examples` images: `load(i)` → uint8 [H, W, 3].

    kind "file": `payload` holds paths; "encoded": encoded bytes; "decoded": `payload` is a flat uint8
    buffer with per-image `offsets` and `shapes`.
    """

    kind: str
    payload: np.ndarray
    offsets: np.ndarray | None = None
    shapes: np.ndarray | None = None
    _tensors: tuple | None = dataclasses.field(default=None, repr=False)

    @property
    def num_examples(self) -> int:
        return len(self.shapes) if self.kind == "decoded" else len(self.payload)

    @property
    def needs_decoding(self) -> bool:
        return self.kind != "decoded"

    def _graph_tensors(self):
        if self._tensors is None:
            with tf.init_scope():  # eager constants, captured by (not baked into) every traced function
                self._tensors = self._make_tensors()
        return self._tensors

    def _make_tensors(self) -> tuple:
        if self.kind == "decoded":
            return (
                tf.constant(self.payload),
                tf.constant(self.offsets, tf.int64),
                tf.constant(self.shapes, tf.int32),
            )
        # paths as the file system's bytes (UTF-8 for 'café', 'Hündchen 犬'); numpy's fixed-width `astype(bytes)`
        # encodes ASCII only and drops an encoded image's trailing NUL bytes
        items = [os.fsencode(item) if isinstance(item, str) else bytes(item) for item in self.payload]
        return (tf.constant(np.array(items, dtype=object)),)

    def load(self, index: tf.Tensor) -> tf.Tensor:
        tensors = self._graph_tensors()
        if self.kind == "decoded":
            flat, offsets, shapes = tensors
            start = offsets[index]
            pixels = flat[start : offsets[index + 1]]
            return tf.ensure_shape(tf.reshape(pixels, shapes[index]), [None, None, 3])
        contents = tensors[0][index]
        if self.kind == "file":
            contents = tf.io.read_file(contents)
        return decode_image(contents)

    def describe(self, index: int) -> str:
        if self.kind == "file":
            return str(self.payload[index])
        return f"example #{index}"

    def first_image(self, indices=None, tries: int = 100) -> tf.Tensor:
        """The first image of `indices` (default: all) that decodes; the ones before it are skipped here (the
        pipelines skip them with a warning too). Raises ValueError naming the files when none of the first `tries`
        decodes."""
        indices = np.arange(self.num_examples) if indices is None else np.asarray(indices)
        failed = []
        for index in indices[:tries]:
            try:
                return self.load(tf.constant(int(index), tf.int64))
            except tf.errors.InvalidArgumentError as err:
                failed.append(f"{self.describe(int(index))} ({' '.join(err.message.split())[:80]})")
        raise ValueError(f"None of the first {len(failed)} images decodes: {'; '.join(failed[:3])}"
                         f"{'; ...' if len(failed) > 3 else ''}. Check the image files.")

    def estimated_decoded_bytes(self) -> int:
        """Decoded size of the whole store, extrapolated from its first image that decodes."""
        if self.kind == "decoded":
            return int(self.payload.nbytes)
        return int(np.prod(self.first_image().shape)) * self.num_examples

    def decoded(self, indices: np.ndarray | None = None) -> tuple[ImageStore, np.ndarray]:
        """Decode `indices` (default all) into an in-memory store.

        Returns the store and the indices that decoded (images that fail are skipped with a warning naming
        them); example k of the new store is `ok_indices[k]` of this one.
        """
        indices = np.arange(self.num_examples) if indices is None else np.asarray(indices)
        ds = tf.data.Dataset.from_tensor_slices(indices.astype(np.int64))

        def flat_image(i):
            image = self.load(i)
            return i, tf.reshape(image, [-1]), tf.shape(image)

        ds = ds.map(flat_image, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.ignore_errors().ragged_batch(512)
        ok, flats, shapes = [], [], []
        for idx, flat, shape in ds:
            ok.append(idx.numpy())
            flats.append(flat.flat_values.numpy())
            shapes.append(shape.numpy())
        ok = np.concatenate(ok) if ok else np.zeros([0], np.int64)
        failed = np.setdiff1d(indices, ok)
        _warn_skipped([(self.describe(int(i)), "could not be decoded") for i in failed], "the image source")
        shapes = np.concatenate(shapes).astype(np.int32) if shapes else np.zeros([0, 3], np.int32)
        offsets = np.concatenate([[0], np.cumsum(np.prod(shapes, axis=1, dtype=np.int64))]).astype(np.int64)
        flat = np.concatenate(flats) if flats else np.zeros([0], np.uint8)
        return ImageStore("decoded", flat, offsets, shapes), ok


def digits_store() -> tuple[ImageStore, np.ndarray, list[str]]:
    """scikit-learn's 1797 8×8 handwritten digits (bundled, no download) as RGB uint8."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    gray = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    shapes = np.tile(np.array([[8, 8, 3]], np.int32), (len(rgb), 1))
    offsets = np.arange(len(rgb) + 1, dtype=np.int64) * 8 * 8 * 3
    store = ImageStore("decoded", rgb.reshape(-1), offsets, shapes)
    return store, digits.target.astype(np.int32), [str(d) for d in range(10)]


def tfds_store(
    name: str, *, data_dir: str | None = None, manual_dir: str | None = None, split: str = "train"
) -> tuple[ImageStore, np.ndarray, list[str]]:
    """A prepared TFDS image-classification split, its encoded images held in memory (decoded on demand).

    Prepares the dataset when needed (download, or `manual_dir` for manual datasets such as imagenet2012);
    offline or without the manual files it raises an error that says how to prepare the data.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # DatasetNotFoundError and friends
        raise ValueError(
            f"Unknown data source {name!r}: it is neither an existing folder nor a TFDS dataset name "
            f"({type(err).__name__}). Pass a folder laid out as root/<class>/<image>, 'digits', or a TFDS name "
            "such as 'cifar10', 'imagenette' or 'imagenet2012'."
        ) from err
    if not builder.is_prepared():
        _prepare(builder, name, manual_dir)
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise ValueError(f"TFDS dataset {name!r} has features {list(features)}; expected 'image' and 'label'.")
    limit = 4 * 2**30
    split_info = builder.info.splits[split] if split in builder.info.splits else None
    if split_info is not None and split_info.num_bytes > limit:
        raise ValueError(
            f"TFDS split {name}/{split} holds {split_info.num_bytes / 2**30:.0f} GiB of encoded images, more than "
            f"the {limit / 2**30:.0f} GiB this loader keeps in memory for random access. Extract it into an image "
            "folder root/<class>/<image> (e.g. ImageNet's train tar unpacked by wnid) and pass that folder."
        )
    ds = builder.as_dataset(split=split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()})
    ds = ds.map(lambda ex: (ex["image"], ex["label"])).batch(4096)
    encoded, labels = [], []
    for images, targets in ds.as_numpy_iterator():
        encoded.append(images)
        labels.append(targets)
    store = ImageStore("encoded", np.concatenate(encoded).astype(object))
    return store, np.concatenate(labels).astype(np.int32), list(features["label"].names)


def _prepare(builder, name: str, manual_dir: str | None) -> None:
    import tensorflow_datasets as tfds

    how = (
        f"Prepare it where there is network with `tfds build {name} --data_dir DIR` (copy DIR over) and pass "
        "data_dir=DIR, or pass a local image folder laid out as root/<class>/<image> as the source instead."
    )
    config = None
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        default_manual = Path(builder.data_dir_root) / "downloads" / "manual"
        manual = Path(manual_dir) if manual_dir else default_manual
        if not manual.is_dir() or not any(manual.iterdir()):
            raise FileNotFoundError(
                f"TFDS dataset {name!r} is not prepared in {builder.data_dir_root} and needs manually downloaded "
                f"files, but manual_dir {str(manual)!r} is missing or empty. "
                f"{builder.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()} Then call "
                f"load_dataset({name!r}, manual_dir=..., data_dir=...). Alternatively pass a local image folder "
                "laid out as root/<class>/<image>."
            )
        config = tfds.download.DownloadConfig(manual_dir=str(manual))
    logger.info("Preparing TFDS dataset %r in %s", name, builder.data_dir_root)
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as err:
        raise RuntimeError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir_root} and preparing it failed "
            f"({type(err).__name__}: {err}). Offline? {how}"
        ) from err
