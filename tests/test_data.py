"""Input pipelines: sources, splits, transforms, elastic resolution, calibration subsets."""
import math
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ofa_tf import data as D
from ofa_tf.data.transforms import get_policy
from ofa_tf.data.transforms import random_resized_crop_box

MEAN = np.array(D.IMAGENET_MEAN, np.float32)
STD = np.array(D.IMAGENET_STD, np.float32)


def _to_uint8_range(x):
    return np.asarray(x) * STD * 255.0 + MEAN * 255.0


@pytest.fixture(scope="module")
def digits():
    return D.load_dataset("digits", validation_split=0.1, seed=0)


def _write_folder(root, sizes=((20, 24), (32, 32), (28, 18)), per_class=4, classes=("cat", "ant", "bee")):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            h, w = sizes[i % len(sizes)]
            image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            image.save(root / c / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


# === Elastic resolution ===


def test_resolution_candidates_match_reference():
    sizes = D.resolution_candidates(128, 224)
    assert len(sizes) == 25 and sizes[0] == 128 and sizes[-1] == 224
    assert all(s % 4 == 0 for s in sizes)
    assert D.resolution_candidates(130, 140) == (132, 136, 140)
    with pytest.raises(ValueError, match="No multiple of 4"):
        D.resolution_candidates(129, 131)


def test_train_batches_share_a_size_drawn_from_the_list(digits):
    sizes = (16, 20, 24, 28)
    ds = digits.train(64, sizes, policy="cifar", seed=3)
    assert ds.element_spec[0].shape.as_list() == [64, None, None, 3]
    assert ds.element_spec[1].dtype == tf.int32
    seen = []
    for b, (x, y) in enumerate(ds):
        assert x.shape[1] == x.shape[2] and x.shape[0] == 64
        assert x.shape[1] == D.sample_resolution(sizes, seed=3, epoch=0, batch_index=b)
        seen.append(x.shape[1])
    assert len(seen) == digits.num_train // 64  # drop_remainder
    assert set(seen) <= set(sizes) and len(set(seen)) > 1


def test_train_is_reproducible_per_seed_and_epoch(digits):
    def first_two(**kw):
        return [(x.numpy(), y.numpy()) for x, y in digits.train(32, (16, 24), policy="imagenet", **kw).take(2)]

    a, b = first_two(seed=5), first_two(seed=5)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    c = first_two(seed=5, epoch=1)
    assert not np.array_equal(a[0][1], c[0][1])  # another epoch, another order


def test_repeat_continues_with_the_next_epochs(digits):
    n = digits.num_train // 128
    repeated = [y.numpy() for _, y in digits.train(128, 16, seed=2, repeat=True).take(n + 1)]
    epoch0 = [y.numpy() for _, y in digits.train(128, 16, seed=2, epoch=0)]
    epoch1 = next(iter(digits.train(128, 16, seed=2, epoch=1)))[1].numpy()
    np.testing.assert_array_equal(np.stack(repeated[:n]), np.stack(epoch0))
    np.testing.assert_array_equal(repeated[n], epoch1)


def test_model_traces_once_over_elastic_batches(digits):
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def model(x):
        traces.append(1)
        return tf.reduce_mean(x, axis=[1, 2, 3])

    shapes = set()
    for x, _ in digits.train(32, (16, 20, 24), seed=0).take(8):
        model(x)
        shapes.add(x.shape[1])
    assert len(shapes) > 1 and len(traces) == 1


def test_bad_arguments_name_the_value(digits):
    with pytest.raises(ValueError, match="resolutions=0"):
        digits.train(8, 0)
    with pytest.raises(ValueError, match="Unknown augmentation policy 'autoaugment'"):
        digits.train(8, 16, policy="autoaugment")
    with pytest.raises(ValueError, match="batch_size=0"):
        digits.validation(0, 16)
    with pytest.raises(ValueError, match="Unknown data source 'no_such_dataset_xyz'"):
        D.load_dataset("no_such_dataset_xyz")


# === Splits ===


def test_split_is_seeded_disjoint_and_exhaustive():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5]).astype(np.int32)
    train, val = D.split_indices(labels, 0.2, seed=1)
    assert len(val) == 20 and len(train) == 80
    assert not set(train) & set(val) and set(train) | set(val) == set(range(100))
    train2, val2 = D.split_indices(labels, 0.2, seed=1)
    np.testing.assert_array_equal(val, val2)
    assert not np.array_equal(val, D.split_indices(labels, 0.2, seed=2)[1])
    _, counted = D.split_indices(labels, 7, seed=1)
    assert len(counted) == 7
    _, strat = D.split_indices(labels, 0.2, seed=1, stratify=True)
    np.testing.assert_array_equal(np.bincount(labels[strat]), [10, 6, 3, 1])
    with pytest.raises(ValueError, match="validation_split=1.5"):
        D.split_indices(labels, 1.5, seed=0)


