"""Sparse arrays: the BCOO primitives of ``jax.experimental.sparse``.

A BCOO array of logical shape ``batch + sparse + dense`` (``n_batch``,
``n_sparse``, ``n_dense`` dimensions) is held in two buffers: ``data`` of shape
``batch' + (nse,) + dense`` and integer ``indices`` of shape
``batch'' + (nse, n_sparse)``, where a batch dimension of either buffer may
have length 1 (broadcast). Stored element ``k`` of batch ``b`` is the dense
block at sparse coordinates ``indices[b, k]``; duplicates add up and
out-of-bound coordinates (after numpy-style wrapping of negative ones, as
JAX's indexing does) are dropped.

**Known indices** (a constant matrix, or constant indices with input-dependent
data, e.g. ``BCOO((f(x), idx), shape=...)``): the rules enumerate the stored
entries with numpy and are exact in every layout (any ``n_batch`` and
``n_dense``, broadcast batch dimensions, duplicates, padding), with the few
conservative spots named below:

- ``bcoo_todense``: data element ``k`` flows to the dense position it is
  stored at; duplicates aggregate.
- ``bcoo_extract``: a gather of the dense operand at the stored positions
  (with ``assume_unique=False`` the repeated copies of an index, which JAX
  zeroes, keep the pattern of the first: conservative).
- ``bcoo_dot_general``: the contraction of the stored entries with the dense
  operand. Entries of a *known* operand (constant data, constant ``rhs``) that
  are zero contribute nothing, as in :mod:`.contractions`: a constant banded
  BCOO matrix times ``x`` gives the band. (Stored duplicates that cancel,
  e.g. ``1`` and ``-1`` at one position, are kept: conservative.)
- ``bcoo_dot_general_sampled``: the dense contraction evaluated only at the
  stored positions (this is what reverse mode emits for ``bcoo_dot_general``
  with input-dependent data, so Hessians stay sparse).
- ``bcoo_transpose``: a permutation of the data (exact whatever the indices).
- ``bcoo_sum_duplicates``, ``bcoo_sort_indices``: data element ``k`` moves to
  the output slot whose index equals its own. The output indices are computed
  by running the primitive itself on the known indices, and passed on as known
  values, so a later ``todense`` or product stays exact. ``sort_indices`` is
  exact for unique indices; equal indices (whose relative order an unstable
  sort may change) share the union of their data. ``sum_duplicates`` checks
  its mapping against the primitive's own output on unit data and falls back
  to the per-batch rule below if they disagree.
- ``bcoo_spdot_general`` (sparse times sparse) is exact for unbatched
  operands, with the same check as ``sum_duplicates`` (the dense fallback if it
  fails); with batch dimensions it uses the dense fallback.

**Unknown indices** (indices that depend on the input, e.g. those produced by
``bcoo_fromdense`` of an input-dependent matrix) make the rules conservative
but sound: every stored element may sit anywhere in its batch, so the data
is first united over the ``nse`` axis (per batch element and dense
coordinate), and an operand contracted against unknown positions is united
over the contracted axes. ``bcoo_dot_general_sampled`` and
``bcoo_spdot_general`` with unknown indices use the dense fallback.

``bcoo_fromdense`` of an input-dependent matrix: the indices are unknown
integers; data element ``k`` of a batch element is one of the matrix entries
of that batch element with the same dense coordinate and flat sparse position
at least ``k`` (``jnp.nonzero`` lists non-zeros in row-major order), or zero
(without sparse dimensions every slot holds the whole block, as in JAX's JVP).
``BCOO.sum_duplicates()`` also drops stored zeros, so its indices depend on the
data: it meets the unknown-index rules.

Negative coordinates follow the CPU semantics of JAX's own implementation (they
wrap around); GPU lowerings through cuSPARSE leave them undefined.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from .. import compat
from ..deps import Deps, aggregate, broadcast_rows, reduce_axes, take, union
from ..registry import register_rule, register_when_imported
from ..values import Val

__all__ = ["register", "SPARSE_RULES"]


def _prod(shape: Sequence[int]) -> int:
    return int(np.prod(tuple(shape), dtype=np.int64))


def _shape(aval: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in aval.shape)


def _known(v: Val) -> np.ndarray | None:
    return None if v.known is None else np.asarray(v.known)


def _fallback(eqn, invals):
    from ..interpreter import dense_fallback

    return dense_fallback([o.aval for o in eqn.outvars], invals, eqn.primitive.name)


def _int_val(aval: Any, known: np.ndarray | None) -> Val:
    """The (derivative-free) value of an integer output, with its known value if any."""
    return Val(_shape(aval), aval.dtype, None, known)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _apply_jit(primitive, params, *args):
    """The primitive as one compiled computation (cached per primitive and parameters;
    its eager implementation would compile every operation separately)."""
    return primitive.bind(*args, **dict(params))


def _bind_concrete(ctx, eqn, args: Sequence[Any]) -> list[np.ndarray] | None:
    """Run the primitive on concrete arguments (``None`` if too large or failing)."""
    total = sum(_prod(_shape(o.aval)) for o in eqn.outvars)
    if total > ctx.options.known_value_limit:
        return None
    try:
        with compat.eqn_context(eqn):
            try:
                params = tuple(sorted(eqn.params.items()))
                hash(params)
            except TypeError:  # unhashable parameters: compile without caching
                res = jax.jit(lambda *a: compat.bind_eqn(eqn, *a))(*args)
            else:
                res = _apply_jit(eqn.primitive, params, *args)
        res = res if eqn.primitive.multiple_results else [res]
        return [np.asarray(r) for r in res]
    except Exception:  # noqa: BLE001 - any failure just means "not known"
        return None


def _positions(shape: Sequence[int]) -> np.ndarray:
    return np.arange(_prod(shape), dtype=np.int64).reshape(tuple(shape))


def _permuted_positions(shape: Sequence[int], perm: Sequence[int]) -> np.ndarray:
    """Flat position in an array of ``shape`` of every element of ``transpose(., perm)``."""
    return np.transpose(_positions(shape), tuple(perm)).reshape(-1)


def _ravel(coords: Sequence[np.ndarray], axes: Sequence[int], shape: Sequence[int]):
    """Row-major flat index over ``axes`` of per-axis coordinate arrays."""
    acc: Any = np.int64(0)
    for a in axes:
        acc = acc * int(shape[a]) + coords[a]
    return acc


def _unravel(size: int, shape: Sequence[int]) -> list[np.ndarray]:
    """Coordinates of the flat positions ``0 .. size-1`` of ``shape`` (one array per axis)."""
    if not len(shape):
        return []
    return [c.astype(np.int64) for c in np.unravel_index(np.arange(size), tuple(shape))]


def _bcast_flat(bcoords: Sequence[np.ndarray], buf_batch: Sequence[int]) -> np.ndarray:
    """Flat batch index into a buffer whose batch dims may be 1 (broadcast)."""
    acc: Any = np.zeros_like(bcoords[0]) if bcoords else np.zeros(1, dtype=np.int64)
    for c, s in zip(bcoords, buf_batch):
        acc = acc * int(s) + (c if int(s) != 1 else 0)
    return np.asarray(acc, dtype=np.int64)


def _mask_deps(mask: np.ndarray) -> Deps | None:
    """A boolean matrix as a row pattern (rows: first axis)."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return Deps.from_pairs(rows, cols, mask.shape[0], mask.shape[1])


