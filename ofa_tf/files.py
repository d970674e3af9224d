"""Writing files so that a failed or interrupted write leaves the previous file (or none), and YAML or JSON by suffix."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

YAML_SUFFIXES = (".yaml", ".yml")
STRUCTURED_SUFFIXES = (*YAML_SUFFIXES, ".json")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` (its name ends like `path`'s, e.g. `.weights.h5`) to write to; renamed over
    `path` when the block ends, removed if it raises. Creates `path`'s folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the mode of a new file, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, payload: bytes | str) -> Path:
    """Writes `payload` (bytes, or text as UTF-8) to a temporary file in `path`'s folder, synced to disk, then renames
    it over `path`. A failure leaves `path` as it was (absent or the previous file) and no temporary file."""
    data = payload.encode() if isinstance(payload, str) else payload
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def _check_suffix(path: Path, what: str) -> None:
    if path.suffix not in STRUCTURED_SUFFIXES:
        raise ValueError(f"Unsupported {what} format {path.suffix!r} ({path}); use .yaml, .yml or .json.")


def read_yaml_or_json(path: str | Path, what: str = "file"):
    """The data of a `.yaml`/`.yml` or `.json` file; `what` names the file in errors (e.g. "latency table")."""
    path = Path(path)
    _check_suffix(path, what)
    if not path.is_file():
        raise FileNotFoundError(f"{what[:1].upper()}{what[1:]} not found: {path}")
    try:
        text = path.read_text()
        if path.suffix in YAML_SUFFIXES:
            import yaml

            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as err:  # syntax errors, and tags such as !!python/object that safe_load refuses
                mark = getattr(err, "problem_mark", None)
                where = f" at line {mark.line + 1}" if mark is not None else ""
                problem = " ".join(str(getattr(err, "problem", None) or err).split())
                if isinstance(err, yaml.constructor.ConstructorError):
                    problem += " (only plain YAML is read: tags such as !!python/... are refused)"
                raise ValueError(f"{path} is not valid YAML{where}: {problem}.") from err
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON at line {err.lineno}: {err.msg}.") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a text file ({err.reason} at byte {err.start}).") from err


def write_yaml_or_json(path: str | Path, data, what: str = "file") -> Path:
    """Writes `data` as YAML (`.yaml`/`.yml`, keys in order) or JSON (`.json`) by suffix, atomically."""
    path = Path(path)
    _check_suffix(path, what)
    if path.suffix in YAML_SUFFIXES:
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)
    else:
        text = json.dumps(data, indent=1) + "\n"
    return write_atomic(path, text)
