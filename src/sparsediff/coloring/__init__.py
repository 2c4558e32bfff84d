"""Graph coloring of sparsity patterns: from a pattern to the fewest AD passes.

``color(pattern, problem, algorithm) -> ColoringResult`` (``sparsediff.color``), with the problem
(column, row, symmetric, bidirectional), the algorithm (greedy in a vertex
order, or the best of several orders) and the result as separate types.  The
greedy kernels run as numba-compiled code, cached on disk; they are compiled
on first use. The names below are imported on first use (PEP 562, as in the
top-level package), so that a program that only loads a coloring (a cache hit,
:func:`load_coloring`) or reads a :class:`ColoringResult` never imports numba
or SciPy's graph routines.

``coloring`` is the earlier name of :func:`color`, kept as an alias inside this
package (``sparsediff.coloring.coloring``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        [
            "BICOLORING_BEST_ORDERS",
            "DEFAULT_BEST_ORDERS",
            "BestOfOrders",
            "ColoringAlgorithm",
            "GreedyColoring",
        ],
        ".algorithms",
    ),
    "color": ".api",
    "default_algorithm": ".api",
    "DecompressionPlan": ".decompression",
    "ColoringGraph": ".graphs",
    "load_coloring": ".io",
    "save_coloring": ".io",
    **dict.fromkeys(
        [
            "ORDERS",
            "DynamicLargestFirstOrder",
            "ExplicitOrder",
            "IncidenceDegreeOrder",
            "LargestFirstOrder",
            "NaturalOrder",
            "Order",
            "RandomOrder",
            "ReversedOrder",
            "SmallestLastOrder",
            "as_order",
        ],
        ".orders",
    ),
    **dict.fromkeys(
        [
            "BidirectionalProblem",
            "ColoringProblem",
            "ColumnProblem",
            "RowProblem",
            "SymmetricProblem",
            "as_problem",
        ],
        ".problems",
    ),
    "ColoringResult": ".result",
    "StarSets": ".result",
    "TreeSets": ".result",
    "InvalidColoringError": ".validate",
    "check_coloring": ".validate",
}

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

if TYPE_CHECKING:
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

    coloring = color


def __getattr__(name: str) -> Any:
    # "coloring" is the earlier name of color
    module = _EXPORTS.get("color" if name == "coloring" else name)
    if module is None:
        raise AttributeError(f"module 'sparsediff.coloring' has no attribute {name!r}")
    value = getattr(
        importlib.import_module(module, __name__), "color" if name == "coloring" else name
    )
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
