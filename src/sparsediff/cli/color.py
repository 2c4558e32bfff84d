"""``sparsediff color``: color a saved sparsity pattern and compare with the lower bound."""

from __future__ import annotations

import time
from typing import Any

from .._text import noun
from .common import CLIError, UsageError, check_plot_path, one_line, save_spy
from .progress import Progress

__all__ = ["run_color", "load_pattern_file", "problem_name", "PROBLEM_CHOICES", "ORDER_HELP"]

#: Values of ``--problem``: the names of the Python API (``sparsediff.coloring``,
#: ``sparsediff.hessian(mode=...)``).
PROBLEM_CHOICES = ("column", "row", "star", "acyclic", "bidirectional", "acyclic_bicoloring")

#: Older spellings still accepted by ``--problem``.
PROBLEM_ALIASES = {"symmetric": "star"}

_SYMMETRIC = ("star", "acyclic")

#: What ``--order`` accepts (its help and its error message).
ORDER_HELP = (
    "natural, random (or random:SEED), largest_first, smallest_last, incidence_degree, "
    "dynamic_largest_first, reversed:NAME (NAME reversed), or best (the best of several orders)"
)


def problem_name(text: str) -> str:
    """``--problem``'s value: case and ``-`` are ignored, old spellings mapped to the API's."""
    key = text.strip().lower().replace("-", "_")
    return PROBLEM_ALIASES.get(key, key)


def load_pattern_file(path: str) -> Any:
    """Load a pattern saved with ``SparsityPattern.save``; one-line errors.

    The messages are those of :func:`sparsediff.patterns.load_pattern` (no such
    file and a directory are usage errors, status 2; a file that is not a
    sparsediff pattern is a failure, status 1).
    """
    from ..patterns import SparsityPattern
    from ..patterns.npzfile import SparsediffFileError

    try:
        return SparsityPattern.load(path)
    except (FileNotFoundError, IsADirectoryError) as err:
        raise UsageError(str(err)) from err
    except SparsediffFileError as err:
        raise CLIError(str(err)) from err
    except OSError as err:
        raise CLIError(f"cannot load {path!r}: {one_line(err)}") from err


def _algorithm(order: str | None, problem: str) -> Any:
    from ..coloring import BestOfOrders, GreedyColoring, as_order, default_algorithm

    if order is None:
        return default_algorithm(problem)
    if order.strip().lower() == "best":
        return BestOfOrders()
    try:
        as_order(order)
    except (ValueError, TypeError) as err:
        detail = str(err).splitlines()[0].split(";")[0]
        raise UsageError(f"bad --order {order!r}: {detail}; use {ORDER_HELP}") from None
    return GreedyColoring(order)


def _counts(result: Any) -> str:
    if result.problem.name == "bidirectional":
        fwd, rev = result.num_forward, result.num_reverse
        return (
            f"{result.num_colors} = {fwd} forward ({noun(fwd, 'JVP')}) + "
            f"{rev} reverse ({noun(rev, 'VJP')})"
        )
    unit = {"column": "JVP", "row": "VJP", "symmetric": "Hessian-vector product"}
    return f"{result.num_colors} ({noun(result.num_colors, unit.get(result.problem.name, 'pass'))})"


def run_color(args: Any, progress: Progress, out=print) -> int:
    """Run ``sparsediff color`` for parsed arguments; returns the exit status."""
    algorithm = _algorithm(args.order, args.problem)
    if args.plot:
        check_plot_path(args.plot)
    pattern = load_pattern_file(args.pattern)
    m, n = pattern.shape
    if args.problem in _SYMMETRIC and m != n:
        raise UsageError(
            f"--problem {args.problem} needs a square (Hessian) pattern; "
            f"{args.pattern!r} is {m}×{n}"
        )

    from ..coloring import color

    t = time.perf_counter()
    try:
        with progress.stage(f"{args.problem} coloring"):
            result = color(pattern, args.problem, algorithm)
    except (KeyboardInterrupt, CLIError):
        raise
    except Exception as err:  # noqa: BLE001 - reported as one line
        raise CLIError(f"coloring failed: {one_line(err)}") from err
    elapsed = time.perf_counter() - t

    out(repr(result))
    out("")
    gap = result.num_colors - result.lower_bound
    verdict = "optimal" if gap == 0 else f"{gap} above it"
    rows = [
        ("pattern", f"{args.pattern} ({m:,} × {n:,}, {pattern.nnz:,} nonzeros)"),
        ("problem", result.problem.describe()),
        ("algorithm", result.algorithm),
        ("order", result.order),
        ("colors", _counts(result)),
        ("lower bound", f"{result.lower_bound} ({result.lower_bound_kind}; {verdict})"),
        ("time", f"{elapsed:.3f} s"),
    ]
    if args.plot:
        with progress.stage("plotting"):
            save_spy(args.plot, pattern, coloring=result)
        rows.append(("plot", args.plot))
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        out(f"{label + ':':<{width + 1}}  {text}")
    return 0
