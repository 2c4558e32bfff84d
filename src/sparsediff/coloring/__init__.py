"""Graph coloring of sparsity patterns: from a pattern to the fewest AD passes.

``color(pattern, problem, algorithm) -> ColoringResult`` (``sparsediff.color``), with the problem
(column, row, symmetric, bidirectional), the algorithm (greedy in a vertex
order, or the best of several orders) and the result as separate types.  The
greedy kernels run as numba-compiled code, cached on disk; they are compiled
on first use (numba is imported lazily).

``coloring`` is the earlier name of :func:`color`, kept as an alias inside this
package (``sparsediff.coloring.coloring``).
"""

from .algorithms import (
    BICOLORING_BEST_ORDERS,
    DEFAULT_BEST_ORDERS,
    BestOfOrders,
    ColoringAlgorithm,
    GreedyColoring,
)
from .api import color, default_algorithm
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
    "color",
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

#: the earlier name of :func:`color`
coloring = color
