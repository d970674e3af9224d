"""`ofa_tf.finetune`: one subnet of a supernet fine-tuned as a stock Keras model, its files, resume and refusals;
`evaluate_model`."""
import json
import zipfile

import keras
import numpy as np
import pytest
from cli_checks import folder_state
from cli_checks import image_folder

from ofa_tf.finetune_folder import read_record
from ofa_tf.training import evaluate_model
from ofa_tf.training import finetune
from ofa_tf.training.evaluation import model_accuracy
from ofa_tf.zoo import ofa_net

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
RESOLUTION = 16
SUBNET = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": RESOLUTION}  # the min subnet: fastest to train
RUN = dict(epochs=4, steps_per_epoch=20, batch_size=32, lr=0.1, calibrate_bn=64, verbose=0)


@pytest.fixture(scope="module")
def supernet(tiny_weights):
    return ofa_net(TINY, n_classes=10, weights=tiny_weights)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, supernet, digits):
    """A fine-tuning run of the tiny preset's subnet on digits (distilled from the max subnet), shared by the tests
    that read what it wrote."""
    out = tmp_path_factory.mktemp("finetune") / "run"
    return finetune(supernet, SUBNET, digits, out, data_name="digits", validation_split=0.2, **RUN)


def test_finetune_improves_the_extracted_subnet(tuned):
    extracted = tuned.history[0]
    epochs = [r for r in tuned.history if r["event"] == "epoch"]
    assert extracted["event"] == "extracted" and extracted["val_top1"] < 0.2  # random weights: near chance
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["top1"] > epochs[0]["top1"] + 0.3  # the training images, within the run
    assert epochs[-1]["val_top1"] > extracted["val_top1"] + 0.4  # the held-out images (0.65-0.94 measured)
    assert epochs[0]["lr"] > epochs[1]["lr"] > epochs[2]["lr"] > epochs[3]["lr"] >= 0  # cosine to 0


