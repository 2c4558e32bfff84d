"""``sparsediff color``: color a saved sparsity pattern and compare with the lower bound."""

from __future__ import annotations

import os
import time
from typing import Any

from .common import CLIError, UsageError, check_plot_path, one_line, save_spy
from .progress import Progress

__all__ = ["run_color", "load_pattern_file", "PROBLEM_CHOICES"]

#: Values of ``--problem``.
PROBLEM_CHOICES = ("column", "row", "symmetric", "acyclic", "bidirectional", "acyclic_bicoloring")

_SYMMETRIC = ("symmetric", "acyclic")


def load_pattern_file(path: str) -> Any:
    """Load a pattern saved with ``SparsityPattern.save``; one-line errors."""
    from ..patterns import SparsityPattern

    if not (os.path.exists(path) or (not path.endswith(".npz") and os.path.exists(path + ".npz"))):
        raise UsageError(f"no such pattern file: {path!r}")
    try:
        return SparsityPattern.load(path)
    except ValueError as err:  # the message starts with the path: drop it
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "invalid content"
        for prefix in (f"{path}: ", f"{path}.npz: "):
            detail = detail.removeprefix(prefix)
        raise CLIError(f"cannot read the pattern file {path!r}: {detail}") from err
    except OSError as err:
        raise CLIError(f"cannot read the pattern file {path!r}: {one_line(err)}") from err


def _algorithm(order: str | None, problem: str) -> Any:
    from ..coloring import BestOfOrders, GreedyColoring, as_order, default_algorithm

    if order is None:
        return default_algorithm(problem)
    if order.strip().lower() == "best":
        return BestOfOrders()
    try:
        as_order(order)
    except (ValueError, TypeError) as err:
        raise UsageError(f"bad --order {order!r}: {str(err).splitlines()[0]}") from None
    return GreedyColoring(order)


def _counts(result: Any) -> str:
    if result.problem.name == "bidirectional":
        return (
            f"{result.num_colors} = {result.num_forward} forward (JVP) + "
            f"{result.num_reverse} reverse (VJP)"
        )
    unit = {"column": "JVPs", "row": "VJPs", "symmetric": "Hessian-vector products"}
    return f"{result.num_colors} ({unit.get(result.problem.name, 'passes')})"


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

    from ..coloring import coloring

    t = time.perf_counter()
    try:
        with progress.stage(f"{args.problem} coloring"):
            result = coloring(pattern, args.problem, algorithm)
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