def test_digits_source_interface(digits):
    assert digits.num_classes == 10 and digits.class_names[3] == "3"
    assert digits.num_train + digits.num_validation == 1797 and digits.num_validation == 180
    assert digits.policy == "digits"  # a flipped 2 is not a 2: shifts only


# === Image folders ===


def test_folder_labels_split_and_corrupt_files(tmp_path):
    root = _write_folder(tmp_path / "train")
    (root / "ant" / "notes.jpg").write_text("this is not an image")
    (root / "bee" / "README").write_text("readme")
    good = (root / "cat" / "0.jpg").read_bytes()
    (root / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    with pytest.warns(D.CorruptImageWarning) as record:
        data = D.load_dataset(root, validation_split=3, seed=0)
    message = str(record[0].message)
    for name in ("notes.jpg", "README", "truncated.jpg"):
        assert name in message
    assert data.class_names == ["ant", "bee", "cat"]
    assert data.num_train == 9 and data.num_validation == 3
    assert data.policy == "cifar"
    labels = np.concatenate([y.numpy() for _, y in data.train(3, (12, 16), seed=0)])
    assert sorted(labels.tolist()) == sorted(data.labels[data.train_indices].tolist())
    x, y = next(iter(data.validation(3, 16)))
    assert x.shape == (3, 16, 16, 3)


def test_undecodable_image_is_skipped_with_its_name(tmp_path):
    root = _write_folder(tmp_path / "train")
    (root / "bee" / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9")
    data = D.load_dataset(root, validation_split=0)
    assert data.num_train == 13
    with pytest.warns(D.CorruptImageWarning, match="garbage.jpg"):
        batches = list(data.train(4, 16, seed=0))
    assert data.num_train == 12 and len(batches) == 3


def test_undecodable_first_image_is_skipped_with_its_name(tmp_path):
    """The first training image is decoded to choose the augmentation policy: a file there that does not decode is
    skipped like anywhere else, not a TensorFlow traceback (issue 26)."""
    root = _write_folder(tmp_path / "train", classes=("ant", "bee"))
    (root / "ant" / "0.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9")
    data = D.load_dataset(root, validation_split=0)
    assert data.store.payload[data.train_indices[0]].endswith("0.jpg") and data.policy == "cifar"
    with pytest.warns(D.CorruptImageWarning, match="ant/0.jpg: could not be decoded"):
        batches = list(data.train(7, 16, seed=0))
    assert data.num_train == 7 and len(batches) == 1
    data = D.load_dataset(root, validation_split=0, cache=False)  # undecoded: the pipeline drops the file
    assert sum(len(y) for _, y in data.train(1, 16, seed=0)) == 7


def test_no_decodable_image_among_the_first_is_named(tmp_path):
    root = _write_folder(tmp_path / "train", classes=("ant", "bee"), per_class=2)
    for path in root.rglob("*.*"):
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200) + b"IEND")
    with pytest.raises(ValueError, match=r"None of the first 4 images decodes: .*ant/0.jpg"):
        D.load_dataset(root, validation_split=0)


