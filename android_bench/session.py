"""Run a list of models on one target, storing every result as soon as it exists; resume after a disconnect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

from android_bench.adb import Adb
from android_bench.adb import AdbError
from android_bench.adb import DeviceDisconnectedError
from android_bench.android_target import AndroidTarget
from android_bench.device import HOST_SERIAL
from android_bench.host_target import HostBinaryTarget
from android_bench.host_target import HostInterpreterTarget
from android_bench.options import BenchmarkOptions
from android_bench.result import STATUS_FAILED
from android_bench.result import STATUS_OK
from android_bench.result import Result
from android_bench.store import DEFAULT_DB
from android_bench.store import SESSION_COMPLETE
from android_bench.store import SESSION_INCOMPLETE
from android_bench.store import SESSION_INTERRUPTED
from android_bench.store import SESSION_RUNNING
from android_bench.store import ResultStore
from android_bench.store import now_iso
from android_bench.target import BenchmarkFailedError
from android_bench.target import Target
from android_bench.target import resolve_taskset
from android_bench.target import sha256_file

logger = logging.getLogger(__name__)

TFLITE_IDENTIFIER = b"TFL3"


class SessionInterruptedError(RuntimeError):
    """The device went away mid-session; finished results are stored and ``resume=True`` completes the rest."""

    def __init__(self, message: str, session_id: str, results: list[Result]):
        super().__init__(message)
        self.session_id = session_id
        self.results = results


class NothingToResumeError(LookupError):
    """``resume=True`` but the store has no unfinished session for this device, flags and tool version."""


def check_model(path: str | Path) -> Path:
    """Return ``path`` if it is a readable TFLite flatbuffer; raise naming the file otherwise."""
    model = Path(path)
    if not model.is_file():
        raise FileNotFoundError(f"Model file not found: {model}")
    with open(model, "rb") as handle:
        header = handle.read(8)
    if header[4:8] != TFLITE_IDENTIFIER:
        raise ValueError(f"Not a TFLite model (no 'TFL3' identifier at byte 4): {model}")
    return model.resolve()


def model_load_error(path: str | Path) -> str | None:
    """Why this machine's TFLite interpreter cannot load ``path`` (a broken file), or None when it loads."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.interpreter import OpResolverType

    try:  # without the default XNNPACK delegate, whose creation LiteRT announces on stderr from C++
        Interpreter(model_path=str(path),
                    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES).allocate_tensors()
    except (ValueError, RuntimeError, OSError) as err:
        return " ".join(str(err).split())
    return None


def make_target(target: str, binary: str | Path | None = None, adb: Adb | None = None) -> Target:
    """'host' (interpreter, or the host ``binary`` when given) or an adb serial (``binary`` required)."""
    if target == HOST_SERIAL:
        return HostBinaryTarget(binary) if binary else HostInterpreterTarget()
    if not binary:
        raise ValueError(f"A benchmark_model binary is required for device {target!r}: pass --binary PATH.")
    if not Path(binary).is_file():
        raise FileNotFoundError(f"benchmark_model binary not found: {binary}")
    return AndroidTarget(adb or Adb(), target, binary)


def benchmark(
    models: Sequence[str | Path],
    target: str | Target = HOST_SERIAL,
    *,
    binary: str | Path | None = None,
    options: BenchmarkOptions | None = None,
    db: str | Path | ResultStore | None = DEFAULT_DB,
    resume: bool = False,
    adb: Adb | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Benchmark ``models`` on ``target`` ('host', an adb serial, or a ready :class:`Target`).

    Every result is written to the store ``db`` as soon as it is measured (``None``: an in-memory store).
    With ``resume=True`` the latest unfinished session for the same device, flags and tool version is
    continued: models already measured OK there are not rerun (an empty ``models`` means that session's list).

    Returns:
        One result per model, in order (earlier OK results for models skipped on resume).

    Raises:
        SessionInterruptedError: the device disconnected; ``.results`` holds what finished.
    """
    options = options or BenchmarkOptions()
    checked = [check_model(model) for model in models]
    store = db if isinstance(db, ResultStore) else ResultStore(":memory:" if db is None else db)
    try:
        runner = target if not isinstance(target, str) else make_target(target, binary, adb)
        return _run_session(runner, checked, options, store, resume, on_result)
    finally:
        if store is not db:
            store.close()


def _run_session(target: Target, models: list[Path], options: BenchmarkOptions, store: ResultStore, resume: bool,
                 on_result: Callable[[Result], None] | None) -> list[Result]:
    device = target.device
    taskset = resolve_taskset(target, options)
    flags = options.key(taskset)
    identity = dict(serial=device.serial, device_fingerprint=device.fingerprint, flags=flags,
                    tool_version=target.tool_version)
    done: dict[str, Result] = {}
    if resume:
        session = store.find_resumable_session(**identity)
        if session is None:
            raise NothingToResumeError(
                f"Nothing to resume: no unfinished session for device {device.serial} with flags '{flags}' and "
                f"tool {target.tool_version}. Run without --resume."
            )
        done = {r.model_sha256: r for r in store.results(session_id=session.session_id, status=STATUS_OK)}
        if not models:
            models = [check_model(entry["path"]) for entry in session.models]
        store.set_session_status(session.session_id, SESSION_RUNNING)
        logger.info("resuming session %s: %d model(s) already measured", session.session_id, len(done))
    hashes = [sha256_file(model) for model in models]
    if not resume:
        session = store.start_session(
            target=target.kind, models=[{"path": str(m), "sha256": h} for m, h in zip(models, hashes)], **identity
        )
    results: list[Result] = []
    pending = [(model, sha) for model, sha in zip(models, hashes) if sha not in done]
    try:
        if pending:
            try:
                target.setup(options)
            except DeviceDisconnectedError as exc:
                store.set_session_status(session.session_id, SESSION_INTERRUPTED)
                raise SessionInterruptedError(
                    f"{exc}. Nothing was measured; reconnect and rerun the same command with --resume.",
                    session.session_id, results,
                ) from exc
        for model, sha in zip(models, hashes):
            if sha in done:
                results.append(done[sha])
                continue
            result = Result(
                session_id=session.session_id, target=target.kind, serial=device.serial, device=device.model,
                device_fingerprint=device.fingerprint, model_path=str(model), model_sha256=sha, flags=flags,
                tool_version=target.tool_version, status=STATUS_OK, created_at=now_iso(),
            )
            try:
                output, raw = target.run_model(model, options, taskset)
                result.with_output(output).raw_output = raw
                done[sha] = result
            except BenchmarkFailedError as exc:
                result.status, result.error, result.raw_output = STATUS_FAILED, str(exc), exc.raw_output
            except DeviceDisconnectedError as exc:
                result.status, result.error = STATUS_FAILED, str(exc)
                result.raw_output = exc.stdout + exc.stderr
                results.append(store.add_result(result))
                if on_result is not None:
                    on_result(results[-1])
                store.set_session_status(session.session_id, SESSION_INTERRUPTED)
                measured = sum(1 for r in results if r.ok)
                raise SessionInterruptedError(
                    f"{exc}. {measured} of {len(models)} model(s) measured OK and stored in {store.path} "
                    f"(session {session.session_id}); reconnect and rerun the same command with --resume.",
                    session.session_id, results,
                ) from exc
            result = store.add_result(result)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        if pending:
            try:
                target.teardown()
            except AdbError as exc:
                logger.warning("cleanup failed: %s", exc)
    complete = all(sha in done for sha in hashes)
    store.set_session_status(session.session_id, SESSION_COMPLETE if complete else SESSION_INCOMPLETE)
    return results
