"""Linear-time index bookkeeping for the graph views (counting sorts, no comparisons).

* :func:`csc_order`: the column-major order of a row-major COO pattern, by a
  counting sort on the columns (stable, so rows stay sorted within a column).
* :func:`symmetric_transpose`: for a CSR pattern that is symmetric, the
  position of the reverse ``(j, i)`` of every entry ``(i, j)``.  Visiting the
  rows in increasing order, the entries ``(i, j)`` reach row ``j`` in increasing
  ``i``, which is the order of row ``j``'s own columns when the pattern is
  symmetric; a mismatch proves it is not.
* :func:`augmented_csr`: the adjacency graph of ``[[0, A.T], [A, 0]]`` of
  bicoloring, with the reverse of every half-edge, by the same counting sort.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .indexing import ui

__all__ = ["csc_order", "symmetric_transpose", "augmented_csr"]


@njit(cache=True)
def _csc_order(cols, ncols):
    nnz = cols.size
    ptr = np.zeros(ncols + 1, dtype=np.int64)
    for k in range(nnz):
        ptr[ui(cols[ui(k)] + 1)] += 1
    for j in range(ncols):
        ptr[ui(j + 1)] += ptr[ui(j)]
    fill = ptr[:-1].copy()
    order = np.empty(nnz, dtype=np.int64)
    for k in range(nnz):
        j = cols[ui(k)]
        order[ui(fill[ui(j)])] = k
        fill[ui(j)] += 1
    return ptr, order


@njit(cache=True)
def _symmetric_transpose(ptr, idx, tpos):
    n = ptr.size - 1
    fill = ptr[:-1].copy()
    for i in range(n):
        for p in range(ptr[ui(i)], ptr[ui(i + 1)]):
            j = idx[ui(p)]
            q = fill[ui(j)]
            if q >= ptr[ui(j + 1)] or idx[ui(q)] != i:
                return False
            fill[ui(j)] = q + 1
            tpos[ui(p)] = q
    return True


@njit(cache=True)
def _augmented(rows, cols, indptr, n, ptr, idx, tpos):
    """CSR of ``[[0, A.T], [A, 0]]`` (see :func:`augmented_csr`), into the arrays given."""
    nnz = cols.size
    m = indptr.size - 1
    for j in range(n + 1):
        ptr[ui(j)] = 0
    for k in range(nnz):
        ptr[ui(cols[ui(k)] + 1)] += 1
    for j in range(n):
        ptr[ui(j + 1)] += ptr[ui(j)]
    fill = ptr[:n].copy()
    for k in range(nnz):
        # Counting sort by column (stable: rows stay sorted within a column).
        j = cols[ui(k)]
        q = fill[ui(j)]
        fill[ui(j)] = q + 1
        idx[ui(q)] = rows[ui(k)] + n
        tpos[ui(q)] = nnz + k
        tpos[ui(nnz + k)] = q
        idx[ui(nnz + k)] = j
    for i in range(m):
        ptr[ui(n + 1 + i)] = nnz + indptr[ui(i + 1)]


def csc_order(cols: np.ndarray, ncols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(col_ptr, order)``: column pointer and the nonzeros in column-major order."""
    return _csc_order(np.asarray(cols), int(ncols))


def _position_dtype(size: int) -> np.dtype:
    return np.dtype(np.int32 if size < 2**31 - 1 else np.int64)


def symmetric_transpose(ptr: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Reverse positions of a symmetric CSR pattern, or ``None`` if it is not symmetric.

    ``int32`` when the positions fit.
    """
    tpos = np.empty(idx.size, dtype=_position_dtype(idx.size))
    return tpos if _symmetric_transpose(ptr, idx, tpos) else None


def augmented_csr(
    rows: np.ndarray, cols: np.ndarray, indptr: np.ndarray, shape: tuple[int, int], dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ptr, idx, transpose)`` of the adjacency graph of ``[[0, A.T], [A, 0]]``.

    Vertices ``0 .. n-1`` are the columns of the ``m x n`` pattern ``A`` given in
    row-major COO (``rows``, ``cols``, with its row pointer ``indptr``), and
    ``n .. n+m-1`` its rows.  The half-edges of the columns come first, in
    column-major order, then those of the rows in the pattern's order, so that
    nonzero ``k`` seen from its row is half-edge ``nnz + k``.  ``idx`` has
    ``dtype``; ``transpose`` (the reverse of every half-edge) is ``int32`` when
    the positions fit.  One counting-sort pass, no temporaries.
    """
    m, n = shape
    nnz = cols.size
    ptr = np.empty(n + m + 1, dtype=np.int64)
    idx = np.empty(2 * nnz, dtype=dtype)
    tpos = np.empty(2 * nnz, dtype=_position_dtype(2 * nnz))
    _augmented(np.asarray(rows), np.asarray(cols), np.asarray(indptr), int(n), ptr, idx, tpos)
    return ptr, idx, tpos
