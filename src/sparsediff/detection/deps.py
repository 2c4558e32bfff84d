"""Dependency patterns: the abstract value that detection propagates.

A :class:`Deps` is the sparsity pattern of one variable's Jacobian with respect
to the ``n`` tracked input elements: a boolean matrix of shape
``(size of the variable, n)`` stored as compressed sparse rows (``indptr``,
``indices``), always *canonical* (column indices sorted and unique in every
row). Every operation below is a whole-array operation whose cost grows with
the number of stored entries; none loops over elements in Python.

``None`` stands for the all-empty pattern of any size; helpers accept it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "Deps",
    "index_dtype",
    "take",
    "union",
    "aggregate",
    "broadcast_rows",
    "reduce_axes",
    "reduce_all",
    "vstack",
]


def _scipy_sparse():
    """``scipy.sparse``, imported when a pattern first needs it (large unions and
    products): small programs are detected without loading SciPy."""
    import scipy.sparse

    return scipy.sparse


def index_dtype(*bounds: int) -> type[np.integer]:
    """int32 when every bound fits, else int64."""
    return np.int32 if max(bounds, default=0) < np.iinfo(np.int32).max else np.int64


class Deps:
    """Immutable CSR boolean matrix ``(size, n)`` with canonical rows."""

    __slots__ = ("indptr", "indices", "n")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n: int):
        self.indptr = indptr
        self.indices = indices
        self.n = n

    # -- constructors ------------------------------------------------------
    @staticmethod
    def identity(size: int, offset: int, n: int) -> Deps:
        """Element ``i`` depends on input ``offset + i``."""
        dt = index_dtype(n, size + 1)
        return Deps(np.arange(size + 1, dtype=dt), np.arange(offset, offset + size, dtype=dt), n)

    @staticmethod
    def from_scipy(mat: sp.csr_array | sp.csr_matrix) -> Deps:
        mat.sum_duplicates()  # also sorts indices
        return Deps(mat.indptr, mat.indices, mat.shape[1])

    @staticmethod
    def from_pairs(rows: np.ndarray, cols: np.ndarray, size: int, n: int) -> Deps:
        """Pattern with the given ``(row, col)`` entries (any order, duplicates allowed)."""
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        sp = _scipy_sparse()
        mat = sp.csr_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(size, n))
        return Deps.from_scipy(mat)

    # -- queries -------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.indptr.size - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row_lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_scipy(self) -> sp.csr_array:
        data = np.ones(self.indices.size, dtype=bool)
        sp = _scipy_sparse()
        mat = sp.csr_array((data, self.indices, self.indptr), shape=(self.size, self.n), copy=False)
        mat.has_sorted_indices = True
        mat.has_canonical_format = True
        return mat

    def row_ids(self) -> np.ndarray:
        """Row index of every stored entry (COO rows)."""
        return np.repeat(np.arange(self.size, dtype=self.indices.dtype), self.row_lengths())

    def todense(self) -> np.ndarray:
        out = np.zeros((self.size, self.n), dtype=bool)
        out[self.row_ids(), self.indices] = True
        return out

    def __repr__(self) -> str:
        return f"Deps(size={self.size}, n={self.n}, nnz={self.nnz})"


def _nnz(d: Deps | None) -> int:
    return 0 if d is None else d.nnz


def take(d: Deps | None, idx: np.ndarray) -> Deps | None:
    """Rows ``d[idx]``; a negative index gives an empty row.

    ``idx`` may have any shape; it is flattened. Cost: O(len(idx) + entries taken).
    """
    if d is None:
        return None
    idx = np.asarray(idx).reshape(-1)
    if idx.size == 0:
        return Deps(np.zeros(1, dtype=d.indptr.dtype), d.indices[:0], d.n)
    if idx.size <= _FEW:
        return _take_few(d, idx.tolist())
    if idx.size == d.size and idx[0] == 0 and bool((np.diff(idx) == 1).all()):
        return d  # the identity gather (immutable patterns are shared)
    valid = idx >= 0
    all_valid = bool(valid.all())
    safe = idx if all_valid else np.where(valid, idx, 0)
    starts = d.indptr[safe]
    lens = d.indptr[safe + 1] - starts
    if not all_valid:
        lens = np.where(valid, lens, 0)
    total = int(lens.sum())
    dt = index_dtype(d.n, total + 1)
    indptr = np.empty(idx.size + 1, dtype=dt)
    indptr[0] = 0
    np.cumsum(lens, out=indptr[1:])
    if total == 0:
        return None
    if total == idx.size and bool((lens == 1).all()):
        # one entry per row (identity-like patterns, the common case): no ranks needed
        return Deps(indptr, d.indices[starts], d.n)
    # Position in d.indices of every gathered entry: start of its source row
    # plus its rank inside the row.
    shift = np.repeat(starts.astype(np.int64) - indptr[:-1], lens)
    src = shift + np.arange(total, dtype=np.int64)
    return Deps(indptr, d.indices[src], d.n)


#: gathers of at most this many rows run as a Python loop (numpy's per-call
#: overhead dominates there)
_FEW = 16


def _take_few(d: Deps, rows: list[int]) -> Deps | None:
    if len(rows) == d.size and rows == list(range(d.size)):
        return d
    ip = d.indptr
    ptr = [0]
    spans = []
    for r in rows:
        if r >= 0:
            a, b = int(ip[r]), int(ip[r + 1])
            if b > a:
                spans.append((a, b))
                ptr.append(ptr[-1] + b - a)
                continue
        ptr.append(ptr[-1])
    if not spans:
        return None
    dt = index_dtype(d.n, ptr[-1] + 1)
    if len(spans) == 1:
        indices = d.indices[spans[0][0] : spans[0][1]]
    else:
        indices = np.concatenate([d.indices[a:b] for a, b in spans])
    return Deps(np.array(ptr, dtype=dt), indices.astype(dt, copy=False), d.n)


def row_range(d: Deps | None, lo: int, hi: int) -> Deps | None:
    """Rows ``lo:hi`` (a view of the index array, no gather)."""
    if d is None:
        return None
    start, stop = int(d.indptr[lo]), int(d.indptr[hi])
    if stop == start:
        return None
    return Deps(d.indptr[lo : hi + 1] - d.indptr[lo], d.indices[start:stop], d.n)


def union(*ds: Deps | None) -> Deps | None:
    """Row-wise union of patterns of equal size (``None`` entries skipped)."""
    present = [d for d in ds if d is not None and d.nnz > 0]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    size = present[0].size
    for d in present[1:]:
        if d.size != size:
            raise ValueError(f"union of patterns with sizes {size} and {d.size}")
    if all(d is present[0] for d in present[1:]):
        return present[0]
    if size == 1:
        return _union_rows(present)
    total = sum(d.nnz for d in present)
    if total <= _SMALL or (size <= 64 and total <= 1_000_000):
        return _union_small(present, size)
    acc = present[0].to_scipy()
    for d in present[1:]:
        # canonical operands give a canonical sum (sorted, unique): no re-check needed
        acc = acc + d.to_scipy()
    return Deps(acc.indptr, acc.indices, present[0].n)


#: below this many entries, unions are done with a numpy sort (no scipy overhead)
_SMALL = 4096


def _union_rows(ds: list[Deps]) -> Deps:
    """Union of single-row patterns by sorted merges (linear in the row length)."""
    n = ds[0].n
    if sum(d.indices.size for d in ds) <= _FEW * 4:
        cols = sorted(set().union(*(d.indices.tolist() for d in ds)))
        for d in ds:  # one operand already holds the union (canonical rows)
            if d.indices.size == len(cols):
                return d
        dt = index_dtype(n, len(cols) + 1)
        return Deps(np.array([0, len(cols)], dtype=dt), np.array(cols, dtype=dt), n)
    acc = ds[0].indices
    for d in ds[1:]:
        b = d.indices
        if b.size > acc.size:
            acc, b = b, acc
        pos = np.searchsorted(acc, b)
        hit = pos < acc.size
        hit[hit] = acc[pos[hit]] == b[hit]
        if not hit.all():
            acc = np.insert(acc, pos[~hit], b[~hit])
    dt = index_dtype(n, acc.size + 1)
    return Deps(np.array([0, acc.size], dtype=dt), acc.astype(dt, copy=False), n)


def _union_small(ds: list[Deps], size: int) -> Deps:
    n = ds[0].n
    rows = np.concatenate([d.row_ids().astype(np.int64) for d in ds])
    cols = np.concatenate([d.indices.astype(np.int64) for d in ds])
    key = np.sort(rows * max(n, 1) + cols)
    keep = np.ones(key.size, dtype=bool)
    keep[1:] = key[1:] != key[:-1]
    key = key[keep]
    r = key // max(n, 1)
    dt = index_dtype(n, key.size + 1)
    indptr = np.zeros(size + 1, dtype=dt)
    np.cumsum(np.bincount(r, minlength=size), out=indptr[1:])
    return Deps(indptr, (key - r * max(n, 1)).astype(dt), n)


def aggregate(
    d: Deps | None, out_rows: np.ndarray, in_rows: np.ndarray, out_size: int
) -> Deps | None:
    """Output row ``r`` is the union of input rows ``i`` over all pairs ``(r, i)``.

    The pairs define a 0/1 matrix ``M`` of shape ``(out_size, d.size)``; the
    result is the boolean product ``M @ d`` (compiled sparse product).
    Pairs with a negative index on either side are ignored.
    """
    if d is None or d.nnz == 0:
        return None
    out_rows = np.asarray(out_rows).reshape(-1)
    in_rows = np.asarray(in_rows).reshape(-1)
    keep = (out_rows >= 0) & (in_rows >= 0)
    if not keep.all():
        out_rows = out_rows[keep]
        in_rows = in_rows[keep]
    if out_rows.size == 0:
        return None
    counts = np.bincount(out_rows, minlength=out_size)
    if counts.max() <= 1:
        # every output row reads at most one input row: a plain row gather
        src = np.full(out_size, -1, dtype=np.int64)
        src[out_rows] = in_rows
        return take(d, src)
    sp = _scipy_sparse()
    mat = sp.csr_array(
        (np.ones(out_rows.size, dtype=bool), (out_rows, in_rows)), shape=(out_size, d.size)
    )
    prod = mat @ d.to_scipy()
    if prod.nnz == 0:
        return None
    prod = sp.csr_array(prod)
    prod.sort_indices()
    return Deps.from_scipy(prod)


def broadcast_rows(
    d: Deps | None, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Deps | None:
    """Numpy-style broadcast of a pattern of shape ``in_shape`` to ``out_shape``."""
    if d is None:
        return None
    if tuple(in_shape) == tuple(out_shape):
        return d
    pos = np.arange(d.size, dtype=np.int64).reshape(in_shape)
    return take(d, np.broadcast_to(pos, out_shape))


def reduce_axes(d: Deps | None, shape: tuple[int, ...], axes: tuple[int, ...]) -> Deps | None:
    """Union over ``axes`` (kept with length 1): shape ``shape`` -> reduced shape."""
    if d is None:
        return None
    axes = tuple(sorted(a % len(shape) for a in axes)) if shape else ()
    if not axes:
        return d
    out_shape = tuple(1 if i in axes else s for i, s in enumerate(shape))
    out_size = int(np.prod(out_shape, dtype=np.int64))
    if out_size == 0 or d.size == 0:
        return None
    grid = np.indices(shape, sparse=True)
    kept = [np.zeros_like(g) if i in axes else g for i, g in enumerate(grid)]
    group = np.ravel_multi_index(np.broadcast_arrays(*kept), out_shape).reshape(-1)
    return aggregate(d, group, np.arange(d.size), out_size)


def reduce_all(d: Deps | None) -> Deps | None:
    """Union of all rows into a single row (size 1)."""
    if d is None or d.nnz == 0:
        return None
    return aggregate(d, np.zeros(d.size, dtype=np.int64), np.arange(d.size), 1)


def vstack(ds: list[Deps | None], sizes: list[int], n: int) -> Deps | None:
    """Rows of ``ds`` one after the other (``None`` entries: empty rows of that size)."""
    if all(d is None for d in ds):
        return None
    present = [d for d in ds if d is not None]
    if len(ds) == 1:
        return ds[0]
    total_nnz = sum(d.nnz for d in present)
    dt = index_dtype(n, total_nnz + 1, sum(sizes) + 1)
    indptr_parts = [np.zeros(1, dtype=dt)]
    indices_parts = []
    base = 0
    for d, size in zip(ds, sizes):
        if d is None:
            indptr_parts.append(np.full(size, base, dtype=dt))
        else:
            indptr_parts.append(d.indptr[1:].astype(dt) + dt(base))
            indices_parts.append(d.indices.astype(dt, copy=False))
            base += d.nnz
    indices = np.concatenate(indices_parts) if indices_parts else np.zeros(0, dtype=dt)
    return Deps(np.concatenate(indptr_parts), indices, n)