def test_finetuned_keras_loads_without_custom_objects_and_matches(tuned, digits):
    with zipfile.ZipFile(tuned.model_path) as archive:
        config = json.loads(archive.read("config.json"))
    modules = set()

    def walk(node):
        if isinstance(node, dict):
            if "module" in node and "class_name" in node:
                modules.add(node["module"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    assert modules and all(m.startswith("keras") for m in modules), modules  # stock Keras classes only
    loaded = keras.saving.load_model(tuned.model_path, compile=False, safe_mode=True)
    images, _ = next(iter(digits.validation(32, RESOLUTION)))
    np.testing.assert_array_equal(loaded(images, training=False).numpy(), tuned.model(images, training=False).numpy())
    assert tuple(loaded.inputs[0].shape) == (None, RESOLUTION, RESOLUTION, 3)


def test_every_artifact_names_supernet_subnet_classes_and_data(tuned, tiny_weights):
    records = [read_record(tuned.model_path), read_record(tuned.weights_path), read_record(tuned.out_dir)]
    for record in records:
        assert record == records[0]
        assert record["status"] == "finished"
        assert record["supernet"]["net_id"] == TINY and record["supernet"]["weights"] == str(tiny_weights.resolve())
        assert len(record["supernet"]["weights_sha256"]) == 64
        assert record["subnet"] == SUBNET and record["resolution"] == RESOLUTION
        assert record["classes"] == [str(i) for i in range(10)]
        assert record["data"]["source"] == "digits" and record["data"]["validation_split"] == 0.2
        assert record["teacher"] == "max" and record["epochs"] == 4
    assert records[0]["final"]["val_top1"] == tuned.history[-1]["val_top1"]
    lines = tuned.metrics_path.read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["extracted", "epoch", "epoch", "epoch", "epoch"]
    assert tuned.model.name == "finetuned"


def test_evaluate_model_is_model_accuracy_on_the_validation_images(tuned, digits):
    result = evaluate_model(tuned.model, digits)
    top1, top5, n = model_accuracy(tuned.model, digits.validation(100, RESOLUTION))
    assert (result.top1, result.top5, result.n_images, result.resolution) == (top1, top5, n, RESOLUTION)
    assert n == digits.num_validation > 300
    by_path = evaluate_model(tuned.model_path, "digits")  # split as the run split it (validation_split 0.2)
    assert by_path == result
    assert result.top1 == pytest.approx(tuned.record["final"]["val_top1"], abs=1e-6)


def test_evaluate_model_checks_classes_and_size(tuned, tmp_path):
    others = image_folder(tmp_path / "images", [str(i) for i in range(9)] + ["x"], per_class=2)
    with pytest.raises(ValueError, match=r"fine-tuned on 10 classes \[0, 1, .*\] but the data has 10 classes "
                                          r"\[0, 1, .*\] \(the data lacks \[9\] and adds \[x\]\)"):
        evaluate_model(tuned.model_path, str(others), validation_split=0.5)
    with pytest.raises(ValueError, match="takes 16x16 images; received resolution=12"):
        evaluate_model(tuned.model, "digits", resolution=12)


def test_refuses_to_replace_or_mix_runs(tuned, supernet, digits):
    before = folder_state(tuned.out_dir)
    with pytest.raises(FileExistsError, match="already holds a fine-tuned model.*--overwrite"):
        finetune(supernet, SUBNET, digits, tuned.out_dir, **RUN)
    other = {**SUBNET, "d": [2, 3, 2, 2, 2]}
    same_data = dict(data_name="digits", validation_split=0.2)
    with pytest.raises(ValueError, match=r"holds the fine-tuning of another run \(subnet.d: \[2, 2, 2, 2, 2\] vs "
                                         r"\[2, 3, 2, 2, 2\]\): resume it with the same"):
        finetune(supernet, other, digits, tuned.out_dir, resume=True, **same_data, **RUN)
    with pytest.raises(ValueError, match=r"another run \(data.source: \"digits\" vs null; data.validation_split: "
                                         r"0.2 vs 0.1\)"):
        finetune(supernet, SUBNET, digits, tuned.out_dir, resume=True, **RUN)
    assert folder_state(tuned.out_dir) == before


def test_bad_subnets_and_classes(tmp_path, supernet, tiny_weights):
    five = image_folder(tmp_path / "five", list("abcde"), per_class=2)
    with pytest.raises(ValueError, match="The supernet has 10 outputs but the data has 5 classes.*new_classifier=True"):
        finetune(supernet, SUBNET, str(five), tmp_path / "a", **RUN)
    with pytest.raises(ValueError, match="outside the search space of ofa_mbv3_tiny.*ks"):
        finetune(supernet, {**SUBNET, "ks": [9] * 20}, "digits", tmp_path / "b", **RUN)
    with pytest.raises(ValueError, match="no resolution 'r'.*\\[8, 12, 16\\]"):
        finetune(supernet, {k: v for k, v in SUBNET.items() if k != "r"}, "digits", tmp_path / "c", **RUN)
    with pytest.raises(ValueError, match="Invalid value for `epochs`"):
        finetune(supernet, SUBNET, "digits", tmp_path / "d", epochs=0)
    assert not any((tmp_path / name).exists() for name in "abcd")  # refused before writing anything


class _Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (Ctrl-C) after `batches` batches of epoch `epoch` (1-based)."""

    def __init__(self, epoch, batches):
        super().__init__()
        self.epoch, self.batches, self.current = epoch, batches, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch + 1 == self.batches:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_resume_after_an_interruption_matches_an_uninterrupted_run(tmp_path, supernet, digits):
    options = dict(epochs=2, steps_per_epoch=3, batch_size=16, lr=0.05, calibrate_bn=0, teacher=None, validate=False,
                   verbose=0)
    whole = finetune(supernet, SUBNET, digits, tmp_path / "a", **options)
    with pytest.raises(KeyboardInterrupt):
        finetune(supernet, SUBNET, digits, tmp_path / "b", callbacks=[_Interrupt(epoch=2, batches=2)], **options)
    assert not (tmp_path / "b" / "finetuned.keras").exists()
    assert [json.loads(line)["epoch"] for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()] == [1]
    with pytest.raises(FileExistsError, match="holds a fine-tuning checkpoint.*--resume"):
        finetune(supernet, SUBNET, digits, tmp_path / "b", **options)
    resumed = finetune(supernet, SUBNET, digits, tmp_path / "b", resume=True, **options)
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    moved = 0
    supernet.set_active_config(SUBNET)
    for a, b, start in zip(whole.model.weights, resumed.model.weights,
                           supernet.get_active_subnet(resolution=RESOLUTION).weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5)
        moved += a.shape == start.shape and not np.allclose(a.numpy(), start.numpy())
    assert moved > 10  # training changed the weights, so the comparison is meaningful


@pytest.mark.slow
def test_an_ofa_resnet_subnet_fine_tunes_from_its_dict(tmp_path):
    net = ofa_net("ofa_resnet50_tiny", n_classes=10)
    subnet = {"d": [1, 0, 1, 0, 1], "e": [0.25] * 18, "w": [2, 1, 1, 0, 0, 1], "r": 24}
    result = finetune(net, subnet, "digits", tmp_path, epochs=1, steps_per_epoch=2, batch_size=16, calibrate_bn=16,
                      teacher=None, validate=False, verbose=0)
    assert result.record["subnet"] == subnet and result.record["subnet_name"] == "d10101 w211001"
    loaded = keras.saving.load_model(result.model_path, compile=False)
    assert tuple(loaded.inputs[0].shape) == (None, 24, 24, 3) and tuple(loaded.outputs[0].shape) == (None, 10)
