"""The CSR dependency-pattern operations agree with dense numpy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sparsediff.detection.deps import (
    Deps,
    aggregate,
    broadcast_rows,
    reduce_all,
    reduce_axes,
    take,
    union,
    vstack,
)


def deps_of(dense: np.ndarray) -> Deps | None:
    if not dense.any():
        return None
    return Deps.from_scipy(sp.csr_array(dense))


def dense_of(d: Deps | None, size: int, n: int) -> np.ndarray:
    return np.zeros((size, n), bool) if d is None else d.todense()


def canonical(d: Deps | None) -> None:
    if d is None:
        return
    for r in range(d.size):
        row = d.indices[d.indptr[r] : d.indptr[r + 1]]
        assert np.all(np.diff(row) > 0), "row indices must be sorted and unique"


matrices = st.tuples(st.integers(0, 6), st.integers(1, 6)).flatmap(lambda mn: hnp.arrays(bool, mn))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(matrices, st.data())
def test_take(dense, data):
    m, n = dense.shape
    # up to 40 rows: gathers of a few rows and of many take different paths
    idx = data.draw(st.lists(st.integers(-1, max(m - 1, -1)), max_size=40))
    idx = np.array(idx, dtype=np.int64)
    got = take(deps_of(dense), idx)
    canonical(got)
    expected = np.array([dense[i] if i >= 0 else np.zeros(n, bool) for i in idx]).reshape(-1, n)
    np.testing.assert_array_equal(dense_of(got, len(idx), n), expected)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(matrices, st.data())
def test_union_and_vstack(a, data):
    b = data.draw(hnp.arrays(bool, a.shape))
    m, n = a.shape
    u = union(deps_of(a), deps_of(b), None)
    canonical(u)
    np.testing.assert_array_equal(dense_of(u, m, n), a | b)
    s = vstack([deps_of(a), None, deps_of(b)], [m, 2, m], n)
    expected = np.vstack([a, np.zeros((2, n), bool), b])
    np.testing.assert_array_equal(dense_of(s, 2 * m + 2, n), expected)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(1, 300), st.lists(st.integers(0, 40), min_size=2, max_size=4), st.data())
def test_union_of_single_rows(n, counts, data):
    """One-row unions: short rows (a Python merge) and long ones (sorted merges)."""
    rows = []
    for c in counts:
        cols = data.draw(st.lists(st.integers(0, n - 1), max_size=c, unique=True))
        row = np.zeros((1, n), bool)
        row[0, cols] = True
        rows.append(row)
    u = union(*[deps_of(r) for r in rows])
    canonical(u)
    np.testing.assert_array_equal(dense_of(u, 1, n), np.logical_or.reduce(rows))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(matrices, st.data())
def test_aggregate(dense, data):
    m, n = dense.shape
    out_size = data.draw(st.integers(1, 5))
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(-1, out_size - 1), st.integers(-1, max(m - 1, -1))), max_size=12
        )
    )
    out_rows = np.array([p[0] for p in pairs], dtype=np.int64)
    in_rows = np.array([p[1] for p in pairs], dtype=np.int64)
    got = aggregate(deps_of(dense), out_rows, in_rows, out_size)
    canonical(got)
    expected = np.zeros((out_size, n), bool)
    for r, i in pairs:
        if r >= 0 and i >= 0:
            expected[r] |= dense[i]
    np.testing.assert_array_equal(dense_of(got, out_size, n), expected)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), st.data())
def test_reduce_and_broadcast(shape, data):
    size = int(np.prod(shape))
    n = 4
    dense = data.draw(hnp.arrays(bool, (size, n)))
    axes = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1))))
    got = reduce_axes(deps_of(dense), shape, axes)
    expected = (
        dense.reshape(*shape, n).any(axis=axes, keepdims=True) if axes else dense.reshape(*shape, n)
    )
    red_shape = expected.shape[:-1]
    np.testing.assert_array_equal(
        dense_of(got, int(np.prod(red_shape)), n), expected.reshape(-1, n)
    )
    back = broadcast_rows(got, red_shape, shape)
    np.testing.assert_array_equal(
        dense_of(back, size, n), np.broadcast_to(expected, (*shape, n)).reshape(-1, n)
    )
    np.testing.assert_array_equal(
        dense_of(reduce_all(deps_of(dense)), 1, n), dense.any(axis=0, keepdims=True)
    )


def test_identity_index_dtype():
    d = Deps.identity(5, 3, 10)
    assert d.indices.dtype == np.int32
    np.testing.assert_array_equal(d.todense(), np.eye(5, 10, k=3, dtype=bool))
