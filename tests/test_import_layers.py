"""Imports go one way (.importlinter): the repository keeps its contracts, and the contracts catch a wrong-way import."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is in the dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_repository_keeps_its_import_contracts():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


# A minimal tree with the repository's three packages, each importing only what it may.
ALLOWED = {
    "android_bench/__init__.py": "",
    "android_bench/__main__.py": "import android_bench.cli\n",
    "android_bench/cli.py": "",
    "android_bench/store.py": "",
    "android_bench/cli_support.py": "",
    "ofa_tf/__init__.py": "",
    "ofa_tf/families/__init__.py": "",
    "ofa_tf/families/mbconv/__init__.py": "",
    "ofa_tf/families/mbconv/supernet.py": "",
    "ofa_tf/families/mobilenet_v3/__init__.py": "import ofa_tf.families.mbconv\n",
    "ofa_tf/families/proxyless/__init__.py": "import ofa_tf.families.mbconv\n",
    "ofa_tf/families/resnet/__init__.py": "",
    "ofa_tf/families/proxyless/supernet.py": "import ofa_tf.families.mbconv\n",
    "ofa_tf/families/resnet/supernet.py": "",
    "ofa_tf/registry.py": "import ofa_tf.families.mobilenet_v3\nimport ofa_tf.families.proxyless\nimport ofa_tf.families.resnet\n",
    "ofa_tf/training/__init__.py": "",
    "tools/__init__.py": "",
    "tools/export.py": "import ofa_tf.families.mbconv.supernet\nimport android_bench.store\n",
    "tools/cli.py": "import tools.export\n",
    "tools/nas_cli.py": "import tools.export\n",
    "tools/training_cli.py": "import ofa_tf.families.mbconv.supernet\nimport android_bench.cli_support\n",
    "tools/finetune_cli.py": "import ofa_tf.training\n",
    "tools/ofa_tf_cli.py": "import tools.cli\nimport tools.nas_cli\nimport tools.training_cli\nimport tools.finetune_cli\n",
    "tools/android_bench_cli.py": "import android_bench.cli\nimport tools.export\n",
}


def _tree(tmp_path: Path, **extra: str) -> Path:
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for name, source in ALLOWED.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source + extra.get(name.replace("/", ".").removesuffix(".py"), ""))
    return tmp_path


def test_a_tree_that_imports_the_right_way_passes(tmp_path):
    result = _lint(_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


LAYERS = "tools on top of ofa_tf and android_bench, which know nothing of each other"
CLI = "only the console-script groups import the command-line modules"
FAMILIES = "network families do not import each other"


@pytest.mark.parametrize("module, bad_import, broken", [
    pytest.param("ofa_tf.families.mbconv.supernet", "import tools.export\n", LAYERS, id="ofa_tf->tools"),
    pytest.param("ofa_tf.families.mbconv.supernet", "import android_bench.store\n", LAYERS, id="ofa_tf->android_bench"),
    pytest.param("android_bench.store", "import ofa_tf.families.mbconv.supernet\n", LAYERS, id="android_bench->ofa_tf"),
    pytest.param("tools.export", "import tools.nas_cli\n", CLI, id="tools->tools_cli"),
    pytest.param("tools.export", "import tools.training_cli\n", CLI, id="tools->training_cli"),
    pytest.param("android_bench.store", "import android_bench.cli\n", CLI, id="android_bench->its_cli"),
    pytest.param("tools.nas_cli", "import tools.cli\n", CLI, id="cli->cli"),
    pytest.param("ofa_tf.families.resnet.supernet", "import ofa_tf.families.mobilenet_v3\n", FAMILIES,
                 id="resnet->mbv3"),
    pytest.param("ofa_tf.families.proxyless.supernet", "import ofa_tf.families.mobilenet_v3\n", FAMILIES,
                 id="proxyless->mbv3"),
])
def test_a_wrong_way_import_breaks_a_contract(tmp_path, module, bad_import, broken):
    result = _lint(_tree(tmp_path, **{module: bad_import}))
    assert result.returncode == 1, result.stdout
    assert f"{broken} BROKEN" in result.stdout


def test_an_import_cycle_between_siblings_breaks_a_contract(tmp_path):
    result = _lint(_tree(tmp_path, **{"tools.export": "import tools.cli\n"}))
    assert result.returncode == 1, result.stdout
    assert "no import cycles between the modules of a package BROKEN" in result.stdout
