"""Atomic writes and YAML-or-JSON files (`ofa_tf.files`)."""
import os

import pytest

from ofa_tf.files import atomic_path
from ofa_tf.files import read_yaml_or_json
from ofa_tf.files import write_atomic
from ofa_tf.files import write_yaml_or_json


def _listing(path):
    return sorted(p.name for p in path.iterdir())


def test_write_atomic_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert _listing(tmp_path) == ["model.tflite"]


def test_write_atomic_replaces_and_creates_the_folder(tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and _listing(tmp_path) == ["model.tflite"]
    assert write_atomic(tmp_path / "a" / "b.txt", "text é").read_text(encoding="utf-8") == "text é"
    umask = os.umask(0o027)
    try:
        written = write_atomic(tmp_path / "a" / "c.tflite", b"x")
    finally:
        os.umask(umask)
    assert oct(written.stat().st_mode & 0o777) == oct(0o640)  # a new file's mode under the umask, not mkstemp's 0600


def test_atomic_path_keeps_the_name_ending_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "full.weights.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith("-full.weights.h5")
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert _listing(tmp_path) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert _listing(tmp_path) == ["full.weights.h5"] and target.read_bytes() == b"whole"


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_yaml_or_json_round_trip_keeps_key_order(tmp_path, suffix):
    data = {"header": {"z": 1, "a": [1, 2]}, "table": {"Conv-2": {"mean": 0.5}}}
    path = write_yaml_or_json(tmp_path / f"t{suffix}", data)
    assert read_yaml_or_json(path) == data and list(read_yaml_or_json(path)["header"]) == ["z", "a"]
    assert ("header:" in path.read_text()) == (suffix != ".json")


def test_yaml_or_json_errors_name_the_file_and_the_allowed_suffixes(tmp_path):
    with pytest.raises(ValueError, match=r"Unsupported latency table format '.txt' .*t.txt.*use .yaml, .yml or .json"):
        write_yaml_or_json(tmp_path / "t.txt", {}, "latency table")
    with pytest.raises(ValueError, match=r"Unsupported file format '.csv'"):
        read_yaml_or_json(tmp_path / "t.csv")
    with pytest.raises(FileNotFoundError, match=r"Latency table not found: .*missing.yaml"):
        read_yaml_or_json(tmp_path / "missing.yaml", "latency table")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("name, text, message", [
    ("syntax.yaml", "header: {net_id: x}\ntable:\n  a: [1, 2\n",
     "syntax.yaml is not valid YAML at line 4: expected ',' or ']', but got '<stream end>'."),
    ("tag.yaml", '!!python/object/apply:os.system ["echo owned"]\n',
     "tag.yaml is not valid YAML at line 1: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system' (only plain YAML is read: tags such as !!python/... are "
     "refused)."),
    ("truncated.json", '{"header": {"net_id": "x"}, "table": {"a": {"mean"',
     "truncated.json is not valid JSON at line 1: Expecting ':' delimiter."),
    ("binary.yaml", b"\xff\xfe\x00garbage", "binary.yaml is not a text file (invalid start byte at byte 0)."),
])
def test_unreadable_yaml_or_json_is_one_line_naming_the_file(tmp_path, name, text, message):
    """Syntax errors, `!!python` tags (never constructed) and truncated files: a ValueError naming the file and the
    problem, not a yaml / json traceback (issue 26)."""
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError) as err:
        read_yaml_or_json(path, "latency table")
    assert str(err.value) == f"{tmp_path}/{message}"
