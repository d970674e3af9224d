"""`ofa_specialized`: the released ids, reading a folder, downloading (file:// and a local HTTP server; never
the network) and the offline error."""
import shutil

import numpy as np
import pytest

import ofa_tf
from ofa_tf.specialized import SPECIALIZED

FIXTURE = "note8_lat@54ms_top1@70.0_finetune@25"
RELEASED = "note8_lat@65ms_top1@76.1_finetune@25"  # served from a local copy of FIXTURE's files


@pytest.fixture(scope="module")
def folder(shared):
    return shared / "reference" / "zoo" / "specialized" / FIXTURE


@pytest.fixture
def files_root(folder, tmp_path, monkeypatch):
    """A copy of the reference's file layout, with FIXTURE's files under RELEASED's name; empty cache."""
    root = tmp_path / "files"
    target = root / "ofa_specialized" / RELEASED.replace("@", "-")
    target.mkdir(parents=True)
    for name in ("net.config", "run.config", "init"):
        shutil.copy(folder / name, target / name)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return root


def test_released_ids_carry_the_published_figures():
    nets = ofa_tf.specialized_ids()
    assert len(nets) == 58 == len({n.net_id for n in nets})
    note8 = SPECIALIZED["note8_lat@65ms_top1@76.1_finetune@25"]
    assert (note8.device, note8.latency_ms, note8.top1, note8.top5, note8.params, note8.macs,
            note8.finetune_epochs) == ("Samsung Note8", 65.0, 76.1, 92.7, 5_300_000, 220_000_000, 25)
    flops = SPECIALIZED["flops@595M_top1@80.0_finetune@75"]
    assert (flops.latency_ms, flops.macs, flops.params, flops.finetune_epochs) == (None, 595_000_000, 9_100_000, 75)
    assert SPECIALIZED["resnet50D_MAC@4.1B_top1@79.8"].macs == 4_100_000_000
    for net in nets:  # the id names its own top-1
        assert f"top1@{net.top1:.1f}" in net.net_id


def test_weights_folder(folder):
    model, image_size = ofa_tf.ofa_specialized(FIXTURE, weights=folder)
    cases = np.load(folder / "logits.npz")
    assert image_size == 164 == cases["input"].shape[1]
    scale = np.abs(cases["logits"]).max()
    np.testing.assert_allclose(model(cases["input"]).numpy(), cases["logits"], atol=1e-4 * scale)


def test_pretrained_downloads_from_file_url(files_root, folder, monkeypatch, tmp_path):
    monkeypatch.setenv("OFA_TF_FILES_URL", files_root.as_uri())
    model, image_size = ofa_tf.ofa_specialized(RELEASED, pretrained=True)
    cached = tmp_path / "keras_home" / "ofa_tf" / "ofa_specialized" / RELEASED.replace("@", "-")
    assert sorted(p.name for p in cached.iterdir()) == ["init", "net.config", "run.config"]
    cases = np.load(folder / "logits.npz")
    scale = np.abs(cases["logits"]).max()
    np.testing.assert_allclose(model(cases["input"]).numpy(), cases["logits"], atol=1e-4 * scale)
    # Cached: works with the files gone from the server.
    shutil.rmtree(files_root)
    assert ofa_tf.ofa_specialized(RELEASED, pretrained=True)[1] == image_size


def test_architecture_only_fetches_the_configs_over_http(files_root, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("OFA_TF_FILES_URL", http_server(files_root))
    model, image_size = ofa_tf.ofa_specialized(RELEASED)
    assert image_size == 164 and model.output_shape == (None, 1000)
    cached = tmp_path / "keras_home" / "ofa_tf" / "ofa_specialized" / RELEASED.replace("@", "-")
    assert sorted(p.name for p in cached.iterdir()) == ["net.config", "run.config"]  # no weights fetched


def test_offline_error_names_files_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("OFA_TF_FILES_URL", (tmp_path / "nowhere").as_uri())
    with pytest.raises(ConnectionError) as err:
        ofa_tf.ofa_specialized(RELEASED, pretrained=True)
    message = str(err.value)
    assert "net.config, run.config, init" in message and "weights='FOLDER'" in message
    assert "ofa_specialized/note8_lat-65ms_top1-76.1_finetune-25/" in message
    assert not [p for p in (tmp_path / "ofa_tf").rglob("*") if p.is_file()]  # no half-written file


def test_bad_requests(folder, tmp_path):
    with pytest.raises(ValueError, match="Unknown specialized net id 'note9_lat@1ms'"):
        ofa_tf.ofa_specialized("note9_lat@1ms", pretrained=True)
    with pytest.raises(ValueError, match="either pretrained=True or weights"):
        ofa_tf.ofa_specialized(RELEASED, pretrained=True, weights=folder)
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(folder / "net.config", partial / "net.config")
    with pytest.raises(FileNotFoundError, match="missing run.config, init"):
        ofa_tf.ofa_specialized(FIXTURE, weights=partial)
