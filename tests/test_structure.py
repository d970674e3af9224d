"""One folder per network family behind one registry (`ofa_tf/families/__init__.py`): no code outside a family's
folder and `ofa_tf/registry.py` chooses by family type, and no private name crosses modules (tests/structure_checks.py
reads the source)."""
import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("structure_checks", Path(__file__).with_name("structure_checks.py"))
checks = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(checks)


def test_no_family_type_switch_outside_the_family_folders_and_the_registry():
    assert checks.family_switch_lines() == []


def test_no_private_name_is_imported_across_modules():
    assert checks.private_import_lines() == []


@pytest.fixture
def tree(tmp_path):
    """A small tree: a family folder and a module above it."""
    (tmp_path / "ofa_tf" / "families" / "resnet").mkdir(parents=True)
    (tmp_path / "ofa_tf" / "families" / "resnet" / "space.py").write_text(
        "class ResNetSearchSpace:\n    pass\n\n\ndef _helper():\n    pass\n")
    (tmp_path / "ofa_tf" / "nas").mkdir()
    return tmp_path


@pytest.mark.parametrize("code, kind", [
    ("if isinstance(space, ResNetSearchSpace):\n    pass\n", "isinstance on ResNetSearchSpace"),
    ("table = {ResNetSearchSpace: 1}\n", "dispatch table of ResNetSearchSpace"),
    ("same = type(a) is type(b)\n", "type(...) used as a value"),
    ("f = getattr(net, 'torch_weight_table', None)\n", "getattr(..., 'torch_weight_table') duck switch"),
])
def test_the_checks_find_a_family_switch_outside_the_family_folder(tree, code, kind):
    (tree / "ofa_tf" / "nas" / "search.py").write_text(
        "from ofa_tf.families.resnet.space import ResNetSearchSpace\n" + code)
    assert [(path, row_kind) for path, _, row_kind, _ in checks.family_switch_lines(tree)] == [
        ("ofa_tf/nas/search.py", kind)]


def test_the_checks_allow_switches_in_a_family_folder_and_type_of_an_error(tree):
    (tree / "ofa_tf" / "families" / "resnet" / "batch.py").write_text(
        "from ofa_tf.families.resnet.space import ResNetSearchSpace\nok = isinstance(1, ResNetSearchSpace)\n")
    (tree / "ofa_tf" / "nas" / "search.py").write_text(
        "try:\n    pass\nexcept ValueError as err:\n    raise type(err)(f'context: {err}') from err\n")
    assert checks.family_switch_lines(tree) == []


def test_the_checks_find_a_private_name_imported_across_modules(tree):
    (tree / "ofa_tf" / "nas" / "search.py").write_text("from ofa_tf.families.resnet.space import _helper\n")
    assert [(path, what) for path, _, what, _ in checks.private_import_lines(tree)] == [
        ("ofa_tf/nas/search.py", "ofa_tf.families.resnet.space._helper")]
