"""From a pattern, a problem and an order to a :class:`ColoringResult`.

One pipeline per problem: build the graph, order its vertices, run the greedy
kernel, assign neutral colors, lay out the decompression plan, compute the lower
bound.  Bicoloring is reduced to a star or acyclic coloring of the augmented
symmetric matrix ``[[0, A.T], [A, 0]]`` (Montoison, Dalle, Gebremedhin 2025):
its first ``n`` vertices are the columns of ``A`` (forward seeds), the last
``m`` its rows (reverse seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..patterns import SparsityPattern
from .bounds import lower_bound
from .decompression import DecompressionPlan, direct_plan
from .graphs import ColoringGraph, augmented_graph, column_graph, row_graph, symmetric_view
from .orders import Order, check_permutation
from .postprocess import renumber
from .problems import (
    BidirectionalProblem,
    ColoringProblem,
    ColumnProblem,
    RowProblem,
    SymmetricProblem,
)
from .result import ColoringResult, StarSets, TreeSets

__all__ = ["solve", "solve_one_sided"]

# read(w, x) -> flat index of "row w of the compressed product, at the color of x".
Reader = Callable[[np.ndarray, np.ndarray], np.ndarray]


@njit(cache=True)
def _bicoloring_reads(w, x, vcolor, n, m, kf):
    """Flat index of ``K[w, color(x)]`` for the augmented matrix ``K``.

    A row ``w >= n`` reads the forward block ``A S_f`` (shape ``(m, kf)``) at the
    color of column ``x``; a column reads the reverse block ``S_r.T A`` (shape
    ``(kr, n)``, after the forward block) at the color of row ``x``.
    """
    out = np.empty(w.size, dtype=np.int64)
    for t in range(w.size):
        a = w[t]
        c = vcolor[x[t]]
        if a >= n:
            out[t] = (a - n) * kf + c
        else:
            out[t] = m * kf + c * n + a
    return out


def _ordered(order: Order, graph: ColoringGraph) -> np.ndarray:
    return check_permutation(order(graph), graph.num_vertices, order.describe())


def _solve_distance2(pattern: SparsityPattern, problem: ColoringProblem, order: Order) -> dict:
    from .distance2 import greedy_distance2

    by_row = isinstance(problem, RowProblem)
    graph = row_graph(pattern) if by_row else column_graph(pattern)
    colors = greedy_distance2(graph, _ordered(order, graph))
    k = int(colors.max()) + 1 if colors.size and pattern.nnz else 0
    if pattern.nnz == 0:
        colors = np.full(colors.size, -1, dtype=np.int32)
    m, n = pattern.shape
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    if by_row:
        blocks = (("reverse", (k, n)),)
        src = colors[rows].astype(np.int64) * n + cols
        return {
            "row_colors": colors,
            "num_reverse": k,
            "plan": direct_plan(pattern.nnz, blocks, src),
        }
    blocks = (("forward", (m, k)),)
    src = rows * k + colors[cols]
    return {
        "column_colors": colors,
        "num_forward": k,
        "plan": direct_plan(pattern.nnz, blocks, src),
    }


@dataclass(frozen=True)
class _Nonzeros:
    """How the nonzeros of the pattern sit in the colored adjacency graph.

    ``off_nz``: positions of the off-diagonal nonzeros; ``half``: their half-edges;
    ``ends``: the sum of the two end vertices of each (so that the far end of an
    edge from ``x`` is ``ends - x``); ``diag_nz`` / ``diag_vertex``: the diagonal
    nonzeros and their vertices.
    """

    nnz: int
    off_nz: np.ndarray
    half: np.ndarray
    ends: np.ndarray
    diag_nz: np.ndarray
    diag_vertex: np.ndarray


def _symmetric_plan(
    graph: ColoringGraph,
    raw: np.ndarray,
    trees: tuple[np.ndarray, int] | None,
    problem: ColoringProblem,
    nz: _Nonzeros,
    *,
    diagonal: np.ndarray,
    vclass: np.ndarray,
    postprocessing: bool,
    make_reader: Callable[[np.ndarray], tuple[Reader, dict]],
) -> dict:
    """Neutral colors, star/tree sets and plan of a star or acyclic coloring.

    ``make_reader`` turns the mask of needed vertices into a reader and the
    result's color fields.
    """
    diagonal = np.asarray(diagonal, dtype=bool)
    if postprocessing:
        needed = diagonal.copy()
    else:
        # Without postprocessing every vertex is seeded, except isolated ones (no
        # nonzero at all), which would only add empty products.
        needed = (np.diff(graph.ptr) > 0) | diagonal
    if problem.decompression_kind == "direct":
        from .star import star_structure

        eu, ew, ehub, half_hub = star_structure(graph, raw, needed, vclass, postprocessing)
        read, fields = make_reader(needed)
        hub = half_hub[nz.half]
        plan = DecompressionPlan.build(
            nz.nnz,
            fields.pop("blocks"),
            np.concatenate([nz.off_nz, nz.diag_nz]),
            np.concatenate([read(nz.ends - hub, hub), read(nz.diag_vertex, nz.diag_vertex)]),
        )
        return {**fields, "plan": plan, "stars": StarSets(eu, ew, ehub)}
    from .trees import plan_trees

    assert trees is not None
    tp = plan_trees(graph, *trees, diagonal=diagonal, vclass=vclass, postprocessing=postprocessing)
    read, fields = make_reader(tp.needed)
    code = tp.code[nz.half]
    is_direct = code < 0
    leaf = -1 - code[is_direct]
    start = code[~is_direct]
    plan = DecompressionPlan.build(
        nz.nnz,
        fields.pop("blocks"),
        np.concatenate([nz.off_nz[is_direct], nz.diag_nz]),
        np.concatenate(
            [read(leaf, nz.ends[is_direct] - leaf), read(nz.diag_vertex, nz.diag_vertex)]
        ),
        subst_src=read(tp.seq_w, tp.seq_x),
        subst_sign=tp.seq_sign,
        subst_nz=nz.off_nz[~is_direct],
        subst_start=start,
        subst_stop=tp.seq_stop[start],
        subst_out_sign=tp.seq_sign[start],
    )
    tree_sets = TreeSets(tp.edge_u, tp.edge_w, tp.edge_tree, tp.roots)
    return {**fields, "plan": plan, "trees": tree_sets}


def _color_symmetric(
    graph: ColoringGraph, problem: ColoringProblem, order: Order
) -> tuple[np.ndarray, tuple[np.ndarray, int] | None]:
    """Star coloring (direct), or acyclic coloring and its trees (substitution)."""
    perm = _ordered(order, graph)
    if problem.decompression_kind == "direct":
        from .star import star_coloring

        return star_coloring(graph, perm), None
    from .acyclic import acyclic_coloring

    colors, tree, num_trees = acyclic_coloring(graph, perm)
    return colors, (tree, num_trees)


def _solve_symmetric(
    pattern: SparsityPattern, problem: SymmetricProblem, order: Order, postprocessing: bool
) -> dict:
    view = symmetric_view(pattern)
    graph = view.graph
    n = graph.num_vertices
    raw, trees = _color_symmetric(graph, problem, order)
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    on_diag = view.nz_position < 0
    off_nz = np.flatnonzero(~on_diag)
    diag_nz = np.flatnonzero(on_diag)
    nz = _Nonzeros(
        pattern.nnz,
        off_nz,
        view.nz_position[off_nz],
        rows[off_nz] + cols[off_nz],
        diag_nz,
        rows[diag_nz],
    )

    def make_reader(needed: np.ndarray) -> tuple[Reader, dict]:
        colors, k = renumber(raw, needed)
        c64 = colors.astype(np.int64)

        def read(w: np.ndarray, x: np.ndarray) -> np.ndarray:
            return np.asarray(w, dtype=np.int64) * k + c64[x]

        return read, {"column_colors": colors, "num_forward": k, "blocks": (("forward", (n, k)),)}

    out = _symmetric_plan(
        graph,
        raw,
        trees,
        problem,
        nz,
        diagonal=view.diagonal,
        vclass=raw.astype(np.int64),
        postprocessing=postprocessing,
        make_reader=make_reader,
    )
    out["symmetric_colors"] = raw
    out["_view"] = view
    return out


def _solve_bidirectional(
    pattern: SparsityPattern, problem: BidirectionalProblem, order: Order, postprocessing: bool
) -> dict:
    m, n = pattern.shape
    nnz = pattern.nnz
    graph = augmented_graph(pattern)
    raw, trees = _color_symmetric(graph, problem, order)
    side = (np.arange(n + m) >= n).astype(np.int64)
    vclass = raw.astype(np.int64) * 2 + side

    def make_reader(needed: np.ndarray) -> tuple[Reader, dict]:
        col_colors, kf = renumber(raw[:n], needed[:n])
        row_colors, kr = renumber(raw[n:], needed[n:])
        vcolor = np.concatenate([col_colors, row_colors]).astype(np.int64)

        def read(w: np.ndarray, x: np.ndarray) -> np.ndarray:
            return _bicoloring_reads(np.asarray(w), np.asarray(x), vcolor, n, m, kf)

        fields = {
            "column_colors": col_colors,
            "row_colors": row_colors,
            "num_forward": kf,
            "num_reverse": kr,
            "blocks": (("forward", (m, kf)), ("reverse", (kr, n))),
        }
        return read, fields

    empty = np.zeros(0, dtype=np.int64)
    rows = np.asarray(pattern.rows, dtype=np.int64)
    nz = _Nonzeros(
        nnz,
        np.arange(nnz, dtype=np.int64),
        nnz + np.arange(nnz, dtype=np.int64),
        n + rows + np.asarray(pattern.cols, dtype=np.int64),
        empty,
        empty,
    )
    out = _symmetric_plan(
        graph,
        raw,
        trees,
        problem,
        nz,
        diagonal=np.zeros(n + m, dtype=bool),
        vclass=vclass,
        postprocessing=postprocessing,
        make_reader=make_reader,
    )
    out["symmetric_colors"] = raw
    return out


def solve(
    pattern: SparsityPattern,
    problem: ColoringProblem,
    order: Order,
    *,
    postprocessing: bool,
    algorithm: str,
) -> ColoringResult:
    """Color ``pattern`` for ``problem`` with the greedy kernels in ``order``."""
    if not isinstance(pattern, SparsityPattern):
        raise TypeError(f"expected a SparsityPattern, got {type(pattern).__name__}")
    view = None
    if isinstance(problem, ColumnProblem | RowProblem):
        fields = _solve_distance2(pattern, problem, order)
    elif isinstance(problem, SymmetricProblem):
        fields = _solve_symmetric(pattern, problem, order, postprocessing)
        view = fields.pop("_view")
    elif isinstance(problem, BidirectionalProblem):
        fields = _solve_bidirectional(pattern, problem, order, postprocessing)
    else:
        raise TypeError(f"unsupported coloring problem {problem!r}")
    bound, kind = lower_bound(pattern, problem, view)
    return ColoringResult(
        pattern=pattern,
        problem=problem,
        column_colors=fields.get("column_colors"),
        row_colors=fields.get("row_colors"),
        num_forward=fields.get("num_forward", 0),
        num_reverse=fields.get("num_reverse", 0),
        lower_bound=bound,
        lower_bound_kind=kind,
        order=order.describe(),
        algorithm=algorithm,
        plan=fields["plan"],
        symmetric_colors=fields.get("symmetric_colors"),
        stars=fields.get("stars"),
        trees=fields.get("trees"),
    )


def solve_one_sided(
    pattern: SparsityPattern,
    problem: BidirectionalProblem,
    order: Order,
    *,
    side: str,
    algorithm: str,
) -> ColoringResult:
    """A column (``side="column"``) or row coloring, returned as a bicoloring.

    Every nonzero is then read from the forward (reverse) products alone.  As a
    coloring of the augmented matrix it gives all rows (columns) one extra color
    and neutralizes them, which is a star (hence acyclic) coloring: two columns
    of one color share no row, so each two-colored component is a star around a
    column.  :class:`~sparsediff.coloring.BestOfOrders` uses it so that a
    bicoloring never needs more passes than one-sided coloring.
    """
    if side not in ("column", "row"):
        raise ValueError(f"side must be 'column' or 'row', got {side!r}")
    by_row = side == "row"
    m, n = pattern.shape
    nnz = pattern.nnz
    fields = _solve_distance2(pattern, RowProblem() if by_row else ColumnProblem(), order)
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    if by_row:
        colors, k = fields["row_colors"], fields["num_reverse"]
        nonempty = pattern.row_counts > 0
        row_colors = np.where(nonempty, colors, -1).astype(np.int32)
        column_colors = np.full(n, -1, dtype=np.int32)
        raw = np.concatenate([np.full(n, k, dtype=np.int32), colors])
        kf, kr = 0, k
        src = colors[rows].astype(np.int64) * n + cols
        hub = n + rows
        tree = (np.cumsum(nonempty) - 1)[rows]
        roots = n + np.flatnonzero(nonempty)
    else:
        colors, k = fields["column_colors"], fields["num_forward"]
        nonempty = pattern.col_counts > 0
        column_colors = np.where(nonempty, colors, -1).astype(np.int32)
        row_colors = np.full(m, -1, dtype=np.int32)
        raw = np.concatenate([colors, np.full(m, k, dtype=np.int32)])
        kf, kr = k, 0
        src = rows * k + colors[cols]
        hub = cols
        tree = (np.cumsum(nonempty) - 1)[cols]
        roots = np.flatnonzero(nonempty)
    plan = direct_plan(nnz, (("forward", (m, kf)), ("reverse", (kr, n))), src)
    stars = trees = None
    if problem.decompression_kind == "direct":
        stars = StarSets(cols, n + rows, hub)
    else:
        trees = TreeSets(cols, n + rows, tree, roots.astype(np.int64))
    bound, kind = lower_bound(pattern, problem)
    return ColoringResult(
        pattern=pattern,
        problem=problem,
        column_colors=column_colors,
        row_colors=row_colors,
        num_forward=kf,
        num_reverse=kr,
        lower_bound=bound,
        lower_bound_kind=kind,
        order=f"{order.describe()}, {side}s only",
        algorithm=algorithm,
        plan=plan,
        symmetric_colors=raw,
        stars=stars,
        trees=trees,
    )
