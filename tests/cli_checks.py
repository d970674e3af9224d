"""Assertions shared by the bad-input tests of every command."""
from pathlib import Path

import numpy as np
from PIL import Image


def folder_state(folder) -> dict:
    """Every file and folder under `folder` with its bytes and mode: equal before and after means nothing changed."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mode)
            for p in sorted(Path(folder).rglob("*"))}


def one_error_line(result) -> str:
    """The single `Error: ...` line of a failed click command (asserting no traceback reached the user)."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    return errors[0]


def image_folder(root, classes, per_class=3):
    """A tiny image folder `root/<class>/<i>.png` (8x8 grey images) for commands that take `--data FOLDER`."""
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(root / c / f"{i}.png")
    return root
