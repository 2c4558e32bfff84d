"""Graph views of a sparsity pattern, as walked by the coloring kernels.

Two kinds of graph are colored (Gebremedhin, Manne, Pothen 2005, "What color is
your Jacobian?"):

* ``"distance2"``: the bipartite graph of a Jacobian pattern, seen from one side.
  Vertices are the columns (or the rows); two vertices conflict when they share a
  *net* (a row, or a column).  The column-intersection graph is never built: the
  kernels walk vertex -> nets -> vertices through the CSC and CSR index arrays.
* ``"adjacency"``: the adjacency graph of a symmetric pattern without its
  diagonal, as compressed sparse rows, with for every stored half-edge the
  position of its reverse (``transpose``).  Used for Hessians and, on the
  augmented matrix ``[[0, A.T], [A, 0]]``, for bicoloring.

Everything is built with whole-array numpy operations (sorts, cumulative sums);
no dense matrix is formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..patterns import SparsityPattern
from .distance2 import distance2_degrees

__all__ = [
    "ColoringGraph",
    "SymmetricView",
    "column_graph",
    "row_graph",
    "symmetric_view",
    "augmented_graph",
]

_INT32_MAX = 2**31 - 1

#: Most steps spent walking distance-2 neighbourhoods for vertex degrees (the
#: distance-2 degrees and the dynamic orders); beyond, degrees are estimated.
WALK_BUDGET = 3 * 10**8


def _index_dtype(size: int) -> np.dtype:
    return np.dtype(np.int32) if size < _INT32_MAX else np.dtype(np.int64)


def _ptr_from_sorted(keys_major: np.ndarray, size: int) -> np.ndarray:
    ptr = np.zeros(size + 1, dtype=np.int64)
    if keys_major.size:
        np.cumsum(np.bincount(keys_major, minlength=size), out=ptr[1:])
    return ptr


def _readonly(*arrays: np.ndarray | None) -> None:
    for a in arrays:
        if a is not None and a.flags.writeable:
            a.flags.writeable = False


class ColoringGraph:
    """Read-only graph handed to vertex orders and coloring kernels.

    Attributes:
        kind: ``"distance2"`` or ``"adjacency"``.
        num_vertices: number of vertices to color.
        ptr, idx: for ``"distance2"``, vertex -> nets (CSR of the vertices);
            for ``"adjacency"``, vertex -> neighbours.
        net_ptr, net_idx: nets -> vertices (``"distance2"`` only).
        transpose: for ``"adjacency"``, position of the reverse of each stored
            half-edge (``int32`` when the positions fit).
        complete: ``True`` when one net holds every vertex, so that all vertices
            conflict pairwise (degree-based orders are then all equivalent).
        walk_cost: steps of one walk over every vertex's neighbourhood: the sum
            of the squared net sizes for ``"distance2"``, the number of
            half-edges for ``"adjacency"``.
        exact_degrees: whether :attr:`degrees` are exact (see there).
    """

    __slots__ = (
        "kind",
        "num_vertices",
        "ptr",
        "idx",
        "net_ptr",
        "net_idx",
        "transpose",
        "complete",
        "walk_cost",
        "_degrees",
    )

    def __init__(
        self,
        kind: str,
        num_vertices: int,
        ptr: np.ndarray,
        idx: np.ndarray,
        *,
        net_ptr: np.ndarray | None = None,
        net_idx: np.ndarray | None = None,
        transpose: np.ndarray | None = None,
    ) -> None:
        if kind not in ("distance2", "adjacency"):
            raise ValueError(f"unknown graph kind {kind!r}")
        self.kind = kind
        self.num_vertices = int(num_vertices)
        self.ptr = ptr
        self.idx = idx
        self.net_ptr = net_ptr
        self.net_idx = net_idx
        self.transpose = transpose
        self._degrees: np.ndarray | None = None
        sizes = np.diff(net_ptr) if kind == "distance2" and net_ptr is not None else None
        self.complete = bool(
            sizes is not None
            and self.num_vertices > 1
            and sizes.size > 0
            and int(sizes.max()) == self.num_vertices
        )
        if sizes is None:
            self.walk_cost = int(idx.size)
        else:
            self.walk_cost = int(np.dot(sizes.astype(np.float64), sizes.astype(np.float64)))
        _readonly(ptr, idx, net_ptr, net_idx, transpose)

    @property
    def exact_degrees(self) -> bool:
        return self.kind == "adjacency" or self.complete or self.walk_cost <= WALK_BUDGET

    @property
    def degrees(self) -> np.ndarray:
        """Degree of every vertex (``int64``): number of distinct conflicting vertices.

        For ``"distance2"`` graphs this is the distance-2 degree in the bipartite
        graph (the degree in the column-intersection graph), computed without
        building that graph.  That walk costs :attr:`walk_cost` steps; above
        :data:`WALK_BUDGET` (large, nearly dense nets) the upper bound
        ``min(n - 1, sum over the vertex's nets of (size - 1))`` is used instead
        (:attr:`exact_degrees` is then ``False``).
        """
        if self._degrees is None:
            if self.kind == "adjacency":
                deg = np.diff(self.ptr)
            elif self.complete:
                deg = np.full(self.num_vertices, self.num_vertices - 1, dtype=np.int64)
            elif not self.exact_degrees:
                assert self.net_ptr is not None  # only distance-2 graphs are inexact
                sizes = (np.diff(self.net_ptr) - 1).astype(np.float64)
                owner = np.repeat(np.arange(self.num_vertices), np.diff(self.ptr))
                bound = np.bincount(owner, weights=sizes[self.idx], minlength=self.num_vertices)
                deg = np.minimum(bound, max(self.num_vertices - 1, 0)).astype(np.int64)
            else:
                deg = distance2_degrees(self)
            deg = deg.astype(np.int64, copy=False)
            _readonly(deg)
            self._degrees = deg
        return self._degrees

    def __repr__(self) -> str:
        return (
            f"ColoringGraph(kind={self.kind!r}, num_vertices={self.num_vertices}, "
            f"entries={int(self.idx.size)})"
        )


def _csc(pattern: SparsityPattern) -> tuple[np.ndarray, np.ndarray]:
    """Column pointer and row indices in column-major order (linear-time counting sort)."""
    from .graph_kernels import csc_order

    col_ptr, order = csc_order(pattern.cols, pattern.n)
    return col_ptr, np.asarray(pattern.rows)[order]


def column_graph(pattern: SparsityPattern) -> ColoringGraph:
    """Columns as vertices, rows as nets (partial distance-2 column coloring)."""
    col_ptr, col_rows = _csc(pattern)
    return ColoringGraph(
        "distance2",
        pattern.n,
        col_ptr,
        col_rows,
        net_ptr=np.asarray(pattern.indptr, dtype=np.int64),
        net_idx=pattern.indices,
    )


def row_graph(pattern: SparsityPattern) -> ColoringGraph:
    """Rows as vertices, columns as nets (partial distance-2 row coloring)."""
    col_ptr, col_rows = _csc(pattern)
    return ColoringGraph(
        "distance2",
        pattern.m,
        np.asarray(pattern.indptr, dtype=np.int64),
        pattern.indices,
        net_ptr=col_ptr,
        net_idx=col_rows,
    )


@dataclass(frozen=True)
class SymmetricView:
    """Adjacency graph of a square pattern made symmetric, plus its bookkeeping.

    Attributes:
        graph: the adjacency graph (no diagonal).
        diagonal: ``bool`` array, vertices whose diagonal entry is in the pattern.
        nz_position: for every nonzero of the pattern (row-major order), the
            position of its half-edge in ``graph`` (``-1`` on the diagonal).
    """

    graph: ColoringGraph
    diagonal: np.ndarray
    nz_position: np.ndarray


def symmetric_view(pattern: SparsityPattern) -> SymmetricView:
    """Adjacency graph of ``pattern | pattern.T`` without the diagonal.

    The Hessian is symmetric, so an entry ``(i, j)`` implies ``(j, i)``; the
    union is taken (with a sort) only when the pattern itself is not symmetric.
    """
    from .graph_kernels import symmetric_transpose

    m, n = pattern.shape
    if m != n:
        raise ValueError(f"symmetric coloring needs a square pattern, got shape {pattern.shape}")
    rows = np.asarray(pattern.rows)
    cols = np.asarray(pattern.cols)
    off = rows != cols
    diagonal = np.zeros(n, dtype=bool)
    diagonal[rows[~off]] = True
    dtype = _index_dtype(n)
    r = rows[off].astype(dtype, copy=False)
    c = cols[off].astype(dtype, copy=False)
    ptr = _ptr_from_sorted(r, n)
    tpos = symmetric_transpose(ptr, c)
    nz_position = np.full(rows.size, -1, dtype=np.int64)
    if tpos is not None:
        nz_position[off] = np.arange(r.size, dtype=np.int64)
    else:
        r0, c0 = r.astype(np.int64), c.astype(np.int64)
        keys = np.sort(np.concatenate([r0 * n + c0, c0 * n + r0]))
        keep = np.empty(keys.size, dtype=bool)
        keep[0] = True  # not symmetric, so not empty
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
        r = (keys // n).astype(dtype)
        c = (keys % n).astype(dtype)
        ptr = _ptr_from_sorted(r, n)
        tpos = symmetric_transpose(ptr, c)
        nz_position[off] = np.searchsorted(keys, r0 * n + c0)
    graph = ColoringGraph("adjacency", n, ptr, c, transpose=tpos)
    _readonly(diagonal, nz_position)
    return SymmetricView(graph, diagonal, nz_position)


def augmented_graph(pattern: SparsityPattern) -> ColoringGraph:
    """Adjacency graph of ``[[0, A.T], [A, 0]]``: the bipartite graph of ``A``.

    Vertices ``0 .. n-1`` are the columns of ``A`` and ``n .. n+m-1`` its rows;
    the half-edges of column ``j`` come first (in the CSC order of the pattern),
    then those of the rows (in the pattern's row-major order), so the half-edge of
    nonzero ``k`` seen from its row is at position ``nnz + k``.  Built in one
    counting-sort pass (:func:`.graph_kernels.augmented_csr`).
    """
    from .graph_kernels import augmented_csr

    m, n = pattern.shape
    ptr, idx, transpose = augmented_csr(
        pattern.rows, pattern.cols, pattern.indptr, (m, n), _index_dtype(n + m)
    )
    return ColoringGraph("adjacency", n + m, ptr, idx, transpose=transpose)
