"""`ImageData`: a labelled image source split into train/validation, and its tf.data pipelines."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from ofa_tf.data import resolution as res
from ofa_tf.data.sources import SOURCE_POLICIES
from ofa_tf.data.sources import ImageStore
from ofa_tf.data.sources import digits_store
from ofa_tf.data.sources import index_image_folder
from ofa_tf.data.sources import tfds_store
from ofa_tf.data.transforms import CifarPolicy
from ofa_tf.data.transforms import ImageNetPolicy
from ofa_tf.data.transforms import get_policy

logger = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE
CALIBRATION_SEED = 937162211  # the reference's SUB_SEED
SMALL_IMAGE_SIZE = 64  # sources whose images are at most this big default to the "cifar" policy
DEFAULT_CACHE_BYTES = 2**30
_SALT_SPLIT = 5


def split_indices(
    labels: np.ndarray, validation: float | int, seed: int, stratify: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint (train, validation) index arrays, both sorted.

    `validation` is a fraction in [0, 1) or an absolute count. With `stratify`, every class contributes in
    proportion to its size (largest-remainder rounding).
    """
    n = len(labels)
    if isinstance(validation, bool) or not isinstance(validation, (int, float, np.integer, np.floating)):
        raise TypeError(f"`validation_split` must be a fraction or a count. Received validation_split={validation!r}.")
    if isinstance(validation, (float, np.floating)):
        if not 0.0 <= validation < 1.0:
            raise ValueError(f"`validation_split` as a fraction must be in [0, 1). Received validation_split={validation}.")
        n_val = int(round(validation * n))
    else:
        n_val = int(validation)
    if not 0 <= n_val < n:
        raise ValueError(
            f"`validation_split`={validation} asks for {n_val} validation images but the source has {n}; "
            "at least one must remain for training."
        )
    rng = np.random.default_rng([seed, _SALT_SPLIT])
    if not stratify:
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (n_val / n)
    take = np.floor(quota).astype(int)
    extra = n_val - take.sum()
    take[np.argsort(-(quota - take), kind="stable")[:extra]] += 1
    val = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    val = np.sort(np.concatenate(val)) if val else np.zeros([0], np.int64)
    return np.setdiff1d(np.arange(n), val), val