def test_non_ascii_class_and_file_names(tmp_path):
    """'café', 'Hündchen 犬' and 'bild_ü.png' are read as the file system's (UTF-8) bytes (issue 26: numpy's
    astype(bytes) raised 'ascii' codec can't encode)."""
    root = tmp_path / "tiere"
    rng = np.random.default_rng(0)
    for c in ("café", "Hündchen 犬"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / c / f"bild_{i}_ü.png")
    data = D.load_dataset(root, validation_split=2, seed=0)
    assert data.class_names == ["Hündchen 犬", "café"]
    x, y = next(iter(data.train(4, 8, seed=0)))
    assert x.shape == (4, 8, 8, 3) and sorted(y.numpy().tolist()) == sorted(data.labels[data.train_indices].tolist())
    undecoded = D.load_dataset(root, validation_split=2, seed=0, cache=False)
    assert len(next(iter(undecoded.validation(2, 8)))[1]) == 2


def test_validation_is_exactly_its_images_when_files_fail_to_decode(tmp_path):
    """Undecodable files renumber the decoded images; the validation split must still name the same images,
    disjoint from training (regression: validation indices were read before the renumbering)."""
    root = tmp_path / "train"
    colors = {}
    for i in range(30):
        c = ("a", "b")[i % 2]
        (root / c).mkdir(parents=True, exist_ok=True)
        color = (8 * i, 255 - 8 * i, 100)
        Image.fromarray(np.full((8, 8, 3), color, np.uint8)).save(root / c / f"{i:02d}.png")
        colors[str(root / c / f"{i:02d}.png")] = color
    for i in range(0, 30, 3):  # valid-looking JPEGs that fail to decode, spread over the index range
        (root / "ab"[i % 2] / f"{i:02d}_bad.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\xff\xd9")
    for seed in range(3):
        data = D.load_dataset(root, validation_split=0.4, seed=seed)
        named = {colors[p] for p in data.store.payload[data.validation_indices] if p in colors}
        train_named = {colors[p] for p in data.store.payload[data.train_indices] if p in colors}
        with pytest.warns(D.CorruptImageWarning):
            x = np.concatenate([b.numpy() for b, _ in data.validation(64, 8, policy="cifar")])
        seen = {tuple(int(round(v)) for v in _to_uint8_range(image[4, 4])) for image in x}
        assert seen == named and not seen & train_named and len(x) == len(named)


def test_empty_and_single_class_folders_are_refused(tmp_path):
    root = _write_folder(tmp_path / "train", per_class=2)
    (root / "dog").mkdir()
    (root / "dog" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"Class folder\(s\) '.*/train/dog' hold no readable images"):
        D.load_dataset(root)
    single = _write_folder(tmp_path / "single", classes=("cat",))
    with pytest.raises(ValueError, match=r"has only the class folder 'cat': classification needs at least two"):
        D.load_dataset(single)


def test_separate_validation_folder(tmp_path):
    _write_folder(tmp_path / "train")
    _write_folder(tmp_path / "val", per_class=2, classes=("bee", "cat"))
    data = D.load_dataset(tmp_path / "train", validation_dir=tmp_path / "val")
    assert (data.num_train, data.num_validation) == (12, 4)
    labels = np.concatenate([y.numpy() for _, y in data.validation(4, 8)])
    assert sorted(labels.tolist()) == [1, 1, 2, 2]
    _write_folder(tmp_path / "bad_val", per_class=1, classes=("dog",))
    with pytest.raises(ValueError, match=r"classes \['dog'\]"):
        D.load_dataset(tmp_path / "train", validation_dir=tmp_path / "bad_val")


def test_missing_folder_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.load_dataset(tmp_path / "nope")


