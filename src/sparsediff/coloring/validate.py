"""Validators: is a coloring valid for its problem, and does it decompress?

:func:`check_coloring` recomputes, with plain numpy and scipy (independently of
the compiled kernels), the condition each problem needs:

* column / row coloring: no two columns (rows) of one color share a row
  (column);
* direct decompression (star coloring, star bicoloring): every nonzero has a
  compressed entry to which it is the only contributor (Coleman and Moré 1984;
  Coleman and Verma 1998);
* substitution (acyclic coloring, acyclic bicoloring): seeded neighbours have
  different colors, and the coloring before neutral colors has no two-colored
  cycle (Coleman and Cai 1986);

and finally compresses a random integer-valued matrix with the pattern and
checks that the decompression plan gives it back exactly.  Failures raise
:class:`InvalidColoringError` naming two conflicting columns or rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..patterns import SparsityPattern
from .problems import BidirectionalProblem, ColumnProblem, RowProblem, SymmetricProblem
from .result import ColoringResult

__all__ = ["InvalidColoringError", "check_coloring", "random_values"]


class InvalidColoringError(ValueError):
    """A coloring that does not allow the problem's decompression."""


def _colors(arr: np.ndarray | None, size: int, k: int, what: str) -> np.ndarray:
    if arr is None:
        raise InvalidColoringError(f"the result has no {what} colors")
    c = np.asarray(arr, dtype=np.int64)
    if c.shape != (size,):
        raise InvalidColoringError(f"expected {size} {what} colors, got shape {c.shape}")
    if c.size and (c.min() < -1 or c.max() >= k):
        bad = int(np.flatnonzero((c < -1) | (c >= k))[0])
        raise InvalidColoringError(f"{what} {bad} has color {int(c[bad])}, outside -1..{k - 1}")
    return c


def _first_duplicate(keys: np.ndarray) -> tuple[int, int] | None:
    """Positions of two equal keys, or ``None``."""
    if keys.size < 2:
        return None
    order = np.argsort(keys, kind="stable")
    same = np.flatnonzero(keys[order[1:]] == keys[order[:-1]])
    if same.size == 0:
        return None
    return int(order[same[0]]), int(order[same[0] + 1])


def _check_partition(net: np.ndarray, vertex: np.ndarray, colors: np.ndarray, names) -> None:
    """No two vertices of one color in one net; every vertex with a nonzero is seeded."""
    vname, nname = names
    c = colors[vertex]
    if c.size and c.min() < 0:
        bad = int(vertex[np.flatnonzero(c < 0)[0]])
        raise InvalidColoringError(f"{vname} {bad} has a nonzero but the neutral color")
    k = int(colors.max()) + 1 if colors.size else 0
    dup = _first_duplicate(net.astype(np.int64) * max(k, 1) + c)
    if dup is not None:
        a, b = dup
        raise InvalidColoringError(
            f"{vname}s {int(vertex[a])} and {int(vertex[b])} both have color {int(c[a])} "
            f"and share {nname} {int(net[a])}"
        )


def _count_lookup(group: np.ndarray, color: np.ndarray, k: int, qg, qc) -> np.ndarray:
    """Number of entries ``(group, color)`` equal to each query ``(qg, qc)`` (colored only)."""
    sel = color >= 0
    keys = np.sort(group[sel].astype(np.int64) * (k + 1) + color[sel])
    q = np.asarray(qg, dtype=np.int64) * (k + 1) + np.asarray(qc, dtype=np.int64)
    return np.searchsorted(keys, q, side="right") - np.searchsorted(keys, q, side="left")


def _symmetric_entries(pattern: SparsityPattern) -> tuple[np.ndarray, np.ndarray]:
    n = pattern.n
    r = np.asarray(pattern.rows, dtype=np.int64)
    c = np.asarray(pattern.cols, dtype=np.int64)
    keys = np.sort(np.concatenate([r * n + c, c * n + r]))
    if keys.size:
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    return keys // max(n, 1), keys % max(n, 1)


def _alone(group: np.ndarray, color: np.ndarray, k: int) -> np.ndarray:
    """Whether each entry is the only one of its (group, color) pair (``False`` if uncolored)."""
    return (color >= 0) & (_count_lookup(group, color, k, group, color) == 1)


