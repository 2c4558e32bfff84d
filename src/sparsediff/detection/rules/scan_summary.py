"""Exact scans without re-interpreting the body at every step.

When no value in a scan changes from step to step in a way detection could
use (no known carries such as counters, no known scanned inputs), every step
maps patterns the same way. The body is then interpreted *once*, with each
carry element and each element of one scanned slice seeded as a column of its
own (beyond the ``n`` tracked inputs), which gives the step's relation:

    carry_out = G_c ∪ R_cc(carry_in) ∪ R_cx(x_t),   y_t = G_y ∪ R_yc(carry_in) ∪ R_yx(x_t)

(``G``: what the constants contribute). When ``R_cc`` is the identity (each
carry element depends on itself only, as in ``h = tanh(a*h + x_t)``), the carry
entering step ``t`` is ``init ∪ ⋃_{s<t} (G_c ∪ R_cx(x_s))``: a running union,
one merge per step, and ``y_t`` for all steps is one sparse product. The result
is exactly what step-by-step propagation gives. Other bodies return ``None``
and are propagated step by step.
"""

from __future__ import annotations

import numpy as np

from ..deps import Deps, aggregate, index_dtype, row_range, take, union, vstack
from ..values import Val

__all__ = ["summarized_scan"]


def _widen(d: Deps | None, n_ext: int) -> Deps | None:
    return None if d is None else Deps(d.indptr, d.indices, n_ext)


def _split(d: Deps | None, size: int, n: int, lo: int, hi: int):
    """(global part with columns < n, pairs (row, local col - lo) for lo <= col < hi)."""
    if d is None:
        return None, (np.zeros(0, np.int64), np.zeros(0, np.int64))
    rows = d.row_ids().astype(np.int64)
    cols = d.indices.astype(np.int64)
    glob = cols < n
    g = Deps.from_pairs(rows[glob], cols[glob], size, n) if glob.any() else None
    sel = (cols >= lo) & (cols < hi)
    return g, (rows[sel], cols[sel] - lo)


def _running_loop(init: Deps | None, d: Deps | None, order: np.ndarray, size: int, n: int):
    """Reference form of :func:`_prefix_unions`: one merge per step."""
    length = order.size
    entering: list[Deps | None] = [None] * length
    cur = init
    for t in order:
        entering[t] = cur
        if d is not None:
            cur = union(cur, row_range(d, t * size, (t + 1) * size))
    return vstack(entering, [size] * length, n), cur