# === Transforms ===


def test_eval_transform_is_an_exact_center_crop_when_no_resize_is_needed():
    image = np.random.default_rng(0).integers(0, 256, (32, 41, 3), dtype=np.uint8)
    out = D.eval_transform(tf.constant(image), 28)  # ceil(28 / 0.875) = 32 = shorter side
    top, left = round((32 - 28) / 2), round((41 - 28) / 2)  # 2, 6 (round half to even)
    np.testing.assert_allclose(_to_uint8_range(out), image[top : top + 28, left : left + 28], atol=1e-3)


def test_eval_transform_matches_pil_resize_and_center_crop():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (60, 75, 3), dtype=np.uint8)
    for size in (24, 40, 64):  # downscale, downscale, upscale
        resize_to = math.ceil(size / 0.875)
        new_w = int(resize_to * 75 / 60)
        ref = np.asarray(Image.fromarray(image).resize((new_w, resize_to), Image.BILINEAR), np.float32)
        top, left = int(round((resize_to - size) / 2)), int(round((new_w - size) / 2))
        ref = ref[top : top + size, left : left + size]
        out = _to_uint8_range(D.eval_transform(tf.constant(image), size))
        assert out.shape == (size, size, 3)
        assert np.abs(out - ref).max() <= 1.5, size  # PIL rounds its intermediate pass to uint8