def _mate(group, color, member, g0, c0, me) -> str:
    """A member other than ``me`` with group ``g0`` and color ``c0`` (for messages)."""
    hits = np.flatnonzero((group == g0) & (color == c0) & (member != me))
    return str(int(member[hits[0]])) if hits.size else "?"


def _reason(group, color, member, at: int, name: str, net: str, kind: str) -> str:
    c0 = int(color[at])
    me = int(member[at])
    if c0 < 0:
        return f"{name} {me} has the neutral color"
    mate = _mate(group, color, member, group[at], c0, me)
    return f"{name}s {me} and {mate} share {kind}color {c0} in {net} {int(group[at])}"


def _check_direct_symmetric(r: np.ndarray, c: np.ndarray, colors: np.ndarray, k: int) -> None:
    """Entry ``(i, j)`` is ``B[i, color(j)]`` or ``B[j, color(i)]`` alone (``B = H S``)."""
    cc = colors[c]
    ok = _alone(r, cc, k)
    n = colors.size
    keys = r * n + c
    t = np.searchsorted(keys, c * n + r)
    ok = ok | ok[t]
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return
    e, f = int(bad[0]), int(t[bad[0]])
    raise InvalidColoringError(
        f"nonzero ({int(r[e])}, {int(c[e])}) cannot be read directly: "
        + _reason(r, cc, c, e, "column", "row", "")
        + "; and "
        + _reason(r, cc, c, f, "column", "row", "")
    )


def _check_direct_bidirectional(rows, cols, ccolor, rcolor, kf: int, kr: int) -> None:
    """Entry ``(i, j)`` is alone in ``(A S_f)[i, fc(j)]`` or in ``(S_r.T A)[rc(i), j]``."""
    cc = ccolor[cols]
    rc = rcolor[rows]
    ok = _alone(rows, cc, kf) | _alone(cols, rc, kr)
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return
    e = int(bad[0])
    raise InvalidColoringError(
        f"nonzero ({int(rows[e])}, {int(cols[e])}) cannot be read directly: "
        + _reason(rows, cc, cols, e, "column", "row", "forward ")
        + "; and "
        + _reason(cols, rc, rows, e, "row", "column", "reverse ")
    )


def _check_acyclic(u: np.ndarray, w: np.ndarray, raw: np.ndarray, vname: str) -> None:
    """Distance-1 and no two-colored cycle in the coloring ``raw`` of the graph ``(u, w)``."""
    cu, cw = raw[u], raw[w]
    same = np.flatnonzero(cu == cw)
    if same.size:
        a, b = int(u[same[0]]), int(w[same[0]])
        raise InvalidColoringError(
            f"adjacent {vname}s {a} and {b} both have color {int(cu[same[0]])}"
        )
    if u.size == 0:
        return
    k = int(raw.max()) + 1
    pair = np.minimum(cu, cw) * k + np.maximum(cu, cw)
    nodes_u = pair * raw.size + u
    nodes_w = pair * raw.size + w
    allnodes = np.sort(np.concatenate([nodes_u, nodes_w]))
    allnodes = allnodes[np.r_[True, allnodes[1:] != allnodes[:-1]]]
    a = np.searchsorted(allnodes, nodes_u)
    b = np.searchsorted(allnodes, nodes_w)
    nv = allnodes.size
    g = sp.coo_array((np.ones(a.size), (a, b)), shape=(nv, nv)).tocsr()
    ncomp, label = connected_components(g, directed=False)
    edges_per = np.bincount(label[a], minlength=ncomp)
    nodes_per = np.bincount(label, minlength=ncomp)
    cyc = np.flatnonzero(edges_per >= nodes_per)
    if cyc.size == 0:
        return
    # Find an edge closing a cycle in the first offending component (error path only).
    in_comp = np.flatnonzero(label[a] == cyc[0])
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for e in in_comp:
        ra, rb = find(int(a[e])), find(int(b[e]))
        if ra == rb:
            x, y = int(u[e]), int(w[e])
            raise InvalidColoringError(
                f"{vname}s {x} and {y} close a cycle colored only with "
                f"{int(raw[x])} and {int(raw[y])}"
            )
        parent[ra] = rb


