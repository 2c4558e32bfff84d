"""Coloring algorithms: greedy coloring in one order, or the best of several orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..patterns import SparsityPattern
from .orders import NaturalOrder, Order, RandomOrder, as_order
from .problems import BidirectionalProblem, ColoringProblem, as_problem
from .result import ColoringResult

__all__ = [
    "ColoringAlgorithm",
    "GreedyColoring",
    "BestOfOrders",
    "DEFAULT_BEST_ORDERS",
    "BICOLORING_BEST_ORDERS",
]


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


#: Orders tried by :class:`BestOfOrders` for column, row and symmetric problems.
DEFAULT_BEST_ORDERS: tuple[Order, ...] = (
    NaturalOrder(),
    *(as_order(name) for name in ("largest_first", "smallest_last", "incidence_degree")),
    as_order("dynamic_largest_first"),
    RandomOrder(0),
    RandomOrder(1),
    RandomOrder(2),
)

#: Orders tried by :class:`BestOfOrders` for bicoloring.  Reversed orders first: they
#: color dense rows and columns last, which bicoloring needs (see ReversedOrder).
BICOLORING_BEST_ORDERS: tuple[Order, ...] = tuple(
    as_order(name)
    for name in (
        "reversed:largest_first",
        "reversed:smallest_last",
        "reversed:dynamic_largest_first",
        "natural",
        "smallest_last",
        "largest_first",
    )
)


@dataclass(frozen=True)
class BestOfOrders(ColoringAlgorithm):
    """Greedy coloring in each of several orders; the coloring with the fewest colors wins.

    Ties go to the earliest candidate; the search stops as soon as a coloring
    meets the lower bound (it cannot be beaten).  The result's ``order`` names the
    winner.

    Args:
        orders: the orders to try (anything :func:`~sparsediff.coloring.as_order`
            accepts).  ``None``: :data:`DEFAULT_BEST_ORDERS` (the five classic
            orders and three random ones), or :data:`BICOLORING_BEST_ORDERS` for
            bidirectional problems.
        postprocessing: as for :class:`GreedyColoring`.
        one_sided: bidirectional problems only: orders in which a pure column
            coloring and a pure row coloring are also tried (as bicolorings with
            no reverse, or no forward, pass), first, since they are cheap; the
            result then never needs more passes than one-sided coloring.
            ``None``: :data:`DEFAULT_BEST_ORDERS`; ``()``: none.
    """

    orders: tuple[Any, ...] | None = None
    postprocessing: bool | None = None
    one_sided: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("orders", "one_sided"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        if self.orders is not None and len(self.orders) == 0:
            raise ValueError("BestOfOrders needs at least one order")

    def _plan(self, problem: ColoringProblem) -> tuple[tuple[str | None, Order], ...]:
        """Candidates ``(side, order)``: one-sided ones first, then ``side=None``."""
        bidirectional = isinstance(problem, BidirectionalProblem)
        default = BICOLORING_BEST_ORDERS if bidirectional else DEFAULT_BEST_ORDERS
        orders = [as_order(o) for o in (self.orders if self.orders is not None else default)]
        runs: list[tuple[str | None, Order]] = []
        if bidirectional:
            one_sided = DEFAULT_BEST_ORDERS if self.one_sided is None else self.one_sided
            runs += [(side, as_order(o)) for o in one_sided for side in ("column", "row")]
        return (*runs, *((None, o) for o in orders))

    def color(self, pattern: SparsityPattern, problem: ColoringProblem | str) -> ColoringResult:
        from .solve import solve, solve_one_sided

        prob = as_problem(problem)
        post = _postprocessing(self.postprocessing, prob)
        best: ColoringResult | None = None
        for side, order in self._plan(prob):
            if side is None:
                result = solve(pattern, prob, order, postprocessing=post, algorithm="")
            else:  # one side of a bicoloring problem
                assert isinstance(prob, BidirectionalProblem)
                result = solve_one_sided(pattern, prob, order, side=side, algorithm="")
            if best is None or result.num_colors < best.num_colors:
                best = result
            if best.num_colors <= best.lower_bound:
                break  # provably optimal
        assert best is not None
        return _with_algorithm(best, self.describe())

    def describe(self) -> str:
        if self.orders is None and self.one_sided is None:
            return "best of orders"
        parts = []
        if self.one_sided is not None:
            names = ", ".join(as_order(o).describe() for o in self.one_sided)
            parts.append(f"one-sided: {names or 'none'}")
        if self.orders is not None:
            parts.append(", ".join(as_order(o).describe() for o in self.orders))
        return f"best of orders ({'; '.join(parts)})"


def _with_algorithm(result: ColoringResult, name: str) -> ColoringResult:
    from dataclasses import replace

    return replace(result, algorithm=name)