def test_imagenet_train_transform_ranges_and_shapes():
    policy = D.ImageNetPolicy()
    image = tf.constant(np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    lo, hi = (0 - MEAN) / STD, (1 - MEAN) / STD
    outs = [policy.train(image, 24, tf.constant([i, 0], tf.int64)).numpy() for i in range(10)]
    for out in outs:
        assert out.shape == (24, 24, 3) and out.dtype == np.float32
        assert np.all(out >= lo - 1e-5) and np.all(out <= hi + 1e-5)
    assert not np.allclose(outs[0], outs[1])
    np.testing.assert_array_equal(outs[3], policy.train(image, 24, tf.constant([3, 0], tf.int64)).numpy())


def test_random_resized_crop_box_follows_torchvision_bounds():
    areas, ratios = [], []
    for i in range(200):
        top, left, h, w = (int(v) for v in random_resized_crop_box([100, 120], [i, 1], (0.08, 1.0), (3 / 4, 4 / 3)))
        assert 0 <= top <= 100 - h and 0 <= left <= 120 - w and h > 0 and w > 0
        areas.append(h * w / 12000)
        ratios.append(w / h)
    assert min(areas) >= 0.07 and max(areas) <= 1.0 and min(areas) < 0.3 and max(areas) > 0.6
    assert min(ratios) > 0.7 and max(ratios) < 1.4
    # an extreme aspect ratio never fits: central crop clamped to the ratio range
    top, left, h, w = (int(v) for v in random_resized_crop_box([10, 200], [0, 0], (0.9, 1.0), (3 / 4, 4 / 3)))
    assert (h, w) == (10, 13) and (top, left) == (0, (200 - 13) // 2)


def test_cifar_policy_pads_crops_and_flips():
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    plain = D.CifarPolicy(padding=0, flip=False).train(tf.constant(image), 32, tf.constant([0, 0], tf.int64))
    np.testing.assert_allclose(_to_uint8_range(plain), image, atol=1e-3)
    crops = [_to_uint8_range(D.CifarPolicy().train(tf.constant(image), 32, tf.constant([i, 0], tf.int64))) for i in range(20)]
    found = 0
    for out in crops:  # each output is a shifted (maybe flipped) window of the zero-padded image
        padded = np.pad(image, [(4, 4), (4, 4), (0, 0)]).astype(np.float32)
        windows = [padded[t : t + 32, s : s + 32] for t in range(9) for s in range(9)]
        windows += [w[:, ::-1] for w in windows]
        found += any(np.allclose(out, w, atol=1e-3) for w in windows)
    assert found == 20
    assert D.CifarPolicy().train(tf.constant(image), 128, tf.constant([0, 0], tf.int64)).shape == (128, 128, 3)


def test_digits_policy_shifts_but_never_flips():
    image = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    policy = get_policy("digits")
    assert policy == D.CifarPolicy(flip=False)
    padded = np.pad(image, [(4, 4), (4, 4), (0, 0)]).astype(np.float32)
    windows = [padded[t : t + 32, s : s + 32] for t in range(9) for s in range(9)]
    outs = [_to_uint8_range(policy.train(tf.constant(image), 32, tf.constant([i, 0], tf.int64))) for i in range(20)]
    assert all(any(np.allclose(out, w, atol=1e-3) for w in windows) for out in outs)
    assert not any(np.allclose(out, w[:, ::-1], atol=1e-3) for out in outs for w in windows)
    assert len({out.tobytes() for out in outs}) > 5  # it does shift
    # the source's policy is what training uses unless another is chosen; other small images still flip
    assert D.load_dataset("digits").policy == "digits" and get_policy("cifar").flip


# === Calibration and TFLite representative data ===


def test_calibration_subset_is_deterministic(digits):
    a = [(x.numpy(), y.numpy()) for x, y in digits.calibration(24, n_images=300, batch_size=100)]
    b = [(x.numpy(), y.numpy()) for x, y in digits.calibration(24, n_images=300, batch_size=100)]
    assert len(a) == 3 and a[0][0].shape == (100, 24, 24, 3)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other = next(iter(digits.calibration(24, n_images=300, batch_size=100, seed=1)))[1].numpy()
    assert not np.array_equal(other, a[0][1])
    with pytest.raises(ValueError, match="n_images=5000"):
        digits.calibration(24, n_images=5000)


def test_representative_dataset_yields_single_images(digits):
    gen = digits.representative(20, n_images=5)
    items = list(gen())
    assert len(items) == 5 and all(len(i) == 1 and i[0].shape == (1, 20, 20, 3) for i in items)
    np.testing.assert_array_equal(items[0][0], next(gen())[0])


# === TFDS ===


def test_tfds_source_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = D.load_dataset("cifar10", validation_split=8, data_dir=str(tmp_path))
    assert data.num_classes == 10 and len(data.class_names) == 10  # mock metadata has no class names
    assert (data.num_train, data.num_validation) == (32, 8)
    x, y = next(iter(data.train(16, (24, 32), policy="cifar")))
    assert x.shape[0] == 16 and x.shape[1] in (24, 32) and y.dtype == tf.int32


def test_tfds_manual_dataset_offline_error_says_how_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="manual_dir") as info:
        D.load_dataset("imagenet2012", data_dir=str(tmp_path))
    assert "ILSVRC2012_img_train.tar" in str(info.value) and "image folder" in str(info.value)


def test_tfds_download_failure_says_how_to_prepare(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def offline(self, *args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(RuntimeError, match="tfds build cifar10") as info:
        D.load_dataset("cifar10", data_dir=str(tmp_path))
    assert "network is unreachable" in str(info.value) and "image folder" in str(info.value)


# === Shared CIFAR-10 folder ===


def test_shared_cifar10_folder_indexes_50000_images(shared):
    root = shared / "data" / "cifar10" / "train"
    with warnings.catch_warnings():
        warnings.simplefilter("error", D.CorruptImageWarning)
        data = D.load_dataset(root, validation_split=0.1, seed=0)
    assert data.num_classes == 10 and data.class_names[0] == "airplane"
    assert data.num_train == 45000 and data.num_validation == 5000
    assert np.all(np.bincount(data.labels) == 5000)
    for i in (0, 12345, 49999):
        image = data.store.load(tf.constant(i, tf.int64))
        assert image.shape == (32, 32, 3) and image.dtype == tf.uint8
    assert data.policy == "cifar"