def random_values(result: ColoringResult, seed: int = 0) -> np.ndarray:
    """Random nonzero integers on the pattern, in its order.

    For symmetric problems the entries ``(i, j)`` and ``(j, i)`` get the same
    value (a Hessian is symmetric).
    """
    p = result.pattern
    rng = np.random.default_rng(seed)
    if not isinstance(result.problem, SymmetricProblem) or p.nnz == 0:
        return rng.integers(-999, 1000, size=p.nnz).astype(np.float64)
    r = np.asarray(p.rows, dtype=np.int64)
    c = np.asarray(p.cols, dtype=np.int64)
    pair = np.minimum(r, c) * p.n + np.maximum(r, c)
    order = np.argsort(pair, kind="stable")
    first = np.r_[True, pair[order][1:] != pair[order][:-1]]
    which = np.empty(pair.size, dtype=np.int64)
    which[order] = np.cumsum(first) - 1
    return rng.integers(1, 10**6, size=int(first.sum())).astype(np.float64)[which]


def check_coloring(pattern: SparsityPattern, result: ColoringResult) -> None:
    """Raise :class:`InvalidColoringError` unless ``result`` is a valid coloring of ``pattern``.

    Checks the coloring condition of the result's problem (naming two
    conflicting columns or rows on failure), that the decompression plan reads
    every nonzero exactly once, then that it recovers a random integer-valued
    matrix with this pattern exactly (this last step builds the dense compressed
    products, and is skipped when they exceed :data:`ROUNDTRIP_LIMIT` entries:
    e.g. one color per column of a 10^5-column pattern).
    """
    if not isinstance(result, ColoringResult):
        raise TypeError(f"expected a ColoringResult, got {type(result).__name__}")
    if pattern.shape != result.pattern.shape or pattern != result.pattern:
        raise InvalidColoringError("the result was computed for a different pattern")
    m, n = pattern.shape
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    problem = result.problem
    if isinstance(problem, ColumnProblem):
        colors = _colors(result.column_colors, n, result.num_forward, "column")
        _check_partition(rows, cols, colors, ("column", "row"))
    elif isinstance(problem, RowProblem):
        colors = _colors(result.row_colors, m, result.num_reverse, "row")
        _check_partition(cols, rows, colors, ("row", "column"))
    elif isinstance(problem, SymmetricProblem):
        colors = _colors(result.column_colors, n, result.num_forward, "column")
        r, c = _symmetric_entries(pattern)
        if problem.decompression == "direct":
            _check_direct_symmetric(r, c, colors, result.num_forward)
        else:
            seeded = (colors[r] >= 0) & (colors[c] >= 0) & (r < c)
            _check_acyclic(r[seeded], c[seeded], colors, "column")
            off = r < c
            _check_acyclic(r[off], c[off], np.asarray(result.symmetric_colors), "column")
    elif isinstance(problem, BidirectionalProblem):
        ccol = _colors(result.column_colors, n, result.num_forward, "column")
        rcol = _colors(result.row_colors, m, result.num_reverse, "row")
        if problem.decompression == "direct":
            _check_direct_bidirectional(
                rows, cols, ccol, rcol, result.num_forward, result.num_reverse
            )
        else:
            raw = np.asarray(result.symmetric_colors)
            _check_acyclic(cols, n + rows, raw, "vertex")
    else:
        raise InvalidColoringError(f"unknown problem {problem!r}")
    for given, k, what in (
        (result.column_colors, result.num_forward, "column"),
        (result.row_colors, result.num_reverse, "row"),
    ):
        if given is not None and k and np.bincount(given[given >= 0], minlength=k).min() == 0:
            raise InvalidColoringError(f"some {what} color in 0..{k - 1} is used by no {what}")
    _check_roundtrip(result)


#: the numeric round trip builds the dense compressed products: skipped above this size
ROUNDTRIP_LIMIT = 50_000_000


def _check_roundtrip(result: ColoringResult) -> None:
    try:
        result.plan.check_coverage()
    except AssertionError as err:
        raise InvalidColoringError(f"decompression plan: {err}") from None
    if result.plan.compressed_size > ROUNDTRIP_LIMIT:
        return  # the coloring condition was checked above; dense products would not fit
    values = random_values(result)
    got = result.decompress(result.compress(values))
    if not np.array_equal(got, values):
        k = int(np.flatnonzero(got != values)[0])
        i, j = int(result.pattern.rows[k]), int(result.pattern.cols[k])
        raise InvalidColoringError(
            f"decompression gives {got[k]} instead of {values[k]} at nonzero ({i}, {j})"
        )