def _expand(mask: Deps | None, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(e, c)`` with ``mask[keys[e], c]`` (a negative key selects nothing)."""
    t = take(mask, keys)
    if t is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return t.row_ids().astype(np.int64), t.indices.astype(np.int64)


# -- stored entries ----------------------------------------------------------------
class _Entries(NamedTuple):
    """Every stored element ``(b, k, d)`` of a BCOO array over a batch grid.

    ``coords`` holds one coordinate array per logical axis (batch, sparse,
    dense), each broadcastable to ``(G, nse, D)``; ``valid`` (``(G, nse, 1)``)
    says whether the sparse coordinates are in bounds; ``src`` (``(G, nse, D)``)
    is the flat index of the element in the data buffer.
    """

    coords: list[np.ndarray]
    valid: np.ndarray
    src: np.ndarray
    grid: tuple[int, int, int]


def _entries(
    batch_shape: Sequence[int],
    data_shape: Sequence[int],
    indices_shape: Sequence[int],
    indices: np.ndarray | None,
    sparse_shape: Sequence[int],
) -> _Entries:
    nb = len(batch_shape)
    nse = int(indices_shape[nb])
    ns = len(sparse_shape)
    dense_shape = tuple(int(s) for s in data_shape[nb + 1 :])
    G, D = _prod(batch_shape), _prod(dense_shape)
    bcoords = _unravel(G, batch_shape)
    data_b = _bcast_flat(bcoords, data_shape[:nb]) if nb else np.zeros(1, dtype=np.int64)
    coords: list[np.ndarray] = [c.astype(np.int64)[:, None, None] for c in bcoords]
    if ns:
        assert indices is not None
        idx_b = _bcast_flat(bcoords, indices_shape[:nb]) if nb else np.zeros(1, dtype=np.int64)
        n_idx = _prod(indices_shape[:nb])
        sp = np.asarray(indices).astype(np.int64).reshape(n_idx, nse, ns)[idx_b]
        dims = np.asarray(sparse_shape, dtype=np.int64)
        sp = np.where(sp < 0, sp + dims, sp)  # JAX indexing wraps negative indices
        valid = np.all((sp >= 0) & (sp < dims), axis=-1)[:, :, None]
        coords += [sp[:, :, j][:, :, None] for j in range(ns)]
    else:
        valid = np.ones((G, nse, 1), dtype=bool)
    dcoords = _unravel(D, dense_shape)
    coords += [c.astype(np.int64)[None, None, :] for c in dcoords]
    k = np.arange(nse, dtype=np.int64)[None, :, None]
    d = np.arange(D, dtype=np.int64)[None, None, :]
    src = (data_b[:, None, None] * nse + k) * D + d
    return _Entries(coords, valid, src, (G, nse, D))


def _full(a, grid) -> np.ndarray:
    return np.broadcast_to(np.asarray(a, dtype=np.int64), grid).reshape(-1)


def _indices_known(indices: Val, n_sparse: int) -> np.ndarray | None:
    """Concrete indices, or an empty array when there are no sparse dimensions."""
    if n_sparse == 0:
        return np.zeros(indices.shape, dtype=np.int64)
    return _known(indices)


def _nse_reduced(data: Val, nb: int, n_sparse: int, target_shape) -> Deps | None:
    """Unknown indices: the union over stored elements, broadcast to ``target_shape``.

    ``target_shape`` is a logical shape ``batch + (anything,) * n_sparse + dense``
    (for ``todense``) or a data shape ``batch + (nse,) + dense``
    (``n_sparse=1``); every position gets the union of the data over the
    ``nse`` axis with the same batch element and dense coordinate.
    """
    red = reduce_axes(data.deps, data.shape, (nb,))
    dbatch, dense = data.shape[:nb], data.shape[nb + 1 :]
    pos = _positions(tuple(dbatch) + tuple(dense))
    pos = pos.reshape(tuple(dbatch) + (1,) * n_sparse + tuple(dense))
    pos = np.broadcast_to(pos, tuple(target_shape))
    return take(red, pos)


# -- todense / extract / transpose ---------------------------------------------------
def todense_rule(ctx, eqn, invals):
    data, indices = invals
    shape = tuple(int(s) for s in eqn.params["spinfo"].shape)
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    idx = _indices_known(indices, ns)
    if idx is None:
        return [_nse_reduced(data, nb, ns, shape)]
    ent = _entries(shape[:nb], data.shape, indices.shape, idx, shape[nb : nb + ns])
    out = _ravel(ent.coords, range(len(shape)), shape)
    valid = np.broadcast_to(ent.valid, ent.grid).reshape(-1)
    out = _full(out, ent.grid)[valid]
    src = ent.src.reshape(-1)[valid]
    return [aggregate(data.deps, out, src, _prod(shape))]


def extract_rule(ctx, eqn, invals):
    indices, arr = invals
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    shape = arr.shape
    out_shape = _shape(eqn.outvars[0].aval)
    idx = _indices_known(indices, ns)
    if idx is None:
        red = reduce_axes(arr.deps, shape, tuple(range(nb, nb + ns)))
        pos = _positions(tuple(shape[:nb]) + tuple(shape[nb + ns :]))
        pos = pos.reshape(tuple(shape[:nb]) + (1,) + tuple(shape[nb + ns :]))
        return [take(red, np.broadcast_to(pos, out_shape))]
    ent = _entries(shape[:nb], out_shape, indices.shape, idx, shape[nb : nb + ns])
    pos = _ravel(ent.coords, range(len(shape)), shape)
    pos = np.where(ent.valid, pos, -1)
    return [take(arr.deps, np.broadcast_to(pos, ent.grid))]


def transpose_rule(ctx, eqn, invals):
    data, indices = invals
    perm = tuple(int(p) for p in eqn.params["permutation"])
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    batch_perm = perm[:nb]
    dense_perm = [p - nb - ns for p in perm[nb + ns :]]
    axes = (*batch_perm, nb, *(d + nb + 1 for d in dense_perm))
    data_out = take(data.deps, _permuted_positions(data.shape, axes))
    idx = _known(indices)
    idx_out = None
    if idx is not None:
        sparse_perm = [p - nb for p in perm[nb : nb + ns]]
        idx_out = np.transpose(idx[..., sparse_perm], (*batch_perm, nb, nb + 1))
    return [data_out, _int_val(eqn.outvars[1].aval, idx_out)]


# -- contractions ----------------------------------------------------------------------
def dot_general_rule(ctx, eqn, invals):
    """``bcoo_dot_general(data, indices, rhs)``: ``dot_general(todense(lhs), rhs)``."""
    data, indices, rhs = invals
    shape = tuple(int(s) for s in eqn.params["lhs_spinfo"].shape)
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lc, rc, lb, rb = (tuple(int(a) for a in t) for t in (lc, rc, lb, rb))
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    lfree = [a for a in range(len(shape)) if a not in lc and a not in lb]
    rfree = [a for a in range(len(rhs.shape)) if a not in rc and a not in rb]
    B = _prod([shape[a] for a in lb])
    M = _prod([shape[a] for a in lfree])
    K = _prod([shape[a] for a in lc])
    N = _prod([rhs.shape[a] for a in rfree])
    out_shape = _shape(eqn.outvars[0].aval)
    out_size = B * M * N
    rperm = (*rb, *rc, *rfree)
    idx = _indices_known(indices, ns)
    parts = []
    if idx is None:
        if data.deps is not None:
            parts.append(_dot_lhs_unknown(data, shape, nb, ns, lb, lfree, lc, rfree, out_shape))
        if rhs.deps is not None:
            pr = take(rhs.deps, _permuted_positions(rhs.shape, rperm))
            cols = reduce_axes(pr, (B, K, N), (1,))
            parts.append(broadcast_rows(cols, (B, 1, N), (B, M, N)))
        return [union(*parts)]
    ent = _entries(shape[:nb], data.shape, indices.shape, idx, shape[nb : nb + ns])
    valid = np.broadcast_to(ent.valid, ent.grid).reshape(-1)
    ob = _full(_ravel(ent.coords, lb, shape), ent.grid)[valid]
    lf = _full(_ravel(ent.coords, lfree, shape), ent.grid)[valid]
    c = _full(_ravel(ent.coords, lc, shape), ent.grid)[valid]
    src = ent.src.reshape(-1)[valid]
    base = ob * M + lf  # row of the output in (B*M, N)
    rk = ob * K + c  # row of the canonical rhs in (B*K, N)
    data_known = _known(data)
    rhs_known = _known(rhs)
    if data.deps is not None:
        if rhs_known is None:
            per_row = aggregate(data.deps, base, src, B * M)
            parts.append(take(per_row, np.repeat(np.arange(B * M, dtype=np.int64), N)))
        else:
            mask = np.transpose(rhs_known != 0, rperm).reshape(B * K, N)
            e, n = _expand(_mask_deps(mask), rk)
            parts.append(aggregate(data.deps, base[e] * N + n, src[e], out_size))
    if rhs.deps is not None:
        if data_known is not None:
            keep = np.asarray(data_known).reshape(-1)[src] != 0
            base, rk = base[keep], rk[keep]
        rpos = _permuted_positions(rhs.shape, rperm)
        n = np.arange(N, dtype=np.int64)[None, :]
        out_rows = base[:, None] * N + n
        in_rows = rpos[rk[:, None] * N + n]
        parts.append(aggregate(rhs.deps, out_rows, in_rows, out_size))
    return [union(*parts)]


def _dot_lhs_unknown(data, shape, nb, ns, lb, lfree, lc, rfree, out_shape):
    """Data part of ``bcoo_dot_general`` with unknown indices.

    Any stored element may sit at any sparse position of its batch element:
    the lhs is treated as dense, every position holding the union of the data
    over ``nse`` (same batch element, same dense coordinate); that union is
    contracted over ``lc`` and broadcast over the free sparse and rhs axes.
    """
    red = reduce_axes(data.deps, data.shape, (nb,))
    dbatch, dense = data.shape[:nb], data.shape[nb + 1 :]
    red_shape = tuple(shape[:nb]) + (1,) * ns + tuple(shape[nb + ns :])
    pos = _positions(tuple(dbatch) + tuple(dense))
    pos = pos.reshape(tuple(dbatch) + (1,) * ns + tuple(dense))
    pos = np.broadcast_to(pos, red_shape)
    pos = np.transpose(pos, (*lb, *lfree, *lc))
    Bs = _prod([red_shape[a] for a in lb])
    Mr = _prod([red_shape[a] for a in lfree])
    Kr = _prod([red_shape[a] for a in lc])
    rows = np.repeat(np.arange(Bs * Mr, dtype=np.int64), Kr)
    per_row = aggregate(red, rows, pos.reshape(-1), Bs * Mr)
    in_shape = tuple(red_shape[a] for a in lb) + tuple(red_shape[a] for a in lfree)
    in_shape = in_shape + (1,) * len(rfree)
    return broadcast_rows(per_row, in_shape, out_shape)


def dot_general_sampled_rule(ctx, eqn, invals):
    """``bcoo_dot_general_sampled(A, B, indices)``: ``extract(indices, dot_general(A, B))``."""
    A, Bv, indices = invals
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lc, rc, lb, rb = (tuple(int(a) for a in t) for t in (lc, rc, lb, rb))
    afree = [a for a in range(len(A.shape)) if a not in lc and a not in lb]
    bfree = [a for a in range(len(Bv.shape)) if a not in rc and a not in rb]
    nbt = len(lb)
    Bt = _prod([A.shape[a] for a in lb])
    M = _prod([A.shape[a] for a in afree])
    K = _prod([A.shape[a] for a in lc])
    N = _prod([Bv.shape[a] for a in bfree])
    prod_shape = (
        tuple(A.shape[a] for a in lb)
        + tuple(A.shape[a] for a in afree)
        + tuple(Bv.shape[a] for a in bfree)
    )
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    idx = _indices_known(indices, ns)
    if idx is None:
        return _fallback(eqn, invals)
    out_shape = _shape(eqn.outvars[0].aval)
    ent = _entries(prod_shape[:nb], out_shape, indices.shape, idx, prod_shape[nb : nb + ns])
    nd = len(prod_shape)
    valid = np.broadcast_to(ent.valid, ent.grid).reshape(-1)
    ob = _full(_ravel(ent.coords, range(nbt), prod_shape), ent.grid)
    m = _full(_ravel(ent.coords, range(nbt, nbt + len(afree)), prod_shape), ent.grid)
    n = _full(_ravel(ent.coords, range(nbt + len(afree), nd), prod_shape), ent.grid)
    e_all = np.arange(valid.size, dtype=np.int64)
    out_size = valid.size
    aperm = (*lb, *afree, *lc)
    bperm = (*rb, *rc, *bfree)
    apos = _permuted_positions(A.shape, aperm)  # canonical (Bt, M, K) -> A
    bpos = _permuted_positions(Bv.shape, bperm)  # canonical (Bt, K, N) -> B
    a_known, b_known = _known(A), _known(Bv)
    parts = []
    if A.deps is not None:
        if b_known is None:
            ra = reduce_axes(take(A.deps, apos), (Bt, M, K), (2,))
            parts.append(take(ra, np.where(valid, ob * M + m, -1)))
        else:
            bmask = np.transpose(b_known != 0, bperm).reshape(Bt, K, N)
            bmask = np.transpose(bmask, (0, 2, 1)).reshape(Bt * N, K)
            e, cc = _expand(_mask_deps(bmask), np.where(valid, ob * N + n, -1))
            in_rows = apos[(ob[e] * M + m[e]) * K + cc]
            parts.append(aggregate(A.deps, e_all[e], in_rows, out_size))
    if Bv.deps is not None:
        if a_known is None:
            rbd = reduce_axes(take(Bv.deps, bpos), (Bt, K, N), (1,))
            parts.append(take(rbd, np.where(valid, ob * N + n, -1)))
        else:
            amask = np.transpose(a_known != 0, aperm).reshape(Bt * M, K)
            e, cc = _expand(_mask_deps(amask), np.where(valid, ob * M + m, -1))
            in_rows = bpos[(ob[e] * K + cc) * N + n[e]]
            parts.append(aggregate(Bv.deps, e_all[e], in_rows, out_size))
    return [union(*parts)]


def spdot_general_rule(ctx, eqn, invals):
    """``bcoo_spdot_general``: sparse times sparse, giving BCOO ``(data, indices)``.

    Exact for unbatched operands with known indices: each output data element
    is the sum of the products of the stored pairs whose contracted coordinates
    agree and whose free coordinates form its index. Batched operands or
    unknown indices: dense fallback for the data.
    """
    ld, li, rd, ri = invals
    out_avals = [o.aval for o in eqn.outvars]
    lidx, ridx = _known(li), _known(ri)
    if lidx is None or ridx is None:
        return [_fallback(eqn, invals)[0], _int_val(out_avals[1], None)]
    ones = [np.ones(ld.shape, np.float32), lidx, np.ones(rd.shape, np.float32), ridx]
    res = _bind_concrete(ctx, eqn, ones)
    out_idx = None if res is None else res[1]
    idx_val = _int_val(out_avals[1], out_idx)
    if res is None or len(li.shape) != 2 or len(ri.shape) != 2:
        return [_fallback(eqn, invals)[0], idx_val]
    counts, out_idx = res
    (lc, rc), _ = eqn.params["dimension_numbers"]
    lc, rc = [int(a) for a in lc], [int(a) for a in rc]
    lshape = tuple(int(s) for s in eqn.params["lhs_spinfo"].shape)
    rshape = tuple(int(s) for s in eqn.params["rhs_spinfo"].shape)
    lf = [a for a in range(len(lshape)) if a not in lc]
    rf = [a for a in range(len(rshape)) if a not in rc]
    lidx, ridx = lidx.astype(np.int64), ridx.astype(np.int64)
    # Pairs (i, j) whose contracted coordinates agree and are below the shape.
    li_c, ri_c = lidx[:, lc], ridx[:, rc]
    lvalid = np.all(li_c < np.asarray([lshape[a] for a in lc], dtype=np.int64), axis=1)
    rvalid = np.all(ri_c < np.asarray([rshape[a] for a in rc], dtype=np.int64), axis=1)
    keys, nkeys = _group_ids(li_c, ri_c)
    i_rows, j_rows = _join(keys[: len(li_c)], keys[len(li_c) :], lvalid, rvalid, nkeys)
    out_shape = np.asarray([lshape[a] for a in lf] + [rshape[a] for a in rf], dtype=np.int64)
    rows = np.concatenate([lidx[i_rows][:, lf], ridx[j_rows][:, rf]], axis=1)
    oob = np.any(rows >= out_shape, axis=1)
    rows = np.where(oob[:, None], out_shape[None, :], rows)
    slot = _first_slot(rows, np.asarray(out_idx).astype(np.int64).reshape(-1, len(out_shape)))
    keep = slot >= 0
    n_out = _prod(out_avals[0].shape)
    mine = np.bincount(slot[keep], minlength=n_out)
    if not np.array_equal(mine, np.rint(counts.reshape(-1)).astype(np.int64)):
        return [_fallback(eqn, invals)[0], idx_val]  # unexpected semantics: stay sound
    i_rows, j_rows, slot = i_rows[keep], j_rows[keep], slot[keep]
    parts = []
    l_known, r_known = _known(ld), _known(rd)
    if ld.deps is not None:
        sel = np.ones(slot.size, bool) if r_known is None else r_known.reshape(-1)[j_rows] != 0
        parts.append(aggregate(ld.deps, slot[sel], i_rows[sel], n_out))
    if rd.deps is not None:
        sel = np.ones(slot.size, bool) if l_known is None else l_known.reshape(-1)[i_rows] != 0
        parts.append(aggregate(rd.deps, slot[sel], j_rows[sel], n_out))
    return [union(*parts), idx_val]


def _join(kl, kr, lvalid, rvalid, nkeys):
    """All pairs ``(i, j)`` with ``kl[i] == kr[j]``, both valid (a sparse product)."""
    import scipy.sparse as sp

    li = np.flatnonzero(lvalid)
    rj = np.flatnonzero(rvalid)
    lmat = sp.csr_array((np.ones(li.size, np.int64), (li, kl[li])), shape=(len(kl), max(nkeys, 1)))
    rmat = sp.csr_array((np.ones(rj.size, np.int64), (kr[rj], rj)), shape=(max(nkeys, 1), len(kr)))
    prod = sp.coo_array(lmat @ rmat)
    return prod.row.astype(np.int64), prod.col.astype(np.int64)


def _first_slot(rows: np.ndarray, out_rows: np.ndarray) -> np.ndarray:
    """For each row, the first output slot holding an equal row (-1: none)."""
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    ids, _ = _group_ids(rows, out_rows)
    rid, oid = ids[: len(rows)], ids[len(rows) :]
    first = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
    uo, where = np.unique(oid, return_index=True)
    first[uo] = where
    return first[rid]


def _group_ids(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids of the rows of ``a`` then ``b`` (equal rows share an id), and their number."""
    both = np.concatenate([a, b]).astype(np.int64)
    if both.shape[1] == 0 or both.shape[0] == 0:
        return np.zeros(len(both), dtype=np.int64), min(len(both), 1)
    lo = both.min(axis=0)
    span = both.max(axis=0) - lo + 1
    if int(np.prod([int(x) for x in span], dtype=object)) < 2**62:
        key = np.zeros(len(both), dtype=np.int64)  # mixed-radix code of each row
        for j in range(both.shape[1]):
            key = key * span[j] + (both[:, j] - lo[j])
        _, inv = np.unique(key, return_inverse=True)
    else:  # lexicographic sort of the rows
        order = np.lexsort(both.T[::-1])
        rows = both[order]
        new = np.concatenate([[False], np.any(rows[1:] != rows[:-1], axis=1)])
        inv = np.empty(len(both), dtype=np.int64)
        inv[order] = np.cumsum(new)
    inv = inv.reshape(-1).astype(np.int64)
    return inv, int(inv.max()) + 1


# -- reorderings: sort_indices, sum_duplicates -----------------------------------------
def _regroup(data: Val, nb: int, grid_batch, idx_shape, in_rows, out_idx, first_only: bool):
    """Output slot ``(b, o, d)`` gets the union of the data ``(b, k, d)`` stored at the
    same index as slot ``o`` (only the first such slot when ``first_only``).

    ``in_rows``: the (possibly clamped) index rows of the input, ``(Gi, nse, ns)``
    over the indices' own batch; ``out_idx``: the output indices, ``(Go, nse_out, ns)``.
    Returns the pattern and the number of input elements each slot receives.
    """
    nse = int(in_rows.shape[-2])
    ns = int(in_rows.shape[-1])
    nse_out = int(out_idx.shape[-2])
    G = _prod(grid_batch)
    bcoords = _unravel(G, grid_batch)
    zero = np.zeros(G, dtype=np.int64)
    ib_in = _bcast_flat(bcoords, idx_shape[:nb]) if nb else zero
    ib_out = _bcast_flat(bcoords, out_idx.shape[:nb]) if nb else zero
    db = _bcast_flat(bcoords, data.shape[:nb]) if nb else zero
    dense = data.shape[nb + 1 :]
    D = _prod(dense)
    rin = in_rows.reshape(_prod(idx_shape[:nb]), nse, ns)[ib_in]  # (G, nse, ns)
    rout = out_idx.reshape(_prod(out_idx.shape[:nb]), nse_out, ns)[ib_out]  # (G, nse_out, ns)
    g = np.arange(G, dtype=np.int64)
    key_in = np.concatenate([np.broadcast_to(g[:, None, None], (G, nse, 1)), rin], axis=2)
    key_out = np.concatenate([np.broadcast_to(g[:, None, None], (G, nse_out, 1)), rout], axis=2)
    ids, n_ids = _group_ids(key_in.reshape(-1, ns + 1), key_out.reshape(-1, ns + 1))
    id_in, id_out = ids[: G * nse], ids[G * nse :]
    if first_only:
        keep = np.zeros(id_out.size, dtype=bool)
        keep[np.unique(id_out, return_index=True)[1]] = True
        id_out = np.where(keep, id_out, -1)
    counts_per_id = np.bincount(id_in, minlength=max(n_ids, 1))
    slot_counts = np.where(id_out >= 0, counts_per_id[np.maximum(id_out, 0)], 0)
    d = np.arange(D, dtype=np.int64)[None, :]
    src = ((db[:, None] * nse + np.arange(nse, dtype=np.int64)[None, :]).reshape(-1, 1)) * D + d
    groups = aggregate(data.deps, (id_in[:, None] * D + d).reshape(-1), src.reshape(-1), n_ids * D)
    rows = np.where(id_out[:, None] >= 0, id_out[:, None] * D + d, -1)
    return take(groups, rows.reshape(-1)), slot_counts.reshape(G, nse_out)


def _per_batch_union(data: Val, nb: int, out_shape) -> Deps | None:
    """Unknown destinations: slot ``(b, o, d)`` gets the union over ``k`` of ``(b, k, d)``."""
    return _nse_reduced(data, nb, 1, out_shape)


def sort_indices_rule(ctx, eqn, invals):
    data, indices = invals
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    out_avals = [o.aval for o in eqn.outvars]
    idx = _known(indices)
    if ns == 0:  # the primitive returns its operands unchanged
        return [data.deps, _int_val(out_avals[1], idx)]
    out_shape = _shape(out_avals[0])
    if idx is None:
        return [_per_batch_union(data, nb, out_shape), _int_val(out_avals[1], None)]
    res = _bind_concrete(ctx, eqn, [np.zeros(data.shape, np.float32), idx])
    if res is None:
        return [_per_batch_union(data, nb, out_shape), _int_val(out_avals[1], None)]
    out_idx = res[1]
    rows = np.asarray(idx).astype(np.int64)
    deps, _ = _regroup(data, nb, out_shape[:nb], indices.shape, rows, out_idx, False)
    return [deps, _int_val(out_avals[1], out_idx)]


def sum_duplicates_rule(ctx, eqn, invals):
    data, indices = invals
    nb = len(indices.shape) - 2
    ns = int(indices.shape[-1])
    out_avals = [o.aval for o in eqn.outvars]
    out_shape = _shape(out_avals[0])
    idx = _indices_known(indices, ns)
    if idx is None:
        return [_per_batch_union(data, nb, out_shape), _int_val(out_avals[1], None)]
    res = _bind_concrete(ctx, eqn, [np.ones(data.shape, np.float32), idx])
    if res is None:
        return [_per_batch_union(data, nb, out_shape), _int_val(out_avals[1], None)]
    counts, out_idx = res
    shape = tuple(int(s) for s in eqn.params["spinfo"].shape)
    fill = np.asarray(shape[nb : nb + ns], dtype=np.int64)
    rows = np.asarray(idx).astype(np.int64)
    if ns:  # out-of-bound rows are replaced by the fill row before deduplication
        oob = np.any(rows >= fill, axis=-1, keepdims=True)
        rows = np.where(oob, fill, rows)
    deps, slot_counts = _regroup(data, nb, out_shape[:nb], indices.shape, rows, out_idx, True)
    if counts.size:  # check the mapping against the primitive's own sums of ones
        theirs = np.rint(counts.reshape(*slot_counts.shape, -1)[..., 0]).astype(np.int64)
        if not np.array_equal(slot_counts, theirs):
            deps = _per_batch_union(data, nb, out_shape)  # unexpected semantics: stay sound
    return [deps, _int_val(out_avals[1], out_idx)]


# -- fromdense -----------------------------------------------------------------------
def fromdense_rule(ctx, eqn, invals):
    """``bcoo_fromdense(mat)`` with input-dependent ``mat``: the indices are unknown.

    Data element ``k`` of batch element ``b`` (dense coordinate ``d``) is the
    ``k``-th non-zero of that batch element in row-major order, or zero: it
    depends on the entries ``mat[b, s, d]`` with flat sparse position ``s >= k``
    (slots ``k`` beyond the number of sparse positions are always zero).
    """
    (mat,) = invals
    p = eqn.params
    nb, nd, nse = int(p["n_batch"]), int(p["n_dense"]), int(p["nse"])
    shape = mat.shape
    ns = len(shape) - nb - nd
    out_avals = [o.aval for o in eqn.outvars]
    G = _prod(shape[:nb])
    S = _prod(shape[nb : nb + ns])
    D = _prod(shape[nb + ns :])
    if ns == 0:
        # No sparse dimensions: every slot extracts the whole block. The primal zeroes
        # slots k >= 1, but the JVP (an extract at the same indices) does not.
        k = np.arange(nse, dtype=np.int64)
        s = np.zeros(nse, dtype=np.int64)
    else:
        kmax = min(nse, S)
        lens = S - np.arange(kmax, dtype=np.int64)  # positions s in [k, S)
        k = np.repeat(np.arange(kmax, dtype=np.int64), lens)
        starts = np.repeat(np.cumsum(lens) - lens, lens)
        s = k + (np.arange(k.size, dtype=np.int64) - starts)
    gb = np.arange(G, dtype=np.int64)[:, None, None]
    d = np.arange(D, dtype=np.int64)[None, None, :]
    out_rows = (gb * nse + k[None, :, None]) * D + d
    in_rows = (gb * S + s[None, :, None]) * D + d
    grid = (G, k.size, D)
    data_deps = aggregate(mat.deps, _full(out_rows, grid), _full(in_rows, grid), G * nse * D)
    return [data_deps, _int_val(out_avals[1], None)]


#: rule by attribute name in ``jax.experimental.sparse.bcoo``
SPARSE_RULES = {
    "bcoo_todense_p": todense_rule,
    "bcoo_fromdense_p": fromdense_rule,
    "bcoo_extract_p": extract_rule,
    "bcoo_transpose_p": transpose_rule,
    "bcoo_dot_general_p": dot_general_rule,
    "bcoo_dot_general_sampled_p": dot_general_sampled_rule,
    "bcoo_spdot_general_p": spdot_general_rule,
    "bcoo_sort_indices_p": sort_indices_rule,
    "bcoo_sum_duplicates_p": sum_duplicates_rule,
}


def register() -> None:
    """Registers the rules once ``jax.experimental.sparse`` is imported (it imports
    SciPy's sparse linear algebra, which detection does not need otherwise)."""
    register_when_imported("jax.experimental.sparse.bcoo", _register_now)


def _register_now() -> None:
    try:
        from jax.experimental.sparse import bcoo
    except Exception:  # noqa: BLE001 - jax.experimental.sparse missing or broken
        return
    for attr, rule in SPARSE_RULES.items():
        prim = getattr(bcoo, attr, None)
        if prim is not None:
            register_rule(prim, rule)
