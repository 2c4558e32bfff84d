"""Vertex orders for greedy coloring, as strategy objects.

Greedy coloring visits the vertices in some order; the order decides the
number of colors.  An order is any callable ``order(graph) -> permutation``
taking a :class:`~sparsediff.coloring.graphs.ColoringGraph` (the distance-2 view
of the columns or rows of a Jacobian, or the adjacency graph of a Hessian or of
the augmented bicoloring matrix) and returning a permutation of
``range(graph.num_vertices)``.  The classic ones are provided and are also
accepted by name (see :data:`ORDERS`):

* ``natural``: ``0, 1, 2, ...`` (Curtis, Powell, Reid 1974).
* ``random``: a seeded random permutation.
* ``largest_first``: by decreasing degree (Welsh and Powell 1967).
* ``smallest_last``: repeatedly remove a vertex of smallest degree in the
  remaining graph and place it last (Matula and Beck 1983).
* ``incidence_degree``: repeatedly place the vertex with the most already
  placed neighbours (Coleman and Moré 1983).
* ``dynamic_largest_first``: repeatedly place the vertex of largest degree in
  the graph of the vertices not yet placed (Gebremedhin, Manne, Pothen 2005).

The vertices are the columns (column and symmetric problems), the rows (row
problems), or the ``n`` columns followed by the ``m`` rows (bidirectional
problems), which is what an explicit permutation must index.

Degrees are distance-2 degrees on ``"distance2"`` graphs (the degree in the
column-intersection graph, computed without building it).  Ties are broken by
the smallest vertex index, except that the dynamic orders take, among tied
vertices, the one whose key changed last (initially the smallest index; see
:mod:`.order_kernels`, deterministic).  When one net holds all
vertices (a dense row in column coloring) every pair of vertices conflicts and
all orders give the same number of colors; the degree-based orders then return
the natural order without computing anything.  When walking the distance-2
neighbourhoods would be too costly (nearly dense rows or columns: more than
``graphs.WALK_BUDGET`` steps), degrees are estimated from above and the
dynamic orders fall back to largest-first, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .graphs import ColoringGraph

__all__ = [
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
    "order_label",
    "check_permutation",
]


class Order:
    """Base class of the vertex orders; subclasses implement ``__call__``."""

    name: ClassVar[str] = "order"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """Name used in results and reports."""
        return self.name


@dataclass(frozen=True)
class NaturalOrder(Order):
    """Vertices in index order."""

    name: ClassVar[str] = "natural"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        return np.arange(graph.num_vertices, dtype=np.int64)


@dataclass(frozen=True)
class RandomOrder(Order):
    """A uniformly random permutation drawn from ``numpy.random.default_rng(seed)``."""

    seed: int = 0
    name: ClassVar[str] = "random"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        return np.random.default_rng(self.seed).permutation(graph.num_vertices).astype(np.int64)

    def describe(self) -> str:
        return f"random(seed={self.seed})"


@dataclass(frozen=True)
class LargestFirstOrder(Order):
    """Vertices by decreasing degree, ties by increasing index."""

    name: ClassVar[str] = "largest_first"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        if graph.complete:
            return np.arange(graph.num_vertices, dtype=np.int64)
        return np.argsort(-graph.degrees, kind="stable").astype(np.int64)


@dataclass(frozen=True)
class SmallestLastOrder(Order):
    """Smallest-last (degeneracy) order of Matula and Beck (1983)."""

    name: ClassVar[str] = "smallest_last"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        if graph.complete:
            return np.arange(graph.num_vertices, dtype=np.int64)
        if _too_costly(graph, self.name):
            return LargestFirstOrder()(graph)
        from .order_kernels import smallest_last

        return smallest_last(graph)


@dataclass(frozen=True)
class IncidenceDegreeOrder(Order):
    """Most already-placed neighbours first; ties to the largest degree."""

    name: ClassVar[str] = "incidence_degree"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        if graph.complete:
            return np.arange(graph.num_vertices, dtype=np.int64)
        if _too_costly(graph, self.name):
            return LargestFirstOrder()(graph)
        from .order_kernels import incidence_degree

        return incidence_degree(graph)


@dataclass(frozen=True)
class DynamicLargestFirstOrder(Order):
    """Largest degree among the vertices not yet placed first."""

    name: ClassVar[str] = "dynamic_largest_first"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        if graph.complete:
            return np.arange(graph.num_vertices, dtype=np.int64)
        if _too_costly(graph, self.name):
            return LargestFirstOrder()(graph)
        from .order_kernels import dynamic_largest_first

        return dynamic_largest_first(graph)


@dataclass(frozen=True)
class ReversedOrder(Order):
    """Another order, backwards (e.g. smallest degree first from largest-first).

    Useful for bicoloring: coloring the high-degree vertices (dense rows and
    columns) *last* lets them take colors of their own, so that their neighbours
    can share colors and be neutralized by postprocessing.
    """

    base: Any = "largest_first"
    name: ClassVar[str] = "reversed"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(as_order(self.base)(graph))[::-1], dtype=np.int64)

    def describe(self) -> str:
        return f"reversed({as_order(self.base).describe()})"


@dataclass(frozen=True, eq=False)
class ExplicitOrder(Order):
    """A fixed permutation given by the user (its length must match the graph)."""

    permutation: np.ndarray
    name: ClassVar[str] = "explicit"

    def __post_init__(self) -> None:
        perm = np.array(self.permutation, dtype=np.int64).reshape(-1)
        perm.flags.writeable = False
        object.__setattr__(self, "permutation", perm)

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        if self.permutation.size != graph.num_vertices:
            raise ValueError(
                f"explicit order has {self.permutation.size} entries but the graph has "
                f"{graph.num_vertices} vertices"
            )
        return self.permutation


@dataclass(frozen=True, eq=False)
class _CallableOrder(Order):
    fn: Callable[[ColoringGraph], Any]
    name: ClassVar[str] = "custom"

    def __call__(self, graph: ColoringGraph) -> np.ndarray:
        return np.asarray(self.fn(graph), dtype=np.int64)

    def describe(self) -> str:
        return getattr(self.fn, "__name__", "custom")


#: Order classes by name (constructed without arguments when given by name).
ORDERS: dict[str, type[Order]] = {
    "natural": NaturalOrder,
    "random": RandomOrder,
    "largest_first": LargestFirstOrder,
    "smallest_last": SmallestLastOrder,
    "incidence_degree": IncidenceDegreeOrder,
    "dynamic_largest_first": DynamicLargestFirstOrder,
}


def _too_costly(graph: ColoringGraph, name: str) -> bool:
    """Whether a dynamic order must fall back to largest-first on this graph."""
    if graph.exact_degrees:
        return False
    warnings.warn(
        f"{name} order: walking the distance-2 neighbourhoods would take "
        f"{graph.walk_cost:.2g} steps; using largest-first on estimated degrees",
        RuntimeWarning,
        stacklevel=3,
    )
    return True


def as_order(order: Order | str | Callable[[ColoringGraph], Any] | Any) -> Order:
    """Turn a name, an :class:`Order`, a callable or a permutation into an :class:`Order`.

    Names are those of :data:`ORDERS` (case-insensitive; ``-`` and spaces read as
    ``_``); ``"random:SEED"`` picks the seed of the random order and
    ``"reversed:NAME"`` reverses an order.
    """
    if isinstance(order, Order):
        return order
    if isinstance(order, str):
        key = order.strip().lower().replace("-", "_").replace(" ", "_")
        if key.startswith("random:"):
            return RandomOrder(int(key.split(":", 1)[1]))
        if key.startswith("reversed:"):
            return ReversedOrder(as_order(key.split(":", 1)[1]))
        try:
            return ORDERS[key]()
        except KeyError:
            known = ", ".join(repr(k) for k in ORDERS)
            raise ValueError(f"unknown vertex order {order!r}; known: {known}") from None
    if callable(order):
        return _CallableOrder(order)
    if isinstance(order, np.ndarray | list | tuple):
        return ExplicitOrder(np.asarray(order))
    raise TypeError(f"cannot use {type(order).__name__} as a vertex order")


def order_label(order: Order | str | Any) -> str:
    """Display name of an order (or of anything :func:`as_order` accepts)."""
    return as_order(order).describe()


def check_permutation(perm: Any, size: int, label: str) -> np.ndarray:
    """Validate that ``perm`` is a permutation of ``range(size)``; return it as ``int64``."""
    p = np.asarray(perm)
    if p.ndim != 1 or p.size != size:
        raise ValueError(f"order {label!r} returned {p.shape} indices for {size} vertices")
    if size == 0:
        return p.astype(np.int64)
    if p.dtype.kind not in "iu":
        raise TypeError(f"order {label!r} returned a non-integer array ({p.dtype})")
    p = p.astype(np.int64, copy=False)
    if p.min() < 0 or p.max() >= size or np.bincount(p, minlength=size).max() != 1:
        raise ValueError(f"order {label!r} did not return a permutation of range({size})")
    return p
