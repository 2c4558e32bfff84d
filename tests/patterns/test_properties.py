import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sparsediff.patterns import SparsityPattern

shapes = st.tuples(st.integers(0, 9), st.integers(0, 9))


@st.composite
def dense_pair(draw):
    shape = draw(shapes)
    a = draw(arrays(bool, shape))
    b = draw(arrays(bool, shape))
    return a, b


@settings(max_examples=200, deadline=None)
@given(dense_pair())
def test_pattern_agrees_with_numpy(pair):
    a, b = pair
    p, q = SparsityPattern.from_dense(a), SparsityPattern.from_dense(b)
    m, n = a.shape
    np.testing.assert_array_equal(p.todense(), a)
    assert p.nnz == int(a.sum())
    assert p.density == (a.sum() / a.size if a.size else 0.0)
    rr, cc = np.nonzero(a)
    np.testing.assert_array_equal(p.rows, rr)
    np.testing.assert_array_equal(p.cols, cc)
    for fmt in ("csr", "csc", "coo"):
        np.testing.assert_array_equal(p.to_scipy(fmt).toarray(), a)
    # CSR
    np.testing.assert_array_equal(p.row_counts, a.sum(axis=1))
    for i in range(m):
        np.testing.assert_array_equal(
            p.indices[p.indptr[i] : p.indptr[i + 1]], np.flatnonzero(a[i])
        )
    # CSC
    np.testing.assert_array_equal(p.col_counts, a.sum(axis=0))
    for j in range(n):
        np.testing.assert_array_equal(
            p.col_indices[p.col_indptr[j] : p.col_indptr[j + 1]], np.flatnonzero(a[:, j])
        )
    # algebra
    np.testing.assert_array_equal((p | q).todense(), a | b)
    np.testing.assert_array_equal(p.T.todense(), a.T)
    assert (p == q) == bool(np.array_equal(a, b))
    if p == q:
        assert hash(p) == hash(q)
    assert SparsityPattern.from_scipy(p.to_scipy("coo")) == p


@settings(max_examples=100, deadline=None)
@given(
    shapes.flatmap(
        lambda s: st.tuples(
            st.just(s),
            st.lists(
                st.tuples(st.integers(0, max(s[0] - 1, 0)), st.integers(0, max(s[1] - 1, 0))),
                max_size=30 if s[0] and s[1] else 0,
            ),
        )
    )
)
def test_from_coo_matches_dense_scatter(case):
    (m, n), entries = case
    rows = np.array([e[0] for e in entries], dtype=np.int64)
    cols = np.array([e[1] for e in entries], dtype=np.int64)
    expected = np.zeros((m, n), dtype=bool)
    expected[rows, cols] = True
    p = SparsityPattern.from_coo(rows, cols, (m, n))
    assert p == SparsityPattern.from_dense(expected)
    keys = p.rows.astype(np.int64) * max(n, 1) + p.cols
    assert np.all(np.diff(keys) > 0)