def _prefix_unions(init: Deps | None, d: Deps | None, order: np.ndarray, size: int, n: int):
    """Carry patterns entering every step, stacked by step index, and the final carry.

    ``d`` holds each step's contribution (row ``t * size + e``); ``order`` lists
    the steps in iteration order.  Element ``e`` entering step ``t`` depends on
    ``init[e]`` and on every column contributed to ``e`` by an earlier step.
    Each ``(e, column)`` pair is kept once with the first step that brings it;
    when, for every ``e``, the columns sorted by that first step are also sorted
    by column (recurrences over time do this), the entering rows are prefixes of
    one list per element and are gathered in one pass.  Otherwise the steps are
    merged one by one (:func:`_running_loop`).
    """
    length = order.size
    if d is None:
        if init is None:
            return None, None
        return take(init, np.tile(np.arange(size, dtype=np.int64), length)), init
    rank = np.empty(length, dtype=np.int64)
    rank[order] = np.arange(length, dtype=np.int64)
    rows = d.row_ids().astype(np.int64)
    elem = rows % size
    first = rank[rows // size] + 1  # 1 .. length
    cols = d.indices.astype(np.int64)
    if init is not None:
        elem = np.concatenate([init.row_ids().astype(np.int64), elem])
        first = np.concatenate([np.zeros(init.nnz, dtype=np.int64), first])
        cols = np.concatenate([init.indices.astype(np.int64), cols])
    # sort by (element, column, first); keep the earliest step of each pair
    srt = np.lexsort((first, cols, elem))
    elem, cols, first = elem[srt], cols[srt], first[srt]
    keep = np.ones(elem.size, dtype=bool)
    keep[1:] = (elem[1:] != elem[:-1]) | (cols[1:] != cols[:-1])
    elem, cols, first = elem[keep], cols[keep], first[keep]
    # within each element the columns are sorted; prefixes need first sorted too
    same = elem[1:] == elem[:-1]
    if bool((first[1:][same] < first[:-1][same]).any()):
        return _running_loop(init, d, order, size, n)
    span = length + 1
    key = elem * span + first
    base = np.searchsorted(key, np.arange(size, dtype=np.int64) * span, side="left")
    # entering step t (rank r): pairs with first <= r
    q = np.arange(size, dtype=np.int64)[None, :] * span + rank[:, None]
    lens = np.searchsorted(key, q.reshape(-1), side="right") - np.tile(base, length)
    total = int(lens.sum())
    dt = index_dtype(n, total + 1)
    indptr = np.empty(length * size + 1, dtype=dt)
    indptr[0] = 0
    np.cumsum(lens, out=indptr[1:])
    src = np.repeat(np.tile(base, length) - indptr[:-1].astype(np.int64), lens)
    src += np.arange(total, dtype=np.int64)
    stacked = Deps(indptr, cols.astype(dt)[src], n) if total else None
    ends = np.searchsorted(key, np.arange(size, dtype=np.int64) * span + length, side="right")
    flens = ends - base
    fptr = np.zeros(size + 1, dtype=index_dtype(n, cols.size + 1))
    np.cumsum(flens, out=fptr[1:])
    last = Deps(fptr, cols.astype(fptr.dtype), n) if cols.size else None
    return stacked, last


def summarized_scan(ctx, eqn, consts, init, xs, length=None):
    """The scan's outputs (carries, then stacked ``ys``) or ``None`` when the body
    is not an accumulation. ``length`` overrides the scan's (for the remaining
    steps of a scan whose first steps were propagated one by one)."""
    p = eqn.params
    nk = p["num_carry"]
    length = p["length"] if length is None else length
    body = p["jaxpr"]
    if length < 2 or any(v.known is not None or v.bounds is not None for v in init):
        return None
    if any(x.known is not None for x in xs):
        return None
    n = ctx.n
    c_sizes = [v.size for v in init]
    x_sizes = [int(np.prod(x.shape[1:], dtype=np.int64)) for x in xs]
    nc_tot, nx_tot = int(sum(c_sizes)), int(sum(x_sizes))
    n_ext = n + nc_tot + nx_tot
    c_off = np.concatenate([[0], np.cumsum(c_sizes)]).astype(np.int64)
    x_off = np.concatenate([[0], np.cumsum(x_sizes)]).astype(np.int64)

    sub = type(ctx)(n_ext, ctx.options)
    seeded_consts = [Val(v.shape, v.dtype, _widen(v.deps, n_ext), v.known) for v in consts]
    seeded_carry = [
        Val(v.shape, v.dtype, Deps.identity(v.size, n + int(c_off[k]), n_ext))
        for k, v in enumerate(init)
    ]
    seeded_x = [
        Val(x.shape[1:], x.dtype, Deps.identity(x_sizes[j], n + nc_tot + int(x_off[j]), n_ext))
        for j, x in enumerate(xs)
    ]
    outs = sub.eval_closed(body, seeded_consts + seeded_carry + seeded_x)
    if any(o.known is not None for o in outs[:nk]):
        return None

    # carry relation: must be the identity for the running-union form
    carry_global, carry_from_x = [], []
    for k, o in enumerate(outs[:nk]):
        size = c_sizes[k]
        g, (r_cc, c_cc) = _split(o.deps, size, n, n, n + nc_tot)
        _, (r_cx, c_cx) = _split(o.deps, size, n, n + nc_tot, n_ext)
        own = c_cc == r_cc + c_off[k]
        if o.deps is not None and not (own.all() and np.unique(r_cc).size == size):
            return None
        if o.deps is None and size and init[k].deps is not None:
            return None  # the carry is reset each step: not an accumulation
        if size and o.deps is not None and r_cc.size != size:
            return None
        carry_global.append(g)
        carry_from_x.append((r_cx, c_cx))

    order = np.arange(length - 1, -1, -1) if p["reverse"] else np.arange(length)
    # D[k]: contribution of each step to carry k, rows (t, element) in step index order
    contribs = []
    for k in range(nk):
        r_cx, c_cx = carry_from_x[k]
        size = c_sizes[k]
        parts = []
        for j, x in enumerate(xs):
            if x.deps is None:
                continue
            sel = (c_cx >= x_off[j]) & (c_cx < x_off[j + 1])
            if not sel.any():
                continue
            t = np.arange(length, dtype=np.int64)[:, None]
            out_rows = (t * size + r_cx[sel][None, :]).reshape(-1)
            in_rows = (t * x_sizes[j] + (c_cx[sel] - x_off[j])[None, :]).reshape(-1)
            parts.append(aggregate(x.deps, out_rows, in_rows, length * size))
        g = carry_global[k]
        if g is not None:
            parts.append(take(g, np.tile(np.arange(size, dtype=np.int64), length)))
        contribs.append(union(*parts))

    # running union in iteration order: carry entering each step, stacked by step index
    entering: list[Deps | None] = []
    final = []
    for k in range(nk):
        stacked, last = _prefix_unions(init[k].deps, contribs[k], order, c_sizes[k], n)
        entering.append(stacked)
        final.append(last)

    # outputs y_t for all steps at once
    ys = []
    for o, v in zip(outs[nk:], body.jaxpr.outvars[nk:]):
        shape = tuple(int(s) for s in v.aval.shape)
        size = int(np.prod(shape, dtype=np.int64))
        g, (r_c, c_c) = _split(o.deps, size, n, n, n + nc_tot)
        _, (r_x, c_x) = _split(o.deps, size, n, n + nc_tot, n_ext)
        parts = []
        t = np.arange(length, dtype=np.int64)[:, None]
        for k in range(nk):
            sel = (c_c >= c_off[k]) & (c_c < c_off[k + 1])
            if not sel.any():
                continue
            stacked = entering[k]
            if stacked is None:
                continue
            out_rows = (t * size + r_c[sel][None, :]).reshape(-1)
            in_rows = (t * c_sizes[k] + (c_c[sel] - c_off[k])[None, :]).reshape(-1)
            parts.append(aggregate(stacked, out_rows, in_rows, length * size))
        for j, x in enumerate(xs):
            sel = (c_x >= x_off[j]) & (c_x < x_off[j + 1])
            if x.deps is None or not sel.any():
                continue
            out_rows = (t * size + r_x[sel][None, :]).reshape(-1)
            in_rows = (t * x_sizes[j] + (c_x[sel] - x_off[j])[None, :]).reshape(-1)
            parts.append(aggregate(x.deps, out_rows, in_rows, length * size))
        if g is not None:
            parts.append(take(g, np.tile(np.arange(size, dtype=np.int64), length)))
        ys.append(Val((length, *shape), v.aval.dtype, union(*parts)))
    carries = [Val(v.shape, v.dtype, d) for v, d in zip(init, final)]
    return carries + ys
