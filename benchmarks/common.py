"""Helpers shared by the benchmark scripts: timing, formatting, pattern comparison, memory."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BIG_INPUT",
    "Timing",
    "time_call",
    "repeats_for",
    "have_module",
    "log",
    "fmt_seconds",
    "fmt_ratio",
    "fmt_int",
    "fmt_bytes",
    "markdown_table",
    "PatternDiff",
    "pattern_keys",
    "compare_patterns",
    "keys_to_entries",
    "peak_rss_bytes",
    "ru_maxrss_bytes",
    "child_env",
    "run_json_child",
    "REPO_ROOT",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

# Inputs with at least this many elements count as "big": they are timed once, not best-of-k.
BIG_INPUT = 10**6


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall-clock times (seconds) of repeated calls; ``best`` is their minimum."""

    times: tuple[float, ...]
    result: Any = None

    @property
    def best(self) -> float:
        return min(self.times)


def time_call(
    fn: Callable[[], Any],
    repeats: int,
    long_call: float | None = None,
    setup: Callable[[], Any] | None = None,
) -> Timing:
    """Calls ``fn()`` ``repeats`` times and returns the times and the last call's result.

    ``setup()``, when given, runs before every call, outside the timed region.

    A ``gc.collect()`` precedes every call (outside the timed region) so that garbage left by
    the previous call is not charged to the next one; the garbage collector stays enabled during
    the call, as in normal use.  Timing uses ``time.perf_counter``.

    With ``long_call`` set, the repetitions stop early once one call has taken at least
    ``long_call`` seconds (for such calls the run-to-run noise is small compared with the time,
    and repeating them would dominate the benchmark's run time).
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    times: list[float] = []
    result = None
    for _ in range(repeats):
        result = None  # drop the previous result before collecting
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if long_call is not None and times[-1] >= long_call:
            break
    return Timing(tuple(times), result)


def repeats_for(n_in: int, k: int = 3, big: int = BIG_INPUT) -> int:
    """Best-of-``k`` for ordinary sizes, a single run for inputs with ``>= big`` elements."""
    return 1 if n_in >= big else k


def have_module(name: str) -> bool:
    """Whether ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def log(msg: str) -> None:
    """Progress message on stderr (keeps stdout for the report)."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def fmt_seconds(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.2f} {unit}"
    return f"{b:.0f} B"


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None
) -> str:
    """Renders a Markdown pipe table with padded columns.

    ``align`` has one character per column: ``l`` (left) or ``r`` (right); default: the first
    column left, the others right.
    """
    ncol = len(headers)
    if align is None:
        align = "l" + "r" * (ncol - 1)
    if len(align) != ncol:
        raise ValueError("align must have one character per column")
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    for r in cells:
        if len(r) != ncol:
            raise ValueError("every row must have as many cells as there are headers")
    widths = [max(3, *(len(r[j]) for r in cells)) for j in range(ncol)]

    def line(r: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
            for w, a in zip(widths, align, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


# --------------------------------------------------------------------------------------------
# Sparsity-pattern comparison (works on any object with ``rows``/``cols`` arrays)
# --------------------------------------------------------------------------------------------


def pattern_keys(rows: Any, cols: Any, ncols: int) -> np.ndarray:
    """Sorted, de-duplicated linear indices ``row * ncols + col`` (int64) of a COO pattern."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    return np.unique(r * np.int64(ncols) + c)


def keys_to_entries(keys: np.ndarray, ncols: int) -> list[tuple[int, int]]:
    r, c = np.divmod(np.asarray(keys, dtype=np.int64), np.int64(ncols))
    return [(int(i), int(j)) for i, j in zip(r, c, strict=True)]


@dataclass(frozen=True)
class PatternDiff:
    """Entries present in only one of two patterns (as linear keys ``row * ncols + col``)."""

    only_a: np.ndarray
    only_b: np.ndarray
    ncols: int

    @property
    def equal(self) -> bool:
        return self.only_a.size == 0 and self.only_b.size == 0

    def describe(self, name_a: str, name_b: str) -> str:
        if self.equal:
            return "equal"
        parts = []
        if self.only_a.size:
            parts.append(f"{name_a} +{self.only_a.size:,}")
        if self.only_b.size:
            parts.append(f"{name_b} +{self.only_b.size:,}")
        return "DIFFER: " + ", ".join(parts)


def compare_patterns(a: Any, b: Any) -> PatternDiff:
    """Compares two patterns given as objects with ``rows``, ``cols`` and ``shape``."""
    shape_a = tuple(int(s) for s in a.shape)
    shape_b = tuple(int(s) for s in b.shape)
    if shape_a != shape_b:
        raise ValueError(f"patterns have different shapes {shape_a} and {shape_b}")
    ncols = shape_a[1]
    ka = pattern_keys(a.rows, a.cols, ncols)
    kb = pattern_keys(b.rows, b.cols, ncols)
    return PatternDiff(
        np.setdiff1d(ka, kb, assume_unique=True),
        np.setdiff1d(kb, ka, assume_unique=True),
        ncols,
    )


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------


def ru_maxrss_bytes() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes.

    Caveat: on Linux this value survives ``exec``, so a child started by ``subprocess`` from a
    large parent reports at least the parent's peak at the time of the spawn.  Prefer
    ``peak_rss_bytes``.
    """
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(r) if sys.platform == "darwin" else int(r) * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process's own address space so far, in bytes.

    Uses ``VmHWM`` from ``/proc/self/status`` on Linux (reset by ``exec``, so not inflated by a
    large parent process), and ``ru_maxrss`` elsewhere.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()


def child_env() -> dict[str, str]:
    """Environment for a child Python that can import ``benchmarks`` and ``sparsediff``."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT)]
    spec = importlib.util.find_spec("sparsediff")
    if spec is not None and spec.origin is not None:
        paths.append(str(Path(spec.origin).resolve().parent.parent))
    old = env.get("PYTHONPATH")
    if old:
        paths.append(old)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_json_child(args: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Runs ``python *args`` in a fresh interpreter and parses the last stdout line as JSON.

    Raises ``RuntimeError`` with the child's stderr tail when it fails.
    """
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.splitlines()[-20:])
        raise RuntimeError(f"child {args!r} failed with exit code {proc.returncode}:\n{tail}")
    return json.loads(lines[-1])
