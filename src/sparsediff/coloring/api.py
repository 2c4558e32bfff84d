"""The :func:`coloring` entry point."""

from __future__ import annotations

from typing import Any

from ..patterns import SparsityPattern
from .algorithms import BestOfOrders, ColoringAlgorithm, GreedyColoring
from .problems import BidirectionalProblem, ColoringProblem, as_problem
from .result import ColoringResult

__all__ = ["color", "default_algorithm"]


def default_algorithm(problem: ColoringProblem | str) -> ColoringAlgorithm:
    """The algorithm :func:`coloring` uses when none is given.

    Greedy coloring in largest-first order for column, row and symmetric
    problems (the classic choice, and the order of asdex, so the counts match).

    Bicoloring pays off on patterns with dense rows *and* dense columns, and
    there it needs the dense ones colored *last*, so that they get colors of
    their own while their many neighbours share colors and are neutralized:
    reversed largest-first does that (largest-first or natural order can need
    ``n`` passes on an arrowhead).  On other patterns plain column or row
    coloring usually needs fewer passes.  Bidirectional problems therefore take
    the best of column and row coloring in largest-first order and the
    bicoloring in reversed largest-first order (:class:`BestOfOrders`, stopping
    early at the lower bound).
    """
    if isinstance(as_problem(problem), BidirectionalProblem):
        return BestOfOrders(orders=("reversed:largest_first",), one_sided=("largest_first",))
    return GreedyColoring("largest_first")


def _as_algorithm(algorithm: Any, problem: ColoringProblem) -> ColoringAlgorithm:
    if algorithm is None:
        return default_algorithm(problem)
    if isinstance(algorithm, ColoringAlgorithm):
        return algorithm
    if isinstance(algorithm, str) and algorithm.strip().lower() in ("best", "best_of_orders"):
        return BestOfOrders()
    # An order (name, Order, callable or permutation): greedy coloring in that order.
    return GreedyColoring(order=algorithm)


def color(
    pattern: SparsityPattern,
    problem: ColoringProblem | str = "column",
    algorithm: ColoringAlgorithm | Any = None,
) -> ColoringResult:
    """Color a sparsity pattern so that its derivative takes few AD passes.

    Args:
        pattern: the Jacobian or Hessian :class:`~sparsediff.SparsityPattern`.
        problem: a :class:`~sparsediff.coloring.ColoringProblem` or its name:
            ``"column"`` (forward mode), ``"row"`` (reverse mode), ``"symmetric"``
            (star coloring, direct), ``"acyclic"`` (substitution),
            ``"bidirectional"`` (star bicoloring) or ``"acyclic_bicoloring"``.
        algorithm: a :class:`~sparsediff.coloring.ColoringAlgorithm` (default:
            :func:`default_algorithm`); ``"best"`` for
            :class:`~sparsediff.coloring.BestOfOrders`; or a vertex order (name,
            :class:`~sparsediff.coloring.Order`, ...) for greedy coloring in it.

    Returns:
        A :class:`~sparsediff.coloring.ColoringResult`: colors, counts, lower
        bound and decompression plan.

    Example::

        >>> import numpy as np
        >>> from sparsediff import SparsityPattern
        >>> from sparsediff.coloring import coloring
        >>> p = SparsityPattern.from_dense(np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool))
        >>> color(p, "column").num_colors
        2
    """
    prob = as_problem(problem)
    return _as_algorithm(algorithm, prob).color(pattern, prob)
