"""Helpers shared by the subcommands: errors, number formatting and plot files."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = [
    "CLIError",
    "UsageError",
    "USAGE",
    "FAILURE",
    "one_line",
    "format_percent",
    "check_plot_path",
    "save_spy",
]

#: Exit status of a usage error (bad arguments, names that do not resolve).
USAGE = 2
#: Exit status of a failure while running (import, tracing, detection, I/O).
FAILURE = 1

_MAX_MESSAGE = 400


class CLIError(Exception):
    """An error reported as one line on stderr, exiting with ``code``."""

    def __init__(self, message: str, code: int = FAILURE):
        super().__init__(message)
        self.code = code


class UsageError(CLIError):
    """A problem with the command line itself (exit status 2)."""

    def __init__(self, message: str):
        super().__init__(message, USAGE)


def one_line(err: BaseException) -> str:
    """``"TypeName: first line of the message"``, shortened to fit on one line.

    Error messages of JAX span many lines (an explanation and a link follow the
    first one); the first non-empty line is the one that says what went wrong.
    """
    text = str(err).strip()
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = repr(err.args[0])
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) > _MAX_MESSAGE:
        first = first[: _MAX_MESSAGE - 1] + "…"
    name = type(err).__name__
    return f"{name}: {first}" if first else name


def format_percent(fraction: float) -> str:
    pct = 100.0 * fraction
    if pct == 0.0:
        return "0%"
    return f"{pct:.4g}%" if pct >= 0.1 else f"{pct:.2g}%"


def check_plot_path(path: str) -> None:
    """Fail early (before any long computation) if ``--plot PATH`` cannot be written."""
    if importlib.util.find_spec("matplotlib") is None:
        raise CLIError('--plot needs matplotlib: pip install "sparsediff[plot]"')
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write the plot {path!r}: no directory {folder!r}")
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    from matplotlib.figure import Figure

    supported = Figure().canvas.get_supported_filetypes()
    if ext not in supported:
        kinds = ", ".join(sorted(supported))
        raise UsageError(f"cannot write the plot {path!r}: use one of the extensions {kinds}")


def save_spy(path: str, pattern: Any, coloring: Any = None) -> str:
    """Draw :func:`sparsediff.spy` of the pattern (and coloring) into the file ``path``."""
    from matplotlib.figure import Figure

    from ..plotting import spy

    fig = Figure(figsize=(7.0, 6.0), dpi=120)
    ax = fig.add_subplot()
    spy(pattern, ax=ax, coloring=coloring)
    try:
        fig.savefig(path, bbox_inches="tight")
    except OSError as err:
        raise CLIError(f"cannot write the plot {path!r}: {one_line(err)}") from err
    return path
