"""Canonical index arrays of a pattern: validated, sorted row-major, without duplicates."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

__all__ = [
    "index_dtype",
    "readonly",
    "check_shape",
    "as_index_array",
    "check_range",
    "sort_unique",
    "nonzero_positions",
    "INT32_LIMIT",
    "INT64_SAFE",
]

INT32_LIMIT = 2**31 - 1
INT64_SAFE = 2**62


def index_dtype(m: int, n: int) -> np.dtype:
    return np.dtype(np.int32) if max(m, n) < INT32_LIMIT else np.dtype(np.int64)


def readonly(a: np.ndarray) -> np.ndarray:
    if a.flags.writeable:
        a.flags.writeable = False
    return a


def check_shape(shape: Any) -> tuple[int, int]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a pair of integers, got {shape!r}") from None
    if len(dims) != 2 or any(isinstance(d, bool | np.bool_) for d in dims):
        raise ValueError(f"shape must be a pair of non-negative integers, got {shape!r}")
    try:
        m, n = (operator.index(d) for d in dims)
    except TypeError:
        raise ValueError(f"shape must be a pair of non-negative integers, got {shape!r}") from None
    if m < 0 or n < 0:
        raise ValueError(f"shape must be a pair of non-negative integers, got {shape!r}")
    return m, n


def as_index_array(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {a.shape}")
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype, got {a.dtype}")
    return a


def check_range(a: np.ndarray, bound: int, name: str, shape: tuple[int, int]) -> None:
    if a.size == 0:
        return
    lo, hi = a.min(), a.max()
    if lo >= 0 and hi < bound:
        return
    pos = int(np.flatnonzero((a < 0) | (a >= bound))[0])
    raise ValueError(
        f"{name} index {int(a[pos])} (at position {pos}) is out of range for shape {shape}"
    )


def sort_unique(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], *, return_inverse: bool = False
) -> tuple[np.ndarray, ...]:
    """Sort COO indices row-major and remove duplicates (vectorised).

    ``np.unique`` is avoided on purpose: recent NumPy versions implement it
    with a hash table that is far slower than a plain sort for large inputs.
    With ``return_inverse`` the third array maps each input entry to its
    position in the output.
    """
    m, n = shape
    if rows.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return (empty, empty.copy(), empty.copy()) if return_inverse else (empty, empty.copy())
    order = None
    if m * n <= INT64_SAFE:
        keys = rows.astype(np.int64) * n + cols.astype(np.int64)
        if return_inverse:
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
        else:
            keys = np.sort(keys)
        new = np.empty(keys.size, dtype=bool)
        new[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        r, c = np.divmod(keys[new], n)
    else:
        # Linearised keys could overflow int64: sort lexicographically instead.
        order = np.lexsort((cols, rows))
        rs, cs = rows[order], cols[order]
        new = np.empty(rs.size, dtype=bool)
        new[0] = True
        new[1:] = (rs[1:] != rs[:-1]) | (cs[1:] != cs[:-1])
        r, c = rs[new], cs[new]
    if not return_inverse:
        return r, c
    inverse = np.empty(rows.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return r, c, inverse


def nonzero_positions(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Positions whose summed (duplicate-merged) value is nonzero."""
    rows = np.asarray(rows).reshape(-1)
    cols = np.asarray(cols).reshape(-1)
    data = np.asarray(data).reshape(-1)
    if rows.size == 0:
        return rows.astype(np.int64), cols.astype(np.int64)
    r, c, inverse = sort_unique(rows, cols, shape, return_inverse=True)
    parts: tuple[np.ndarray, ...]
    if data.dtype.kind == "c":
        values = data.astype(np.complex128)
        parts = (values.real, values.imag)
    else:
        parts = (data.astype(np.float64),)  # bool terms are >= 0: no false cancellation
    keep = np.zeros(r.size, dtype=bool)
    for part in parts:
        keep |= np.bincount(inverse, weights=part, minlength=r.size) != 0
    return r[keep], c[keep]
