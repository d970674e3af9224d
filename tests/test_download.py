"""Downloads are read before they enter the cache, and a cached file that does not read is fetched again, so a
mirror that once served a broken file does not break every later call (issue 26). Served from a local folder
(file://) or a loopback HTTP server through $OFA_TF_FILES_URL; never the network."""
import logging
import shutil

import pytest

import ofa_tf

RELEASED = "note8_lat@65ms_top1@76.1_finetune@25"
FOLDER = RELEASED.replace("@", "-")


@pytest.fixture
def mirror(tmp_path, tiny_specialized, monkeypatch):
    """A mirror of the reference's layout holding the tiny specialized folder under a released id; empty cache."""
    root = tmp_path / "mirror"
    shutil.copytree(tiny_specialized, root / "ofa_specialized" / FOLDER)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return root


def cached(tmp_path):
    folder = tmp_path / "keras_home" / "ofa_tf" / "ofa_specialized" / FOLDER
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_truncated_download_is_not_cached_and_the_fixed_mirror_is_used(mirror, tmp_path, http_server, monkeypatch):
    url = http_server(mirror)
    monkeypatch.setenv("OFA_TF_FILES_URL", url)
    init = mirror / "ofa_specialized" / FOLDER / "init"
    good = init.read_bytes()
    init.write_bytes(good[: len(good) // 2])
    with pytest.raises(ConnectionError) as err:
        ofa_tf.ofa_specialized(RELEASED, pretrained=True)
    message = str(err.value)
    assert message.startswith(f"Could not download init of {RELEASED}: {url}/ofa_specialized/{FOLDER}/init served a "
                              "file that does not read (init is not a readable PyTorch checkpoint")
    assert "nothing was cached" in message
    assert cached(tmp_path) == ["net.config", "run.config"]  # the two configs read; the broken init stayed out
    init.write_bytes(good)
    model, image_size = ofa_tf.ofa_specialized(RELEASED, pretrained=True)
    assert image_size == 16 and model.output_shape == (None, 10)
    assert cached(tmp_path) == ["init", "net.config", "run.config"]


def test_a_corrupt_config_download_is_not_cached(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_TF_FILES_URL", mirror.as_uri())
    config = mirror / "ofa_specialized" / FOLDER / "net.config"
    good = config.read_text()
    config.write_text("<html>rate limited</html>")
    with pytest.raises(ConnectionError, match=r"net.config served a file that does not read \(net.config is not valid "
                                              r"JSON: Expecting value: line 1 column 1"):
        ofa_tf.ofa_specialized(RELEASED)
    assert cached(tmp_path) == []
    config.write_text(good)
    assert ofa_tf.ofa_specialized(RELEASED)[1] == 16


def test_a_cached_file_that_does_not_read_is_fetched_again(mirror, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OFA_TF_FILES_URL", mirror.as_uri())
    folder = tmp_path / "keras_home" / "ofa_tf" / "ofa_specialized" / FOLDER
    folder.mkdir(parents=True)
    good = (mirror / "ofa_specialized" / FOLDER / "init").read_bytes()
    for name in ("net.config", "run.config"):
        shutil.copy(mirror / "ofa_specialized" / FOLDER / name, folder / name)
    (folder / "init").write_bytes(good[:1000])  # what a mirror served before it was fixed
    with caplog.at_level(logging.WARNING, logger="ofa_tf.download"):
        model, _ = ofa_tf.ofa_specialized(RELEASED, pretrained=True)
    assert (folder / "init").read_bytes() == good
    assert f"The cached {folder / 'init'} does not read" in caplog.text and "downloading it again" in caplog.text


def test_the_reference_predictor_download_is_read_first(shared, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="reading acc_predictor.pth needs the torch extra")
    from ofa_tf.nas import pretrained_accuracy_predictor

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    good = (shared / "reference" / "released" / "acc_predictor.pth").read_bytes()
    (mirror / "acc_predictor.pth").write_bytes(good[:2000])
    monkeypatch.setenv("OFA_TF_FILES_URL", mirror.as_uri())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    with pytest.raises(ConnectionError, match="acc_predictor.pth served a file that does not read"):
        pretrained_accuracy_predictor(pretrained=True)
    assert not (tmp_path / "keras_home" / "ofa_tf" / "acc_predictor.pth").exists()
    (mirror / "acc_predictor.pth").write_bytes(good)
    config = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 160}
    assert 0 < float(pretrained_accuracy_predictor(pretrained=True).predict([config])[0]) < 1


def test_cached_official_weights_that_do_not_read_are_fetched_again(tmp_path, monkeypatch):
    """`ofa_net(pretrained=True)` caches under $KERAS_HOME/ofa_tf from the files root ($OFA_TF_FILES_URL); a
    truncated copy there is replaced."""
    torch = pytest.importorskip("torch", reason="reading .pth needs the torch extra")
    import urllib.request

    from ofa_tf.zoo import download_weights

    source = tmp_path / "mirror" / "ofa_nets" / "ofa_mbv3_d234_e346_k357_w1.0"
    source.parent.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.ones(8)}}, source)
    cache = tmp_path / "keras" / "ofa_tf" / "ofa_mbv3_d234_e346_k357_w1.0"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(source.read_bytes()[:100])
    calls = []
    urlopen = urllib.request.urlopen

    def counted(url, *args, **kwargs):
        calls.append(url)
        return urlopen(url, *args, **kwargs)

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("OFA_TF_FILES_URL", (tmp_path / "mirror").as_uri())
    monkeypatch.setattr(urllib.request, "urlopen", counted)
    assert download_weights("ofa_mbv3_d234_e346_k357_w1.0") == cache
    assert cache.read_bytes() == source.read_bytes() and calls == [source.as_uri()]
