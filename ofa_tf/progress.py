"""Progress of long loops: Keras's redrawn bar on a terminal, plain lines in a log.

Keras's `Progbar` redraws itself with carriage returns and backspaces whenever Python runs on a POSIX system, also
when the output goes to a file, so a log collects every redraw. When stdout is not a terminal, `progress_bar` returns
`LineProgress`, which writes plain lines instead: the first step's and one per tenth of the loop.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence

LINES = 10  # lines per loop in a log


class LineProgress:
    """`keras.utils.Progbar`'s `update` / `add`, writing `current/target units (elapsed s) - name: value ...` lines
    at the first step and each tenth of `target` (and at the end); values not in `stateful_metrics` are averaged, as
    Keras does."""

    def __init__(self, target: int, unit_name: str = "step", stateful_metrics: Sequence[str] = (), stream=None):
        self.target = int(target)
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics)
        self.stream = stream
        self._start = time.perf_counter()
        self._seen = 0
        self._tenth = -1  # the last tenth of `target` a line was written for
        self._line_at: int | None = None  # `current` of the last line
        self._values: dict[str, list[float]] = {}

    def update(self, current: int, values=None, finalize: bool | None = None) -> None:
        for name, value in values or ():
            if name in self.stateful_metrics or name not in self._values:
                self._values[name] = [float(value), 1]
            else:
                self._values[name][0] += float(value)
                self._values[name][1] += 1
        self._seen = current
        finalize = current >= self.target if finalize is None else finalize
        tenth = current * LINES // max(self.target, 1)
        if (finalize or (tenth > self._tenth and current > 0)) and current != self._line_at:
            self._tenth, self._line_at = tenth, current
            seconds = time.perf_counter() - self._start
            shown = "".join(f" - {name}: {total / count:.4g}" for name, (total, count) in self._values.items())
            print(f"{current}/{self.target} {self.unit_name}s ({seconds:.0f} s){shown}",
                  file=self.stream or sys.stdout, flush=True)

    def add(self, n: int, values=None) -> None:
        self.update(self._seen + n, values)


def progress_bar(target: int, verbose: int = 1, unit_name: str = "step", stateful_metrics: Sequence[str] = ()):
    """A progress display for `target` steps: Keras's `Progbar` on a terminal (or with `verbose` 0 / 2: nothing /
    one line at the end), `LineProgress` when stdout is not a terminal and `verbose` is 1."""
    import keras

    if verbose == 1 and not (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
        return LineProgress(target, unit_name, stateful_metrics)
    return keras.utils.Progbar(target, verbose=verbose, unit_name=unit_name, stateful_metrics=list(stateful_metrics))
