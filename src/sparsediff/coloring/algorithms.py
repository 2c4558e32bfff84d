"""Coloring algorithms: greedy coloring in one order, or the best of several orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..patterns import SparsityPattern
from .orders import NaturalOrder, Order, RandomOrder, as_order
from .problems import BidirectionalProblem, ColoringProblem, as_problem
from .result import ColoringResult

__all__ = ["ColoringAlgorithm", "GreedyColoring", "BestOfOrders", "DEFAULT_BEST_ORDERS"]


class ColoringAlgorithm:
    """Base class: an algorithm maps ``(pattern, problem)`` to a :class:`ColoringResult`."""

    def color(
        self, pattern: SparsityPattern, problem: ColoringProblem | str
    ) -> ColoringResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


def _postprocessing(flag: bool | None, problem: ColoringProblem) -> bool:
    if flag is None:
        return isinstance(problem, BidirectionalProblem)
    return bool(flag)


@dataclass(frozen=True)
class GreedyColoring(ColoringAlgorithm):
    """Greedy (first-fit) coloring in a vertex order.

    Args:
        order: an :class:`~sparsediff.coloring.Order`, an order name
            (``"natural"``, ``"largest_first"``, ...), a callable
            ``graph -> permutation``, or an explicit permutation.
        postprocessing: give the neutral color to the vertices whose color no
            nonzero is read from (symmetric and bidirectional problems), which may
            remove whole colors.  ``None`` (default): on for bidirectional
            problems, where it is what turns the symmetric coloring of the
            augmented matrix into a good bicoloring, off for symmetric ones.
            Ignored by column and row coloring.

    The kernels are compiled with numba on first use and cached on disk.
    """

    order: Any = "largest_first"
    postprocessing: bool | None = None

    def color(self, pattern: SparsityPattern, problem: ColoringProblem | str) -> ColoringResult:
        from .solve import solve

        prob = as_problem(problem)
        return solve(
            pattern,
            prob,
            as_order(self.order),
            postprocessing=_postprocessing(self.postprocessing, prob),
            algorithm=self.describe(),
        )

    def describe(self) -> str:
        post = "" if self.postprocessing is None else f", postprocessing={self.postprocessing}"
        return f"greedy({as_order(self.order).describe()}{post})"


DEFAULT_BEST_ORDERS: tuple[Order, ...] = (
    NaturalOrder(),
    *(as_order(name) for name in ("largest_first", "smallest_last", "incidence_degree")),
    as_order("dynamic_largest_first"),
    RandomOrder(0),
    RandomOrder(1),
    RandomOrder(2),
)


@dataclass(frozen=True)
class BestOfOrders(ColoringAlgorithm):
    """Greedy coloring in each of several orders; the coloring with the fewest colors wins.

    Ties go to the earliest candidate; the search stops early when a coloring
    meets the lower bound (it cannot be beaten).  The result's ``order`` names the
    winner.

    Args:
        orders: the orders to try (anything :func:`~sparsediff.coloring.as_order`
            accepts); by default the five classic orders and three random ones.
        postprocessing: as for :class:`GreedyColoring`.
        one_sided: for bidirectional problems, also try a pure column coloring
            and a pure row coloring in each order (as bicolorings with no reverse,
            or no forward, pass), so the result never needs more passes than
            one-sided coloring.
    """

    orders: tuple[Any, ...] = DEFAULT_BEST_ORDERS
    postprocessing: bool | None = None
    one_sided: bool = True

    def __post_init__(self) -> None:
        if len(tuple(self.orders)) == 0:
            raise ValueError("BestOfOrders needs at least one order")
        object.__setattr__(self, "orders", tuple(self.orders))

    def color(self, pattern: SparsityPattern, problem: ColoringProblem | str) -> ColoringResult:
        from .solve import solve, solve_one_sided

        prob = as_problem(problem)
        post = _postprocessing(self.postprocessing, prob)
        sides = (
            ("column", "row") if self.one_sided and isinstance(prob, BidirectionalProblem) else ()
        )
        best: ColoringResult | None = None
        for spec in self.orders:
            order = as_order(spec)
            for side in (*sides, None):
                if side is None:
                    result = solve(pattern, prob, order, postprocessing=post, algorithm="")
                else:
                    result = solve_one_sided(pattern, prob, order, side=side, algorithm="")
                if best is None or result.num_colors < best.num_colors:
                    best = result
                if best.num_colors <= best.lower_bound:
                    return _with_algorithm(best, self.describe())  # provably optimal
        assert best is not None
        return _with_algorithm(best, self.describe())

    def describe(self) -> str:
        names = ", ".join(as_order(o).describe() for o in self.orders)
        return f"best of orders ({names})"


def _with_algorithm(result: ColoringResult, name: str) -> ColoringResult:
    from dataclasses import replace

    return replace(result, algorithm=name)
