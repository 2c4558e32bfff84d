"""From a pattern, a problem and an order to a :class:`ColoringResult`.

One pipeline per problem: build the graph, order its vertices, run the greedy
kernel, assign neutral colors, lay out the decompression plan, compute the lower
bound.  Bicoloring is reduced to a star or acyclic coloring of the augmented
symmetric matrix ``[[0, A.T], [A, 0]]`` (Montoison, Dalle, Gebremedhin 2025):
its first ``n`` vertices are the columns of ``A`` (forward seeds), the last
``m`` its rows (reverse seeds).

The stages of a star or acyclic coloring share one :class:`~.scratch.Scratch`
for their work arrays, and the plan's index arrays are written by one compiled
pass (:mod:`.plans`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..patterns import SparsityPattern
from .bounds import lower_bound
from .decompression import DecompressionPlan, direct_plan
from .graphs import ColoringGraph, augmented_graph, column_graph, row_graph, symmetric_view
from .orders import Order, check_permutation
from .plans import Nonzeros, Reader, star_plan, substitution_plan
from .postprocess import renumber
from .problems import (
    BidirectionalProblem,
    ColoringProblem,
    ColumnProblem,
    RowProblem,
    SymmetricProblem,
)
from .result import ColoringResult, StarSets, TreeSets
from .scratch import Scratch

__all__ = ["solve", "solve_one_sided"]


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


def _symmetric_plan(
    graph: ColoringGraph,
    raw: np.ndarray,
    trees: tuple[np.ndarray, int] | None,
    problem: ColoringProblem,
    nz: Nonzeros,
    *,
    diagonal: np.ndarray,
    vclass: np.ndarray,
    postprocessing: bool,
    make_reader: Callable[[np.ndarray], tuple[Reader, dict]],
    scratch: Scratch,
) -> dict:
    """Neutral colors, star/tree sets and plan of a star or acyclic coloring.

    ``make_reader`` turns the mask of needed vertices into a reader (see
    :mod:`.plans`) and the result's color fields; ``scratch`` lends the work
    arrays (see :mod:`.scratch`).
    """
    diagonal = np.asarray(diagonal, dtype=bool)
    if problem.decompression_kind == "direct":
        from .star import star_structure

        if postprocessing:
            needed = diagonal.copy()
        else:
            # Without postprocessing every vertex is seeded, except isolated ones (no
            # nonzero at all), which would only add empty products.
            needed = (np.diff(graph.ptr) > 0) | diagonal
        eu, ew, ehub, half_hub = star_structure(graph, raw, needed, vclass, postprocessing, scratch)
        reader, fields = make_reader(needed)
        blocks = fields.pop("blocks")
        bound = _plan_bound(blocks, nz.rows.size, 0)
        direct_nz, direct_src = star_plan(nz, half_hub, reader, bound)
        plan = DecompressionPlan.build(nz.rows.size, blocks, direct_nz, direct_src)
        return {**fields, "plan": plan, "stars": StarSets(eu, ew, ehub)}
    from .trees import plan_trees

    assert trees is not None
    tp = plan_trees(
        graph, *trees, colors=raw, diagonal=diagonal, vclass=vclass,
        postprocessing=postprocessing, scratch=scratch,
    )  # fmt: skip
    reader, fields = make_reader(tp.needed)
    blocks = fields.pop("blocks")
    bound = _plan_bound(blocks, nz.rows.size, tp.seq_w.size)
    direct_nz, direct_src, subst_src, subst_nz, start, stop, out_sign = substitution_plan(
        nz, tp, reader, bound
    )
    scratch.give(tp.code, tp.seq_w, tp.seq_x, tp.seq_stop)
    plan = DecompressionPlan.build(
        nz.rows.size,
        blocks,
        direct_nz,
        direct_src,
        subst_src=subst_src,
        subst_sign=tp.seq_sign,
        subst_nz=subst_nz,
        subst_start=start,
        subst_stop=stop,
        subst_out_sign=out_sign,
    )
    tree_sets = TreeSets(tp.edge_u, tp.edge_w, tp.edge_tree, tp.roots)
    return {**fields, "plan": plan, "trees": tree_sets}


def _plan_bound(blocks: tuple, nnz: int, seq_len: int) -> int:
    """The bound by which :meth:`DecompressionPlan.build` picks its index type."""
    return max(sum(r * c for _, (r, c) in blocks), nnz, seq_len + 1)


def _color_symmetric(
    graph: ColoringGraph, problem: ColoringProblem, order: Order, scratch: Scratch
) -> tuple[np.ndarray, tuple[np.ndarray, int] | None]:
    """Star coloring (direct), or acyclic coloring and its trees (substitution)."""
    perm = _ordered(order, graph)
    if problem.decompression_kind == "direct":
        from .star import star_coloring

        return star_coloring(graph, perm, scratch), None
    from .acyclic import acyclic_coloring

    colors, tree, num_trees = acyclic_coloring(graph, perm, scratch)
    return colors, (tree, num_trees)


def _solve_symmetric(
    pattern: SparsityPattern, problem: SymmetricProblem, order: Order, postprocessing: bool
) -> dict:
    view = symmetric_view(pattern)
    graph = view.graph
    n = graph.num_vertices
    scratch = Scratch()
    raw, trees = _color_symmetric(graph, problem, order, scratch)
    nz = Nonzeros(pattern.rows, pattern.cols, 0, view.nz_position)

    def make_reader(needed: np.ndarray) -> tuple[Reader, dict]:
        colors, k = renumber(raw, needed)
        fields = {"column_colors": colors, "num_forward": k, "blocks": (("forward", (n, k)),)}
        return Reader(colors, 0, n, k), fields

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
        scratch=scratch,
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
    scratch = Scratch()
    raw, trees = _color_symmetric(graph, problem, order, scratch)
    vclass = raw.astype(np.int64) * 2
    vclass[n:] += 1  # the class of a vertex: its color and its side

    def make_reader(needed: np.ndarray) -> tuple[Reader, dict]:
        col_colors, kf = renumber(raw[:n], needed[:n])
        row_colors, kr = renumber(raw[n:], needed[n:])
        fields = {
            "column_colors": col_colors,
            "row_colors": row_colors,
            "num_forward": kf,
            "num_reverse": kr,
            "blocks": (("forward", (m, kf)), ("reverse", (kr, n))),
        }
        return Reader(np.concatenate([col_colors, row_colors]), n, m, kf), fields

    # Nonzero k joins row vertex n + rows[k] and column cols[k]; its half-edge seen
    # from the row is nnz + k (see augmented_graph).
    nz = Nonzeros(pattern.rows, pattern.cols, n, None, nnz)
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
        scratch=scratch,
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
