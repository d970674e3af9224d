"""SQLite store of benchmark sessions and results; rows are only ever appended or closed."""

from __future__ import annotations

import dataclasses
import datetime
import json
import sqlite3
import uuid
from pathlib import Path

from android_bench.result import Result

DEFAULT_DB = Path("~/.ofa_tf/android_bench.sqlite")
SESSION_RUNNING = "running"
SESSION_COMPLETE = "complete"
SESSION_INCOMPLETE = "incomplete"
SESSION_INTERRUPTED = "interrupted"

_RESULT_COLUMNS = {
    field.name: ("INTEGER PRIMARY KEY AUTOINCREMENT" if field.name == "id" else
                 "INTEGER" if field.type in ("int | None",) else
                 "REAL" if field.type == "float | None" else "TEXT")
    for field in dataclasses.fields(Result)
}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    target TEXT NOT NULL,
    serial TEXT NOT NULL,
    device_fingerprint TEXT NOT NULL,
    flags TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    models TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results ({", ".join(f"{name} {kind}" for name, kind in _RESULT_COLUMNS.items())});
CREATE INDEX IF NOT EXISTS results_key ON results (device_fingerprint, serial, model_sha256, flags, tool_version);
CREATE INDEX IF NOT EXISTS results_session ON results (session_id);
"""


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class Session:
    """One ``run`` invocation: a device, flags, tool version and the models it was asked to measure."""

    session_id: str
    created_at: str
    finished_at: str | None
    target: str
    serial: str
    device_fingerprint: str
    flags: str
    tool_version: str
    models: tuple[dict, ...]
    status: str


class StoreError(ValueError):
    """The results store is missing (when only read) or is not an android_bench SQLite store."""


class ResultStore:
    """Results database at ``path``: created with its parent folder on first use, unless ``read_only``
    (reading commands never create a store)."""

    def __init__(self, path: str | Path = DEFAULT_DB, read_only: bool = False):
        self.path = Path(path).expanduser()
        if read_only and not self.path.is_file():
            raise StoreError(f"No results store at {self.path}: check --db (stores are created by `run` and `lut`).")
        if str(path) == ":memory:":
            self._conn = sqlite3.connect(":memory:")
        else:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            mode = "ro" if read_only else "rwc"
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}", uri=True)
        self._conn.row_factory = sqlite3.Row
        try:
            if read_only:
                for table in ("sessions", "results"):
                    self._conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
            else:
                with self._conn:
                    self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path} is not an android_bench results store ({err}); check --db.") from err

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sessions ---
    def start_session(self, *, target: str, serial: str, device_fingerprint: str, flags: str, tool_version: str,
                      models: list[dict]) -> Session:
        session = Session(
            session_id=uuid.uuid4().hex[:12], created_at=now_iso(), finished_at=None, target=target, serial=serial,
            device_fingerprint=device_fingerprint, flags=flags, tool_version=tool_version, models=tuple(models),
            status=SESSION_RUNNING,
        )
        with self._conn:
            self._conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.session_id, session.created_at, None, target, serial, device_fingerprint, flags,
                 tool_version, json.dumps(models), session.status),
            )
        return session

    def set_session_status(self, session_id: str, status: str) -> None:
        finished = None if status == SESSION_RUNNING else now_iso()
        with self._conn:
            self._conn.execute("UPDATE sessions SET status = ?, finished_at = ? WHERE session_id = ?",
                               (status, finished, session_id))

    def _session(self, row: sqlite3.Row) -> Session:
        data = dict(row)
        data["models"] = tuple(json.loads(data["models"]))
        return Session(**data)

    def session(self, session_id: str) -> Session | None:
        row = self._conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return self._session(row) if row else None

    def sessions(self) -> list[Session]:
        rows = self._conn.execute("SELECT * FROM sessions ORDER BY created_at, rowid").fetchall()
        return [self._session(row) for row in rows]

    def find_resumable_session(self, *, serial: str, device_fingerprint: str, flags: str,
                               tool_version: str) -> Session | None:
        """Latest unfinished session (not 'complete') for this device, flags and tool version."""
        row = self._conn.execute(
            "SELECT * FROM sessions WHERE serial = ? AND device_fingerprint = ? AND flags = ? AND tool_version = ? "
            "AND status != ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (serial, device_fingerprint, flags, tool_version, SESSION_COMPLETE),
        ).fetchone()
        return self._session(row) if row else None

    # --- results ---
    def add_result(self, result: Result) -> Result:
        """Append one result (committed immediately) and return it with its row id."""
        data = result.to_dict(include_raw=True)
        data.pop("id")
        data["op_profile_ms"] = json.dumps(data["op_profile_ms"]) if data["op_profile_ms"] is not None else None
        data["created_at"] = data["created_at"] or now_iso()
        with self._conn:
            cursor = self._conn.execute(
                f"INSERT INTO results ({', '.join(data)}) VALUES ({', '.join('?' for _ in data)})",
                tuple(data.values()),
            )
        return dataclasses.replace(result, id=cursor.lastrowid, created_at=data["created_at"])

    def results(self, *, session_id: str | None = None, serial: str | None = None, status: str | None = None,
                model_sha256: str | None = None, device_fingerprint: str | None = None, flags: str | None = None,
                tool_version: str | None = None) -> list[Result]:
        """Results in insertion order, filtered by the given fields (e.g. the full key to reuse a measurement)."""
        filters = {"session_id": session_id, "serial": serial, "status": status, "model_sha256": model_sha256,
                   "device_fingerprint": device_fingerprint, "flags": flags, "tool_version": tool_version}
        where = [f"{name} = ?" for name, value in filters.items() if value is not None]
        sql = "SELECT * FROM results" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        rows = self._conn.execute(sql, tuple(value for value in filters.values() if value is not None)).fetchall()
        results = []
        for row in rows:
            data = dict(row)
            data["op_profile_ms"] = json.loads(data["op_profile_ms"]) if data["op_profile_ms"] else None
            results.append(Result(**data))
        return results
