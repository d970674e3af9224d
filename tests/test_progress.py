"""Progress in a log: plain lines, one per tenth of the loop, never Keras's redrawn bar (issue 26: 41 overwritten
updates of the subnet-evaluation bar in a log that was not a terminal)."""
import io
import sys

import keras

from ofa_tf.progress import LineProgress
from ofa_tf.progress import progress_bar


def test_line_progress_writes_the_first_step_and_a_line_per_tenth():
    stream = io.StringIO()
    progress = LineProgress(40, unit_name="subnet", stateful_metrics=["lr"], stream=stream)
    progress.update(0)
    for i in range(1, 41):
        progress.update(i, [("loss", float(i)), ("lr", 0.1 / i)])
    text = stream.getvalue()
    assert "\r" not in text and "\b" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["1/40"] + [f"{4 * k}/40" for k in range(1, 11)]
    assert lines[-1].startswith("40/40 subnets (") and lines[-1].endswith(" - loss: 20.5 - lr: 0.0025")


def test_a_short_loop_writes_each_step_once():
    stream = io.StringIO()
    progress = LineProgress(3, stream=stream)
    for i in (1, 2, 3, 3):
        progress.update(i)
    assert [line.split(" ")[0] for line in stream.getvalue().splitlines()] == ["1/3", "2/3", "3/3"]


def test_the_bar_on_a_terminal_and_lines_in_a_log(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(progress_bar(10), LineProgress)  # pytest's captured stdout is not a terminal
    assert isinstance(progress_bar(10, verbose=2), keras.utils.Progbar)
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert isinstance(progress_bar(10), keras.utils.Progbar)
