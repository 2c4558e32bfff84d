"""Lower bounds on the number of colors (AD passes) of each problem.

* Column coloring: the largest number of nonzeros in a row.  The columns of one
  row pairwise conflict (Coleman and Moré 1983).
* Row coloring: the largest number of nonzeros in a column.
* Symmetric problems: the larger of
  - the largest clique found greedily among the vertices whose diagonal entry
    is a nonzero: such vertices are always seeded, and seeded neighbours need
    different colors in both star and acyclic colorings;
  - a counting bound: every Hessian-vector product yields one number per
    nonempty row, and the distinct unknowns (upper triangle with diagonal) must
    not outnumber them.
* Bidirectional problems: a counting bound.  A forward pass yields one number
  per nonempty row and a reverse pass one per nonempty column, so
  ``passes >= ceil(nnz / max(nonempty rows, nonempty columns))``.  It holds for
  direct and substitution decompression alike (fewer equations than unknowns
  leave the system underdetermined); it is tight on arrowhead matrices (3).

The clique search starts from the vertices of largest degree and from evenly
spread vertices (at most :data:`CLIQUE_STARTS` starts), adding neighbours by
decreasing degree while they stay adjacent to the whole clique.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..patterns import SparsityPattern
from .graphs import SymmetricView
from .problems import BidirectionalProblem, ColoringProblem, ColumnProblem, RowProblem

__all__ = ["lower_bound", "greedy_clique", "CLIQUE_STARTS"]

#: Number of start vertices of the greedy clique search.
CLIQUE_STARTS = 256


@njit(cache=True)
def _greedy_clique(ptr, idx, starts, cand_ptr, cand):
    """Largest clique grown from each start over its candidates (taken in order)."""
    n = ptr.size - 1
    hits = np.zeros(n, dtype=np.int64)
    stamp = np.full(n, -1, dtype=np.int64)
    best = 1 if starts.size else 0
    for t in range(starts.size):
        v = starts[t]
        if cand_ptr[t + 1] - cand_ptr[t] + 1 <= best:
            continue
        for p in range(ptr[v], ptr[v + 1]):
            stamp[idx[p]] = t
            hits[idx[p]] = 1
        size = 1
        for a in range(cand_ptr[t], cand_ptr[t + 1]):
            w = cand[a]
            if hits[w] == size:
                size += 1
                for p in range(ptr[w], ptr[w + 1]):
                    x = idx[p]
                    if stamp[x] == t:
                        hits[x] += 1
        if size > best:
            best = size
    return best


def greedy_clique(view: SymmetricView, starts: int = CLIQUE_STARTS) -> int:
    """Size of a clique of diagonal vertices found greedily (0 if there are none)."""
    graph = view.graph
    allowed = np.asarray(view.diagonal, dtype=bool)
    candidates = np.flatnonzero(allowed)
    if candidates.size == 0:
        return 0
    degree = np.diff(graph.ptr)
    if candidates.size <= starts:
        chosen = candidates
    else:
        top = candidates[np.argsort(-degree[candidates], kind="stable")[: starts // 2]]
        spread = candidates[np.linspace(0, candidates.size - 1, starts - top.size).astype(int)]
        chosen = np.concatenate([top, spread])
    # Candidates of each start: its diagonal neighbours by decreasing degree.
    lists = []
    for v in chosen:
        nbrs = graph.idx[graph.ptr[v] : graph.ptr[v + 1]]
        nbrs = nbrs[allowed[nbrs]]
        lists.append(nbrs[np.argsort(-degree[nbrs], kind="stable")].astype(np.int64))
    cand_ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([x.size for x in lists], out=cand_ptr[1:])
    cand = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    return int(_greedy_clique(graph.ptr, graph.idx, chosen.astype(np.int64), cand_ptr, cand))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b) if b else 0


def lower_bound(
    pattern: SparsityPattern, problem: ColoringProblem, view: SymmetricView | None = None
) -> tuple[int, str]:
    """``(bound, description)`` for ``pattern`` under ``problem``."""
    if pattern.nnz == 0:
        return 0, "empty pattern"
    if isinstance(problem, ColumnProblem):
        return int(pattern.row_counts.max()), "max nonzeros per row"
    if isinstance(problem, RowProblem):
        return int(pattern.col_counts.max()), "max nonzeros per column"
    if isinstance(problem, BidirectionalProblem):
        rows = int(np.count_nonzero(pattern.row_counts))
        cols = int(np.count_nonzero(pattern.col_counts))
        return _ceil_div(pattern.nnz, max(rows, cols)), "nnz / max(nonempty rows, columns)"
    if view is None:
        from .graphs import symmetric_view

        view = symmetric_view(pattern)
    clique = greedy_clique(view)
    off = int(view.graph.idx.size) // 2
    diag = int(np.count_nonzero(view.diagonal))
    deg = np.diff(view.graph.ptr)
    nonempty = int(np.count_nonzero((deg > 0) | view.diagonal))
    counting = _ceil_div(off + diag, nonempty)
    if clique >= counting:
        return clique, "largest clique found"
    return counting, "unknowns / nonempty rows"
