"""What every command line of this repository (`ofa-tf`, `android-bench`) shares: quiet native logs unless
`--verbose`, one logging format, one error line instead of a traceback, and output paths checked before work.

It knows nothing of OFA, so both command lines can use it.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import sys
import tempfile
import warnings
from pathlib import Path

import click

# Library errors that mean "bad input": their message is the one line the user sees.
USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError, PermissionError,
               NotADirectoryError, IsADirectoryError, ConnectionError)

_QUIET_LOGGERS = ("absl", "tensorflow", "h5py", "matplotlib", "PIL")


def quiet_native_logs(verbose: bool) -> None:
    """TensorFlow's and LiteRT's C++ log threshold; effective only before TensorFlow is imported."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@contextlib.contextmanager
def native_output_silenced(enabled: bool = True):
    """Points file descriptors 1 and 2 at a scratch file (C++ code and converters print there, bypassing Python);
    on an exception the captured text is replayed to stderr, so nothing needed to understand a failure is lost."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = (os.dup(1), os.dup(2))
    except OSError:  # no real descriptors (e.g. an embedding host): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except Exception:
            failed = True
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))


def import_tensorflow(verbose: bool) -> None:
    """Imports TensorFlow once, its start-up lines (oneDNN notice, cuInit on CPU-only machines) hidden unless
    `verbose`: TensorFlow prints them from C++ before any log threshold applies. The physical devices are listed
    there too, as the first look for a GPU prints `E0000 ... failed call to cuInit` on a machine without one."""
    quiet_native_logs(verbose)
    if "tensorflow" in sys.modules:
        return
    with native_output_silenced(not verbose):
        import tensorflow

        tensorflow.config.list_physical_devices("GPU")


def call_quietly(verbose: bool, pickled_call: bytes) -> None:
    """Entry of a spawned process: runs `function(*args)` from `pickled_call = pickle.dumps((function, args))`.

    Unless `verbose`, the process's stdout and stderr point at /dev/null before the call is unpickled: unpickling
    imports the function's module, and with it TensorFlow, whose start-up lines bypass every log threshold.
    """
    if not verbose:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    function, args = pickle.loads(pickled_call)
    function(*args)


def setup_logging(verbose: bool, packages: tuple[str, ...] = ("android_bench",)) -> None:
    """The command's `packages` (their loggers are named after the package as imported: `tools` from a checkout is
    `ofa_tf_tools` when installed) log their progress as plain lines on stderr; TensorFlow's, absl's and Python
    warnings only with `verbose`."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    for name in packages:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)
    if not verbose:
        warnings.filterwarnings("ignore")
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.get_logger().setLevel(logging.INFO if verbose else logging.ERROR)
        tf.autograph.set_verbosity(1 if verbose else 0)


def error_line(err: BaseException) -> str:
    """One line for a library exception (KeyError's repr quotes dropped)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    text = " ".join(text.split())
    return text or type(err).__name__


INTERRUPTED = "Interrupted (Ctrl-C); files are written whole or not at all, so nothing half-written was kept."


def one_line_errors(fn=None, *, interrupted: str = INTERRUPTED):
    """A click command whose bad-input exceptions (`USER_ERRORS`) become one `Error: ...` line and exit code 1;
    Ctrl-C becomes the line `interrupted` (e.g. how to resume)."""
    if fn is None:
        return functools.partial(one_line_errors, interrupted=interrupted)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except USER_ERRORS as err:
            raise click.ClickException(error_line(err)) from err
        except KeyboardInterrupt:
            raise click.ClickException(interrupted) from None

    return wrapper


def check_writable(path: str | Path, option: str = "--out", folder: bool = False) -> Path:
    """Raises a one-line click error, before any work, when `path` (a file, or a folder with `folder=True`)
    cannot be written: its nearest existing folder is read-only, or it exists as the other kind."""
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        kind = "a folder" if path.is_dir() else "a file"
        raise click.BadParameter(f"{path} is {kind}; expected {'a folder' if folder else 'a file path'}.",
                                 param_hint=option)
    existing = path if path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise click.BadParameter(f"{path}: {existing} is a file, not a folder.", param_hint=option)
    try:  # a real probe: permission bits do not bind root, read-only mounts bind everyone
        fd, probe = tempfile.mkstemp(prefix=".write_probe_", dir=existing)
        os.close(fd)
        os.remove(probe)
        writable = not path.is_file() or os.access(path, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        raise click.BadParameter(f"cannot write {path}: {existing} is read-only; choose a writable location.",
                                 param_hint=option)
    return path


def _same_path(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file or folder (links included); paths that do not exist compare resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def existing_folder(value: str | Path | None) -> Path | None:
    """`value` as a Path when it names an existing folder (e.g. an image folder as `--data`), else None (a dataset
    name, or nothing)."""
    return Path(value) if value is not None and Path(value).is_dir() else None


def check_outputs_not_inputs(outputs, inputs) -> None:
    """Refuses, before any work, to write over one of the command's own inputs (a `.tflite` written over the weights
    it is made from, a CSV over the results store it reads, a training run inside its image folder).

    `outputs` and `inputs` are `(option, path)` pairs; a None path is skipped. An output conflicts with an input that
    names the same file or folder (links included), and with an input folder it lies inside: pass a folder as an
    input when the command reads all of it (an image folder), and the files it reads otherwise (a predictor folder's
    two files), so that writing next to them stays allowed. List a folder output's files too where they could be
    an input (`--out`'s `report.json`).
    """
    inputs = [(option, Path(path).expanduser()) for option, path in inputs if path is not None]
    outputs = [(option, Path(path).expanduser()) for option, path in outputs if path is not None]
    for index, (out_option, out) in enumerate(outputs):
        for other_option, other in outputs[:index]:
            if _same_path(out, other):
                raise click.BadParameter(f"{out} is also the output of {other_option}; one would replace the other: "
                                         "choose two paths.", param_hint=out_option)
        for in_option, source in inputs:
            if not source.exists():
                continue
            if _same_path(out, source):
                raise click.BadParameter(
                    f"{out} is also the command's input ({in_option} {source}); writing it would replace that "
                    "input: choose another output path.", param_hint=out_option)
            if source.is_dir() and _inside(out, source):
                raise click.BadParameter(
                    f"{out} lies inside {source}, the command's input ({in_option}); writing there would change "
                    "that input: choose an output path outside it.", param_hint=out_option)


class QuietGroup(click.Group):
    """A group with `-v/--verbose` that hides TensorFlow's native logs unless it is given.

    The flag is read before a subcommand's module is imported (which may import TensorFlow), as the native log
    threshold must be set before that; `import_tf=True` imports TensorFlow there, its start-up lines hidden.
    `log_packages` are the packages whose INFO lines the command shows (`setup_logging`).
    """

    def __init__(self, *args, import_tf: bool = False, log_packages: tuple[str, ...] = ("android_bench",), **kwargs):
        super().__init__(*args, **kwargs)
        self.import_tf = import_tf
        self.log_packages = tuple(log_packages)
        self.params.append(click.Option(["-v", "--verbose"], is_flag=True,
                                        help="Also show TensorFlow's logs and warnings and every debug line."))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # e.g. while TensorFlow loads, before a command's own handling
            raise click.ClickException(INTERRUPTED) from None

    def resolve_command(self, ctx, args):
        verbose = bool(ctx.params.get("verbose"))
        quiet_native_logs(verbose)
        if self.import_tf and args and not ctx.resilient_parsing:  # also for `CMD --help`: its module imports TF
            import_tensorflow(verbose)
        result = super().resolve_command(ctx, args)
        setup_logging(verbose, self.log_packages)
        return result
