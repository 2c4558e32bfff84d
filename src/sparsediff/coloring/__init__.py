"""Graph coloring of sparsity patterns: from a pattern to the fewest AD passes.

``coloring(pattern, problem, algorithm) -> ColoringResult``, with the problem
(column, row, symmetric, bidirectional), the algorithm (greedy in a vertex
order, or the best of several orders) and the result as separate types.  The
greedy kernels run as numba-compiled code, cached on disk; they are compiled
on first use (numba is imported lazily).

The module itself is callable: ``sparsediff.coloring(pattern, problem)`` is
``sparsediff.coloring.coloring(pattern, problem)``, so the package can be
exposed as ``sparsediff.coloring`` without a function of the same name hiding
it.
"""

import sys as _sys
import types as _types

from .algorithms import (
    BICOLORING_BEST_ORDERS,
    DEFAULT_BEST_ORDERS,
    BestOfOrders,
    ColoringAlgorithm,
    GreedyColoring,
)
from .api import coloring, default_algorithm
from .decompression import DecompressionPlan
from .graphs import ColoringGraph
from .io import load_coloring, save_coloring
from .orders import (
    ORDERS,
    DynamicLargestFirstOrder,
    ExplicitOrder,
    IncidenceDegreeOrder,
    LargestFirstOrder,
    NaturalOrder,
    Order,
    RandomOrder,
    ReversedOrder,
    SmallestLastOrder,
    as_order,
)
from .problems import (
    BidirectionalProblem,
    ColoringProblem,
    ColumnProblem,
    RowProblem,
    SymmetricProblem,
    as_problem,
)
from .result import ColoringResult, StarSets, TreeSets
from .validate import InvalidColoringError, check_coloring

__all__ = [
    "coloring",
    "default_algorithm",
    "ColoringResult",
    "StarSets",
    "TreeSets",
    "DecompressionPlan",
    "ColoringProblem",
    "ColumnProblem",
    "RowProblem",
    "SymmetricProblem",
    "BidirectionalProblem",
    "as_problem",
    "ColoringAlgorithm",
    "GreedyColoring",
    "BestOfOrders",
    "DEFAULT_BEST_ORDERS",
    "BICOLORING_BEST_ORDERS",
    "Order",
    "NaturalOrder",
    "RandomOrder",
    "LargestFirstOrder",
    "SmallestLastOrder",
    "IncidenceDegreeOrder",
    "DynamicLargestFirstOrder",
    "ReversedOrder",
    "ExplicitOrder",
    "ORDERS",
    "as_order",
    "ColoringGraph",
    "check_coloring",
    "InvalidColoringError",
    "save_coloring",
    "load_coloring",
]


class _CallableModule(_types.ModuleType):
    """Module type whose instances forward calls to :func:`coloring`."""

    def __call__(self, pattern, problem="column", algorithm=None):
        return coloring(pattern, problem, algorithm)


_sys.modules[__name__].__class__ = _CallableModule
