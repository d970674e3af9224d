"""The README is a front door: short, its two commands first and exactly those CI runs, and no dead links."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_README_LINES = 150
# [text](target) of Markdown, and ![alt](target); the target ends at whitespace or ")"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def ci_readme_commands(ci_script: str) -> list[str]:
    """The commands of `.ci/run` that follow a "# README:" comment (one command line each)."""
    lines = [line.strip() for line in ci_script.splitlines()]
    commands = []
    for i, line in enumerate(lines):
        if line.startswith("# README:"):
            command = next((n for n in lines[i + 1:] if n and not n.startswith("#")), None)
            if command is None:
                raise ValueError(f"A '# README:' comment at line {i + 1} of .ci/run has no command after it.")
            commands.append(command)
    return commands


def first_bash_block(markdown: str) -> list[str]:
    """The non-empty lines of the first ```bash fenced block, trailing `# comments` kept."""
    match = re.search(r"^```bash\n(.*?)^```", markdown, flags=re.S | re.M)
    if match is None:
        raise ValueError("No ```bash block found.")
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def relative_links(markdown: str) -> list[str]:
    """Link targets that are paths inside the repository (no URL scheme, no pure #anchor), without their anchor."""
    # fenced code is not Markdown: `[x](y)` inside it is code
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def test_readme_is_short():
    n_lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_README_LINES, f"README.md has {n_lines} lines; keep it a front door (move detail to docs/)."


def test_readme_first_commands_are_what_ci_runs():
    ci = ci_readme_commands((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert ci == ['pip install -e ".[dev,torch]" && ofa-tf demo --out demo_out', "python -m pytest"]
    assert first_bash_block((ROOT / "README.md").read_text(encoding="utf-8")) == ci


def test_parsers_on_examples():
    script = "set -e\n# README: set-up\npip install .\n\n# other\nlint\n# README: tests\n\npython -m pytest\n"
    assert ci_readme_commands(script) == ["pip install .", "python -m pytest"]
    with pytest.raises(ValueError, match="line 1 of .ci/run has no command"):
        ci_readme_commands("# README: nothing\n")
    text = "Intro\n```python\nx = 1\n```\n```bash\na  \n\nb # c\n```\n```bash\nd\n```\n"
    assert first_bash_block(text) == ["a", "b # c"]
    links = "[a](docs/a.md#x) ![p](img.png) [u](https://x.org/y) [s](#top) [t](b.md \"title\")\n```\n[c](no.md)\n```\n"
    assert relative_links(links) == ["docs/a.md", "img.png", "b.md"]


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_relative_links_exist(page):
    path = ROOT / page
    targets = relative_links(path.read_text(encoding="utf-8"))
    assert targets or page.startswith("docs/"), f"{page} links nothing"
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert not missing, f"{page} links to missing files: {missing}"