@dataclasses.dataclass(eq=False)
class ImageData:
    """A labelled image source split into train and validation examples; builds the tf.data pipelines.

    Create it with `load_dataset`. Pipelines yield `(images, labels)`: float32 NHWC images normalized with
    the ImageNet mean/std and int32 labels. Small decoded sources are cached in memory on first use.

    Example:
    >>> data = load_dataset("digits", validation_split=0.1)
    >>> batch = next(iter(data.train(32, resolutions=(24, 28, 32), policy="cifar")))
    """

    class_names: list[str]
    store: ImageStore
    labels: np.ndarray
    train_indices: np.ndarray
    validation_indices: np.ndarray
    policy: str = "imagenet"
    cache: bool | None = None
    _calibration_cache: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_train(self) -> int:
        return len(self.train_indices)

    @property
    def num_validation(self) -> int:
        return len(self.validation_indices)

    # === Pipelines ===

    def train(
        self,
        batch_size: int,
        resolutions: int | Sequence[int],
        *,
        policy: str | ImageNetPolicy | CifarPolicy | None = None,
        seed: int = 0,
        epoch: int = 0,
        repeat: bool = False,
    ) -> tf.data.Dataset:
        """Shuffled, augmented training batches with elastic resolution.

        Each batch has one size drawn uniformly from `resolutions` by `(seed, epoch, batch index)` (see
        `sample_resolution`); the element spec is `[batch_size, None, None, 3]`, so a model traces once.
        The shuffle order and every augmentation depend only on `(seed, epoch)`. The last partial batch of an
        epoch is dropped. `repeat=True` continues with epochs `epoch + 1, epoch + 2, ...` forever.
        """
        sizes = res.as_resolution_list(resolutions)
        policy = get_policy(policy or self.policy)
        batch_size = _positive_int(batch_size, "batch_size")
        if self.num_train < batch_size:
            raise ValueError(f"batch_size={batch_size} exceeds the {self.num_train} training images.")
        self._materialize()
        store, labels = self.store, tf.constant(self.labels)
        indices = tf.constant(self.train_indices, tf.int64)

        def one_epoch(e):
            e = tf.cast(e, tf.int64)
            order = tf.random.experimental.stateless_shuffle(
                indices, res.fold_in(res.seed_pair(seed, res.SALT_SHUFFLE), e)
            )
            ds = tf.data.Dataset.from_tensor_slices(order)
            ds = self._decoded(ds, deterministic=True).enumerate()
            aug_key = res.fold_in(res.seed_pair(seed, res.SALT_AUGMENT), e)

            def augment(position, item):
                index, image = item
                size = res.batch_resolution(sizes, seed, e, position // batch_size)
                key = res.fold_in(aug_key, position)
                return policy.train(image, size, key), tf.gather(labels, index)

            ds = ds.map(augment, num_parallel_calls=AUTOTUNE, deterministic=True)
            return ds.batch(batch_size, drop_remainder=True)

        if repeat:
            ds = tf.data.Dataset.range(epoch, 2**62).flat_map(one_epoch)
        else:
            ds = one_epoch(tf.constant(epoch, tf.int64))
        return ds.prefetch(AUTOTUNE)

    def validation(
        self, batch_size: int, resolution: int, *, policy: str | ImageNetPolicy | CifarPolicy | None = None
    ) -> tf.data.Dataset:
        """Validation batches at one `resolution` through the policy's eval transform (not shuffled)."""
        if self.num_validation == 0:
            raise ValueError("This ImageData has no validation images; load it with validation_split > 0.")
        self._materialize()  # renumbers the images: read the indices after it
        return self._eval_pipeline(self.validation_indices, batch_size, resolution, policy)

    def calibration(
        self,
        resolution: int,
        n_images: int = 2000,
        batch_size: int = 200,
        *,
        policy: str | ImageNetPolicy | CifarPolicy | None = None,
        seed: int = CALIBRATION_SEED,
    ) -> tf.data.Dataset:
        """BN-recalibration batches (as the reference's `build_sub_train_loader`): a fixed seeded subset of training
        images, training transform.

        Identical on every call with the same arguments; the subset's decoded images are cached.
        """
        resolution = _positive_int(resolution, "resolution")
        batch_size = _positive_int(batch_size, "batch_size")
        policy = get_policy(policy or self.policy)
        store, picked = self._subset(self.train_indices, n_images, seed, res.SALT_CALIBRATION)
        labels = tf.constant(self.labels[picked])
        key = res.seed_pair(seed, res.SALT_AUGMENT)

        def transform(position):
            image = policy.train(store.load(position), resolution, res.fold_in(key, position))
            return image, labels[position]

        ds = tf.data.Dataset.range(len(picked)).map(transform, num_parallel_calls=AUTOTUNE, deterministic=True)
        return ds.batch(batch_size).prefetch(AUTOTUNE)

    def representative(
        self,
        resolution: int,
        n_images: int = 100,
        *,
        policy: str | ImageNetPolicy | CifarPolicy | None = None,
        seed: int = 0,
    ) -> Callable[[], Iterator[list[np.ndarray]]]:
        """A TFLite `representative_dataset`: yields `[image]`, one normalized [1, r, r, 3] float32 image each.

        Seeded subset of the validation images (training images if there is no validation split), eval
        transform. Assign it directly: `converter.representative_dataset = data.representative(224)`.
        """
        policy = get_policy(policy or self.policy)
        pool = self.validation_indices if self.num_validation else self.train_indices
        store, picked = self._subset(pool, n_images, seed, res.SALT_CALIBRATION + 100)

        def generator():
            ds = tf.data.Dataset.range(len(picked)).map(lambda i: policy.eval(store.load(i), resolution))
            for image in ds.batch(1).as_numpy_iterator():
                yield [image]

        return generator

    # === Internals ===

    def _eval_pipeline(self, indices, batch_size, resolution, policy) -> tf.data.Dataset:
        """`indices` must be read after `_materialize()`, which renumbers the images."""
        resolution = _positive_int(resolution, "resolution")
        batch_size = _positive_int(batch_size, "batch_size")
        policy = get_policy(policy or self.policy)
        labels = tf.constant(self.labels)
        ds = self._decoded(tf.data.Dataset.from_tensor_slices(tf.constant(indices, tf.int64)), deterministic=True)
        ds = ds.map(
            lambda index, image: (policy.eval(image, resolution), tf.gather(labels, index)),
            num_parallel_calls=AUTOTUNE,
            deterministic=False,
        )
        return ds.batch(batch_size).prefetch(AUTOTUNE)

    def _decoded(self, indices: tf.data.Dataset, deterministic: bool) -> tf.data.Dataset:
        """index → (index, uint8 image); undecodable files are dropped with a logged warning."""
        store = self.store
        ds = indices.map(lambda i: (i, store.load(i)), num_parallel_calls=AUTOTUNE, deterministic=deterministic)
        if store.needs_decoding:
            ds = ds.ignore_errors(log_warning=True)
        return ds

    def _materialize(self) -> None:
        """Decode the whole source into memory once, if `cache` allows it (auto: when it fits the budget)."""
        store = self.store
        if not store.needs_decoding or self.cache is False:
            return
        estimate = store.estimated_decoded_bytes()
        if self.cache is None and estimate > DEFAULT_CACHE_BYTES:
            logger.info("Not caching decoded images: about %.1f GiB would exceed the budget.", estimate / 2**30)
            return
        logger.info("Decoding %d images into memory (about %.0f MiB).", store.num_examples, estimate / 2**20)
        decoded, ok = store.decoded()
        remap = np.full(store.num_examples, -1, np.int64)
        remap[ok] = np.arange(len(ok))
        self.store = decoded
        self.labels = self.labels[ok]
        self.train_indices = remap[self.train_indices][remap[self.train_indices] >= 0]
        self.validation_indices = remap[self.validation_indices][remap[self.validation_indices] >= 0]
        self._calibration_cache.clear()

    def _subset(self, pool: np.ndarray, n_images: int, seed: int, salt: int) -> tuple[ImageStore, np.ndarray]:
        """A seeded subset of `pool` (without replacement), decoded once and cached: (store, source indices)."""
        n_images = _positive_int(n_images, "n_images")
        if n_images > len(pool):
            raise ValueError(f"n_images={n_images} exceeds the {len(pool)} images available.")
        key = (id(self.store), salt, seed, n_images)
        if key not in self._calibration_cache:
            picked = np.random.default_rng([seed, salt]).choice(pool, n_images, replace=False)
            store, ok = self.store.decoded(picked)
            self._calibration_cache[key] = (store, ok)
        return self._calibration_cache[key]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Invalid value for argument `{name}`: expected a positive int. Received {name}={value!r}.")
    return int(value)


def load_dataset(
    source: str | Path,
    *,
    validation_split: float | int = 0.1,
    seed: int = 0,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    validation_dir: str | Path | None = None,
    stratify: bool = False,
    cache: bool | None = None,
) -> ImageData:
    """Index an image source and split it into train/validation.

    Args:
        source: a folder `root/<class>/<image>` (labels = sorted class folder names), `"digits"`
            (scikit-learn's 8×8 digits, offline) or a TFDS name (`"cifar10"`, `"imagenette"`,
            `"imagenet2012"`; its train split is used).
        validation_split: fraction in [0, 1) or absolute count of training images held out, seeded by `seed`.
        data_dir / manual_dir: TFDS data and manual-download folders.
        validation_dir: a separate folder with the same class folders; replaces `validation_split`.
        stratify: hold out the same fraction of every class.
        cache: decode the whole source into memory on first use; None = when it fits in 1 GiB.
    """
    validation_store = None
    path = Path(source)
    if source == "digits":
        store, labels, class_names = digits_store()
    elif path.is_dir():
        paths, labels, class_names = index_image_folder(path)
        store = ImageStore("file", paths)
        if validation_dir is not None:
            val_paths, val_labels, _ = index_image_folder(validation_dir, class_names)
            validation_store = (val_paths, val_labels)
    elif isinstance(source, Path) or "/" in str(source) or str(source).startswith("."):
        raise FileNotFoundError(f"Image folder {str(source)!r} does not exist.")
    else:
        store, labels, class_names = tfds_store(str(source), data_dir=data_dir, manual_dir=manual_dir)

    if validation_store is not None:
        n_train = len(store.payload)
        store = ImageStore("file", np.concatenate([store.payload, validation_store[0]]))
        labels = np.concatenate([labels, validation_store[1]])
        train_idx, val_idx = np.arange(n_train), np.arange(n_train, len(labels))
    elif validation_dir is not None:
        raise ValueError(f"validation_dir is only supported for folder sources. Received source={source!r}.")
    else:
        train_idx, val_idx = split_indices(labels, validation_split, seed, stratify)

    data = ImageData(class_names, store, labels, train_idx, val_idx, cache=cache)
    first = store.first_image(train_idx)  # sets the policy; an undecodable first file is skipped like any other
    named = None if path.is_dir() else SOURCE_POLICIES.get(str(source).split(":")[0])
    data.policy = named or ("cifar" if max(first.shape[:2]) <= SMALL_IMAGE_SIZE else "imagenet")
    return data
