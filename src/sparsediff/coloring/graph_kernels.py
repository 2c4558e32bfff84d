"""Linear-time index bookkeeping for the graph views (counting sorts, no comparisons).

* :func:`csc_order`: the column-major order of a row-major COO pattern, by a
  counting sort on the columns (stable, so rows stay sorted within a column).
* :func:`symmetric_transpose`: for a CSR pattern that is symmetric, the
  position of the reverse ``(j, i)`` of every entry ``(i, j)``.  Visiting the
  rows in increasing order, the entries ``(i, j)`` reach row ``j`` in increasing
  ``i``, which is the order of row ``j``'s own columns when the pattern is
  symmetric; a mismatch proves it is not.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["csc_order", "symmetric_transpose"]


@njit(cache=True)
def _csc_order(cols, ncols):
    nnz = cols.size
    ptr = np.zeros(ncols + 1, dtype=np.int64)
    for k in range(nnz):
        ptr[cols[k] + 1] += 1
    for j in range(ncols):
        ptr[j + 1] += ptr[j]
    fill = ptr[:-1].copy()
    order = np.empty(nnz, dtype=np.int64)
    for k in range(nnz):
        j = cols[k]
        order[fill[j]] = k
        fill[j] += 1
    return ptr, order


@njit(cache=True)
def _symmetric_transpose(ptr, idx):
    n = ptr.size - 1
    fill = ptr[:-1].copy()
    tpos = np.empty(idx.size, dtype=np.int64)
    for i in range(n):
        for p in range(ptr[i], ptr[i + 1]):
            j = idx[p]
            q = fill[j]
            if q >= ptr[j + 1] or idx[q] != i:
                return tpos, False
            fill[j] = q + 1
            tpos[p] = q
    return tpos, True


def csc_order(cols: np.ndarray, ncols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(col_ptr, order)``: column pointer and the nonzeros in column-major order."""
    return _csc_order(np.asarray(cols), int(ncols))


def symmetric_transpose(ptr: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Reverse positions of a symmetric CSR pattern, or ``None`` if it is not symmetric."""
    tpos, ok = _symmetric_transpose(ptr, idx)
    return tpos if ok else None
