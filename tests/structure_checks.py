#!/usr/bin/env python
"""The structure rules of `ofa_tf/families/__init__.py`, checked by reading the source (nothing is imported or run).

    python tests/structure_checks.py [--repo DIR] [--all]        # tests/test_structure.py runs it as a test

Prints
  1. every type switch on a family class (supernet, config, search space, batch, preset, sampler, encoder, efficiency
     model, elastic block) outside `ofa_tf/families/` and the registry: `isinstance`/`issubclass` with a family class,
     `type(x)` used as a value (compared, looked up, passed), dict tables keyed or valued by family classes,
     `A if cond else B` choosing between family classes, and duck-typed switches (`hasattr(x, "torch_weight_table")`,
     `getattr(x, "config_type", Default)`, ...) on attributes that only some families have;
  2. every private name (`_x`) imported across modules: `from m import _x`, `m._x` on an imported project module, and
     a private module (`pkg._m`) imported from outside `pkg`;

Scope of the gate: ofa_tf/, tools/, android_bench/. With --all, tests/ and benchmarks/ are listed too (not gated).
Exit status 1 if (1) or (2) finds anything in the gated scope, else 0.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

GATED = ("ofa_tf", "tools", "android_bench")
INFO_ONLY = ("tests", "benchmarks")
PROJECT_ROOTS = {"ofa_tf", "tools", "ofa_tf_tools", "android_bench"}

# Where family switches may live: a family's own folder (the import contract keeps family folders
# from importing each other, so code there can only name its own classes and the shared MBConv base) and the registry.
ALLOWED_PREFIXES = ("ofa_tf/families/",)
ALLOWED_FILES = ("ofa_tf/registry.py",)

# Family classes by their (stable, public or module-level) names; classes defined under ofa_tf/families/ are added.
FAMILY_CLASSES = {
    # shared MBConv base (MobileNetV3 + ProxylessNAS)
    "MBConvSupernet", "SubnetConfig", "SearchSpace", "NetworkShape", "StageShape", "ConfigBatch", "ArchEncoder",
    "StageEncoder", "MacsModel", "ParamsModel", "ElasticMBConv", "Preset",
    # MobileNetV3
    "OFAMobileNetV3", "ReferenceAccuracyPredictor",
    # ProxylessNAS
    "OFAProxylessNASNets", "ProxylessPreset",
    # ResNet
    "OFAResNets", "ResNetConfig", "ResNetSearchSpace", "ResNetBatch", "ResNetPreset", "ResNetCandidateSampler",
    "ResNetMacsModel", "ResNetParamsModel", "ResNetArchEncoder", "ElasticBottleneck",
}
# Attributes only some families have: probing them with hasattr / getattr(..., default) is a family switch.
FAMILY_ATTRS = {
    "torch_weight_table", "remap_torch_key", "restrict", "width_mult", "width_mult_list", "config_type", "final_phase",
    "network_shape", "stem_widths", "ks_list", "stage_strides", "first_stride",
}


def rel(path: Path, repo: Path) -> str:
    return path.relative_to(repo).as_posix()


def python_files(repo: Path, roots) -> list[Path]:
    out = []
    for root in roots:
        base = repo / root
        if base.is_dir():
            out += [p for p in sorted(base.rglob("*.py")) if "__pycache__" not in p.parts]
    return out


def module_name(path: Path, repo: Path) -> str:
    parts = list(path.relative_to(repo).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(path: Path, repo: Path) -> str:
    name = module_name(path, repo)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def resolve_from(node: ast.ImportFrom, path: Path, repo: Path) -> str:
    if not node.level:
        return node.module or ""
    base = package_of(path, repo).split(".")
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, *([node.module] if node.module else [])])


def normalise(module: str) -> str:
    """`ofa_tf_tools.x` (the installed name of tools/) is `tools.x`."""
    return "tools" + module[len("ofa_tf_tools"):] if module.split(".")[0] == "ofa_tf_tools" else module


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def allowed_for_switches(relpath: str) -> bool:
    return relpath.startswith(ALLOWED_PREFIXES) or relpath in ALLOWED_FILES


def family_classes_defined(repo: Path) -> set[str]:
    found = set()
    for path in python_files(repo, ("ofa_tf/families",)):
        tree = ast.parse(path.read_text(), str(path))
        found |= {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    return found


def names_in(node) -> set[str]:
    """Class names a node mentions: `A`, `mod.A`, `(A, B)`."""
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
    return out


def line_of(source: list[str], node) -> str:
    return " ".join(source[node.lineno - 1].split())[:150]


# === 1. family switches ===


def family_switches(path: Path, repo: Path, classes: set[str]) -> list[tuple[str, int, str, str]]:
    text = path.read_text()
    tree = ast.parse(text, str(path))
    source = text.splitlines()
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    hits = []

    def hit(node, kind):
        hits.append((rel(path, repo), node.lineno, kind, line_of(source, node)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn = node.func.id
            if fn in ("isinstance", "issubclass") and len(node.args) == 2:
                named = names_in(node.args[1]) & classes
                if named:
                    hit(node, f"{fn} on {', '.join(sorted(named))}")
            elif fn == "type" and len(node.args) == 1:
                parent = parents.get(node)
                # `type(x).__name__` reads the name; `type(err)(message)` makes another object of x's own type (a
                # re-raised error with context): neither chooses by family
                used_as_value = not (isinstance(parent, ast.Attribute) and parent.value is node) \
                    and not (isinstance(parent, ast.Call) and parent.func is node)
                if used_as_value and isinstance(parent, (ast.Compare, ast.Call, ast.Subscript, ast.Dict)):
                    hit(node, "type(...) used as a value")
            elif fn in ("hasattr", "getattr") and len(node.args) >= 2:
                attr = node.args[1]
                probing = fn == "hasattr" or len(node.args) == 3
                if probing and isinstance(attr, ast.Constant) and attr.value in FAMILY_ATTRS:
                    hit(node, f"{fn}(..., {attr.value!r}) duck switch")
        elif isinstance(node, ast.Dict):
            named = set()
            for item in [*node.keys, *node.values]:
                if isinstance(item, (ast.Name, ast.Attribute)):
                    named |= names_in(item) & classes
            if named:
                hit(node, f"dispatch table of {', '.join(sorted(named))}")
        elif isinstance(node, ast.IfExp):
            sides = [s for s in (node.body, node.orelse) if isinstance(s, (ast.Name, ast.Attribute))]
            named = set().union(*(names_in(s) for s in sides)) & classes if sides else set()
            if named:
                hit(node, f"conditional choice of {', '.join(sorted(named))}")
    # one row per line is enough
    seen, out = set(), []
    for row in sorted(hits, key=lambda r: (r[1], r[2])):
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            out.append(row)
    return out


# === 2. private names across modules ===


def private_imports(path: Path, repo: Path) -> list[tuple[str, int, str, str]]:
    text = path.read_text()
    tree = ast.parse(text, str(path))
    source = text.splitlines()
    me = normalise(module_name(path, repo))
    my_package = normalise(package_of(path, repo))
    hits = []
    module_aliases = {}

    def private_module_outside(module: str) -> str | None:
        parts = module.split(".")
        for i, part in enumerate(parts):
            if is_private(part):
                owner = ".".join(parts[:i])
                if not (my_package == owner or my_package.startswith(owner + ".")):
                    return ".".join(parts[: i + 1])
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = normalise(resolve_from(node, path, repo))
            if module.split(".")[0] not in {"ofa_tf", "tools", "android_bench"}:
                continue
            private_mod = private_module_outside(module)
            if private_mod:
                hits.append((rel(path, repo), node.lineno, f"private module {private_mod}", line_of(source, node)))
            for alias in node.names:
                if is_private(alias.name) and module != me:
                    hits.append((rel(path, repo), node.lineno, f"{module}.{alias.name}", line_of(source, node)))
                elif not is_private(alias.name):
                    module_aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module = normalise(alias.name)
                if module.split(".")[0] not in {"ofa_tf", "tools", "android_bench"}:
                    continue
                private_mod = private_module_outside(module)
                if private_mod:
                    hits.append((rel(path, repo), node.lineno, f"private module {private_mod}", line_of(source, node)))
                module_aliases[alias.asname or alias.name.split(".")[0]] = module if alias.asname else \
                    alias.name.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and is_private(node.attr):
            target = module_aliases.get(node.value.id)
            if target and target != me:
                hits.append((rel(path, repo), node.lineno, f"{target}.{node.attr}", line_of(source, node)))
    return sorted(set(hits), key=lambda r: (r[0], r[1], r[2]))


# === main ===


REPO = Path(__file__).resolve().parents[1]


def family_switch_lines(repo: Path = REPO, roots=GATED) -> list[tuple[str, int, str, str]]:
    """Family-type switches in `roots` outside the family folders and the registry."""
    classes = FAMILY_CLASSES | family_classes_defined(repo)
    rows = [row for p in python_files(repo, roots) for row in family_switches(p, repo, classes)]
    return [r for r in rows if not allowed_for_switches(r[0])]


def private_import_lines(repo: Path = REPO, roots=GATED) -> list[tuple[str, int, str, str]]:
    """Private names (and private modules) imported across modules in `roots`."""
    return [row for p in python_files(repo, roots) for row in private_imports(p, repo)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=REPO, type=Path)
    parser.add_argument("--all", action="store_true", help="also list tests/ and benchmarks/ (not gated)")
    opts = parser.parse_args()
    repo = opts.repo.resolve()
    roots = GATED + (INFO_ONLY if opts.all else ())
    switches = family_switch_lines(repo, roots)
    gated_switches = [r for r in switches if r[0].split("/")[0] in GATED]
    print(f"== Family-type switches outside {', '.join(ALLOWED_PREFIXES + ALLOWED_FILES)}: "
          f"{len(gated_switches)} in {', '.join(GATED)}")
    for path, line, kind, code in switches:
        mark = "" if path.split("/")[0] in GATED else " (not gated)"
        print(f"  {path}:{line}  [{kind}]{mark}  {code}")
    privates = private_import_lines(repo, roots)
    gated_privates = [r for r in privates if r[0].split("/")[0] in GATED]
    print(f"\n== Private names imported across modules: {len(gated_privates)} in {', '.join(GATED)}")
    for path, line, what, code in privates:
        mark = "" if path.split("/")[0] in GATED else " (not gated)"
        print(f"  {path}:{line}  {what}{mark}  {code}")
    return 1 if gated_switches or gated_privates else 0


if __name__ == "__main__":
    sys.exit(main())
