"""Stage progress on stderr for the command line.

A stage that is still running after :data:`DELAY` seconds gets a status line
on stderr: on a terminal a spinner with the stage name and the elapsed time,
redrawn in place; otherwise (a pipe or a log file) one line when the stage has
run for :data:`DELAY` seconds and one every :data:`LOG_INTERVAL` seconds
after that.  When such a stage ends, a last line gives its total time.  Stages
that finish sooner print nothing, and ``--quiet`` turns all of it off.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress", "DELAY"]

#: Seconds a stage runs before its progress line appears.
DELAY = 1.0
#: Seconds between redraws of the spinner on a terminal.
TTY_INTERVAL = 0.1
#: Seconds between progress lines when stderr is not a terminal.
LOG_INTERVAL = 10.0

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    """Reports long-running stages on a stream (stderr by default).

    Args:
        enabled: ``False`` (``--quiet``) prints nothing.
        stream: where to write; ``None`` means ``sys.stderr`` at the time of writing.
        delay: seconds before a stage is reported (default :data:`DELAY`).
    """

    def __init__(
        self, enabled: bool = True, stream: TextIO | None = None, delay: float | None = None
    ):
        self.enabled = enabled
        self._stream = stream
        self.delay = DELAY if delay is None else delay

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _is_tty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Report the stage ``name`` (e.g. ``"detecting sparsity"``) while it runs."""
        if not self.enabled:
            yield
            return
        start = time.perf_counter()
        stop = threading.Event()
        shown = threading.Event()
        tty = self._is_tty()
        lock = threading.Lock()

        def write(text: str) -> None:
            with lock:
                if self.stream is sys.stderr:
                    sys.stdout.flush()  # keep the report and the progress in order
                self.stream.write(text)
                self.stream.flush()

        def watch() -> None:
            if stop.wait(self.delay):
                return
            shown.set()
            tick = 0
            while True:
                elapsed = time.perf_counter() - start
                if tty:
                    write(f"\r\033[K{_SPINNER[tick % len(_SPINNER)]} {name}… {elapsed:.1f} s")
                else:
                    write(f"sparsediff: {name}… ({elapsed:.0f} s)\n")
                tick += 1
                if stop.wait(TTY_INTERVAL if tty else LOG_INTERVAL):
                    return

        thread = threading.Thread(target=watch, name="sparsediff-progress", daemon=True)
        thread.start()
        ok = False
        try:
            yield
            ok = True
        finally:
            stop.set()
            thread.join()
            if shown.is_set():
                elapsed = time.perf_counter() - start
                status = f"done in {elapsed:.1f} s" if ok else f"stopped after {elapsed:.1f} s"
                prefix = "\r\033[K" if tty else "sparsediff: "
                # A failed stage on a terminal only clears its line: the error follows.
                write(f"{prefix}{name}: {status}\n" if ok or not tty else prefix)
