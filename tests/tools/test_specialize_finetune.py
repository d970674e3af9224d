"""`specialize(..., finetune_epochs=E)` (`ofa-tf specialize --finetune-epochs E`): each device's subnet is fine-tuned
before its export, and the `.tflite` is the fine-tuned model."""
import numpy as np
import pytest

from ofa_tf.finetune_folder import read_record
from ofa_tf.nas import AccuracyPredictor
from ofa_tf.nas import EvolutionConfig
from ofa_tf.zoo import ofa_net
from tools import read_metadata
from tools.specialize import specialize

TINY = "ofa_mbv3_tiny_d234_e346_k357_w0.5"
FAST = dict(evolution=EvolutionConfig(n_generations=20), nsga2=None, measure_host=False)


@pytest.fixture(scope="module")
def net(tiny_weights):
    return ofa_net(TINY, n_classes=10, weights=tiny_weights, dropout_rate=0.0)


@pytest.mark.slow
def test_each_device_gets_its_fine_tuned_subnet(net, digits, tmp_path):
    predictor = AccuracyPredictor(net.search_space, seed=1)
    before = [v.numpy() for v in net.weights]
    report = specialize(net, predictor, "phone:macs=3M", tmp_path, data=digits, calibration_images=32,
                        finetune_epochs=1, finetune_options=dict(steps_per_epoch=2, batch_size=16, seed=3,
                                                                 data_name="digits", validation_split=0.2), **FAST)
    (phone,) = report.results
    assert phone.finetune_dir == str(tmp_path / "phone_finetune")
    record = read_record(tmp_path / "phone_finetune" / "finetuned.keras")
    assert record["subnet"] == phone.outcome.config.to_dict() and record["epochs"] == 1
    assert record["data"]["source"] == "digits" and record["options"]["seed"] == 3
    meta = read_metadata(phone.tflite_path)
    assert meta.extra["finetune"]["run"] == str((tmp_path / "phone_finetune" / "finetuned.keras").resolve())
    assert meta.subnet_config == phone.outcome.config.to_dict()
    assert 0 <= phone.extracted_top1 <= 1 and phone.top1 == pytest.approx(record["final"]["val_top1"], abs=1e-6)
    assert abs(phone.tflite_top1 - phone.top1) <= 1 / digits.num_validation + 1e-9  # the .tflite is that model
    assert "fine-tuned for 1 epochs" in phone.note and "as extracted" in phone.note
    for old, new in zip(before, net.weights):  # the supernet itself is left as it was
        np.testing.assert_array_equal(old, new.numpy())


def test_fine_tuning_needs_data(net, tmp_path):
    with pytest.raises(ValueError, match="finetune_epochs=2 fine-tunes on data"):
        specialize(net, AccuracyPredictor(net.search_space, seed=1), "phone:macs=3M", tmp_path, finetune_epochs=2,
                   **FAST)
