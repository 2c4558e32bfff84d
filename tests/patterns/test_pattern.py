import copy
import pickle

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

from sparsediff.patterns import LeafSpec, SparsityPattern, Structure

DENSE = np.array(
    [
        [1, 0, 0, 2, 0],
        [0, 0, 0, 0, 0],
        [0, 3, 0, 0, 4],
        [5, 0, 6, 0, 0],
    ],
    dtype=np.float32,
)


@pytest.fixture
def pat():
    return SparsityPattern.from_dense(DENSE)


# ---------------------------------------------------------------- construction
def test_from_dense_todense_round_trip(pat):
    assert pat.shape == (4, 5) and pat.m == 4 and pat.n == 5
    assert pat.nnz == 6
    np.testing.assert_array_equal(pat.todense(), DENSE != 0)
    assert pat.todense().dtype == bool
    np.testing.assert_array_equal(pat.rows, [0, 0, 2, 2, 3, 3])
    np.testing.assert_array_equal(pat.cols, [0, 3, 1, 4, 0, 2])
    assert pat.density == pytest.approx(6 / 20)


def test_from_dense_accepts_jax_and_bool():
    a = jax.numpy.asarray(DENSE)
    assert SparsityPattern.from_dense(a) == SparsityPattern.from_dense(DENSE != 0)


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2), ()])
def test_from_dense_requires_2d(shape):
    with pytest.raises(ValueError, match="2-D"):
        SparsityPattern.from_dense(np.ones(shape))


def test_from_coo_sorts_and_deduplicates():
    rows = [3, 0, 2, 0, 3, 0, 2]
    cols = [0, 3, 4, 0, 0, 3, 1]
    p = SparsityPattern.from_coo(rows, cols, (4, 5))
    np.testing.assert_array_equal(p.rows, [0, 0, 2, 2, 3])
    np.testing.assert_array_equal(p.cols, [0, 3, 1, 4, 0])
    assert p.nnz == 5


def test_constructor_canonical_fast_path(pat):
    q = SparsityPattern(pat.rows, pat.cols, pat.shape, canonical=True)
    assert q == pat
    # A writeable input is copied, so mutating it afterwards does not affect the pattern.
    r, c = np.array(pat.rows), np.array(pat.cols)
    q = SparsityPattern(r, c, pat.shape, canonical=True)
    r[0] = 3
    assert q == pat
    # Even for a canonical input the range is checked.
    with pytest.raises(ValueError, match="out of range"):
        SparsityPattern([0, 5], [0, 0], (5, 5), canonical=True)


def test_empty_patterns():
    for shape in [(0, 0), (0, 7), (7, 0), (3, 4)]:
        p = SparsityPattern([], [], shape)
        assert p.nnz == 0 and p.shape == shape
        assert p.todense().shape == shape
        assert p.density == 0.0
        assert p.indptr.shape == (shape[0] + 1,)
        assert p.col_indptr.shape == (shape[1] + 1,)
        assert p.to_scipy().shape == shape
        assert p.rows.dtype == np.int32


@pytest.mark.parametrize(
    ("rows", "cols", "shape", "match"),
    [
        ([0, 4], [0, 1], (4, 4), r"row index 4 .*position 1.*\(4, 4\)"),
        ([0, -1], [0, 1], (4, 4), r"row index -1"),
        ([0, 1], [9, 1], (4, 4), r"column index 9 .*position 0"),
        ([0], [0], (0, 4), r"row index 0"),
        ([0, 1], [0], (4, 4), "same length"),
        ([[0, 1]], [[0, 1]], (4, 4), "1-D"),
    ],
)
def test_constructor_validation(rows, cols, shape, match):
    with pytest.raises(ValueError, match=match):
        SparsityPattern(rows, cols, shape)


@pytest.mark.parametrize("shape", [(3,), (1, 2, 3), (-1, 2), (2.5, 2), (True, 2), "ab"])
def test_bad_shapes(shape):
    with pytest.raises((ValueError, TypeError)):
        SparsityPattern([], [], shape)


def test_non_integer_indices_rejected():
    with pytest.raises(TypeError, match="integer"):
        SparsityPattern([0.5], [0], (2, 2))


def test_structure_size_checked():
    with pytest.raises(ValueError, match="input_structure has size 4 .* n=5"):
        SparsityPattern([], [], (3, 5), input_structure=Structure.flat(4))
    with pytest.raises(ValueError, match="output_structure has size 4 .* m=3"):
        SparsityPattern([], [], (3, 5), output_structure=Structure.flat(4))
    with pytest.raises(TypeError):
        SparsityPattern([], [], (3, 5), output_structure="flat")


def test_default_structures(pat):
    assert pat.input_structure == Structure.flat(5)
    assert pat.output_structure == Structure.flat(4)


# ---------------------------------------------------------------- dtypes and immutability
def test_index_dtype_int32_for_moderate_shapes(pat):
    assert pat.rows.dtype == np.int32 and pat.cols.dtype == np.int32
    edge = SparsityPattern([0], [2**31 - 3], (1, 2**31 - 2))
    assert edge.cols.dtype == np.int32


def test_index_dtype_int64_for_huge_shapes():
    n = 2**31 + 5
    p = SparsityPattern([1, 0, 1], [n - 1, 2**31, 7], (2, n))
    assert p.rows.dtype == np.int64 and p.cols.dtype == np.int64
    np.testing.assert_array_equal(p.cols, [2**31, 7, n - 1])
    np.testing.assert_array_equal(p.indptr, [0, 1, 3])
    t = p.T
    assert t.shape == (n, 2) and t.rows.dtype == np.int64
    np.testing.assert_array_equal(t.rows, [7, 2**31, n - 1])
    np.testing.assert_array_equal(t.cols, [1, 0, 1])
    assert (p | p) == p
    # A shape whose linearised index m*n does not fit in int64 takes the lexsort path.
    big = 2**40
    q = SparsityPattern([5, 3, 5, 3], [1, big - 1, 1, 0], (big, big))
    np.testing.assert_array_equal(q.rows, [3, 3, 5])
    np.testing.assert_array_equal(q.cols, [0, big - 1, 1])


def test_immutable(pat):
    with pytest.raises(AttributeError):
        pat.shape = (1, 1)
    with pytest.raises(AttributeError):
        pat._rows = np.zeros(0)
    with pytest.raises(AttributeError):
        pat.extra = 1
    with pytest.raises(AttributeError):
        del pat._cols
    for arr in (
        pat.rows,
        pat.cols,
        pat.indptr,
        pat.indices,
        pat.col_indptr,
        pat.col_indices,
        pat.row_counts,
        pat.col_counts,
    ):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 1


def test_no_len(pat):
    with pytest.raises(TypeError):
        len(pat)


def test_pickle_and_copy(pat):
    s = Structure(
        (LeafSpec(0, "['x']", (5,), "float32"),),
        argnums=(0,),
        treedef=jax.tree_util.tree_structure({"x": 0}),
    )
    p = SparsityPattern(pat.rows, pat.cols, pat.shape, input_structure=s)
    for q in (pickle.loads(pickle.dumps(p)), copy.deepcopy(p), copy.copy(p)):
        assert q == p
        assert q.input_structure == s
        assert q.input_structure.treedef == s.treedef
        assert not q.rows.flags.writeable


# ---------------------------------------------------------------- views
def test_csr_csc_views_match_scipy(pat):
    ref = sp.csr_array(DENSE)
    np.testing.assert_array_equal(pat.indptr, ref.indptr)
    np.testing.assert_array_equal(pat.indices, ref.indices)
    ref_c = sp.csc_array(DENSE)
    np.testing.assert_array_equal(pat.col_indptr, ref_c.indptr)
    np.testing.assert_array_equal(pat.col_indices, ref_c.indices)
    assert pat.indptr.dtype == np.int64 and pat.col_indptr.dtype == np.int64
    # cached
    assert pat.indptr is pat.indptr and pat.col_indices is pat.col_indices


def test_counts(pat):
    np.testing.assert_array_equal(pat.row_counts, [2, 0, 2, 2])
    np.testing.assert_array_equal(pat.col_counts, [2, 1, 1, 1, 1])
    assert pat.row_counts.dtype == np.int64 and pat.col_counts.dtype == np.int64
    assert pat.row_counts.sum() == pat.col_counts.sum() == pat.nnz


# ---------------------------------------------------------------- scipy / BCOO
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_to_scipy_formats(pat, fmt):
    s = pat.to_scipy(fmt)
    assert isinstance(s, sp.sparray)
    assert s.format == fmt
    assert s.dtype == bool
    assert s.shape == pat.shape
    assert s.nnz == pat.nnz
    np.testing.assert_array_equal(s.toarray(), DENSE != 0)
    assert SparsityPattern.from_scipy(s) == pat


def test_to_scipy_rejects_unknown_format(pat):
    with pytest.raises(ValueError, match="'dok'"):
        pat.to_scipy("dok")


def test_to_scipy_is_independent_of_pattern(pat):
    s = pat.to_scipy("csr")
    s.indices[0] = 4  # scipy owns a copy; the pattern is unchanged
    assert pat.cols[0] == 0


@pytest.mark.parametrize(
    "kind", [sp.csr_matrix, sp.csc_array, sp.coo_matrix, sp.lil_array, sp.dok_array, sp.bsr_array]
)
def test_from_scipy_any_format(pat, kind):
    assert SparsityPattern.from_scipy(kind(DENSE)) == pat


def test_from_scipy_drops_explicit_zeros_and_cancellations():
    data = np.array([1.0, 0.0, 2.0, -2.0, 3.0])
    rows = np.array([0, 1, 2, 2, 0])
    cols = np.array([0, 1, 2, 2, 1])
    m = sp.coo_array((data, (rows, cols)), shape=(3, 3))
    p = SparsityPattern.from_scipy(m)
    np.testing.assert_array_equal(p.todense(), m.toarray() != 0)
    assert p.nnz == 2
    csr = sp.csr_array((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2, 2])), shape=(2, 2))
    assert csr.nnz == 2  # explicit zero stored
    assert SparsityPattern.from_scipy(csr).nnz == 1


def test_from_scipy_complex_and_bool():
    m = sp.coo_array((np.array([1j, 0j, 1 + 0j]), ([0, 1, 1], [0, 0, 1])), shape=(2, 2))
    assert SparsityPattern.from_scipy(m) == SparsityPattern([0, 1], [0, 1], (2, 2))
    b = sp.csr_array(np.array([[True, False], [False, True]]))
    assert SparsityPattern.from_scipy(b) == SparsityPattern([0, 1], [0, 1], (2, 2))


def test_from_scipy_type_errors():
    with pytest.raises(TypeError):
        SparsityPattern.from_scipy(DENSE)


def test_bcoo_round_trip(pat):
    b = pat.to_bcoo()
    assert isinstance(b, jsparse.BCOO)
    assert b.shape == pat.shape
    assert b.indices.shape == (pat.nnz, 2)
    assert b.data.dtype == bool and bool(b.data.all())
    np.testing.assert_array_equal(np.asarray(b.indices), np.stack([pat.rows, pat.cols], 1))
    assert b.indices_sorted and b.unique_indices
    # jax cannot scatter-add bool data, so densify through a numeric dtype.
    np.testing.assert_array_equal(np.asarray(b.astype(np.float32).todense()), DENSE != 0)
    assert SparsityPattern.from_bcoo(b) == pat


def test_from_bcoo_sums_duplicates_and_drops_zeros():
    data = jax.numpy.array([1.0, -1.0, 0.0, 2.0, 3.0, 4.0])
    idx = jax.numpy.array([[0, 0], [0, 0], [1, 1], [2, 0], [2, 0], [3, 1]])
    b = jsparse.BCOO((data, idx), shape=(4, 2))
    p = SparsityPattern.from_bcoo(b)
    np.testing.assert_array_equal(p.todense(), np.asarray(b.todense()) != 0)
    assert p == SparsityPattern([2, 3], [0, 1], (4, 2))
    assert SparsityPattern.from_bcoo(jsparse.BCOO.fromdense(DENSE)) == SparsityPattern.from_dense(
        DENSE
    )


def test_from_bcoo_ignores_padding():
    b = jsparse.BCOO.fromdense(DENSE, nse=10)  # padded with out-of-range indices
    assert SparsityPattern.from_bcoo(b) == SparsityPattern.from_dense(DENSE)


def test_from_bcoo_rejects_non_2d():
    b = jsparse.BCOO.fromdense(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        SparsityPattern.from_bcoo(b)
    batched = jsparse.BCOO.fromdense(np.eye(3), n_batch=1)
    with pytest.raises(ValueError, match="batch"):
        SparsityPattern.from_bcoo(batched)


def test_constructors_accept_structures():
    inp = Structure((LeafSpec(0, "", (5,), "float32"),), argnums=(0,))
    out = Structure((LeafSpec(None, "['y']", (2, 2), "float32"),))
    for p in (
        SparsityPattern.from_dense(DENSE, input_structure=inp, output_structure=out),
        SparsityPattern.from_coo([0], [0], (4, 5), input_structure=inp, output_structure=out),
        SparsityPattern.from_scipy(sp.csr_array(DENSE), input_structure=inp, output_structure=out),
        SparsityPattern.from_bcoo(
            jsparse.BCOO.fromdense(DENSE), input_structure=inp, output_structure=out
        ),
    ):
        assert p.input_structure is inp and p.output_structure is out


# ---------------------------------------------------------------- algebra
def test_equality_ignores_structures(pat):
    inp = Structure((LeafSpec(0, "", (5,), "float64"),), argnums=(0,))
    other = SparsityPattern(pat.rows, pat.cols, pat.shape, input_structure=inp)
    assert other == pat
    assert hash(other) == hash(pat)
    assert pat != SparsityPattern(pat.rows[:-1], pat.cols[:-1], pat.shape)
    assert pat != SparsityPattern(pat.rows, pat.cols, (5, 5))
    assert pat != "pattern"
    assert pat.__eq__(pat.todense()) is NotImplemented
    assert len({pat, other, pat.T.T}) == 1


def test_union(pat):
    other = SparsityPattern.from_coo([1, 0, 3], [1, 0, 4], (4, 5))
    u = pat | other
    np.testing.assert_array_equal(u.todense(), pat.todense() | other.todense())
    assert u == other | pat
    assert u | u == u
    empty = SparsityPattern([], [], (4, 5))
    assert pat | empty == pat and empty | pat == pat


def test_union_keeps_left_structures(pat):
    a_in = Structure((LeafSpec(0, "['a']", (5,), "float32"),), argnums=(0,))
    b_in = Structure((LeafSpec(1, "['b']", (5,), "float32"),), argnums=(1,))
    a = SparsityPattern(pat.rows, pat.cols, pat.shape, input_structure=a_in)
    b = SparsityPattern([1], [1], pat.shape, input_structure=b_in)
    assert (a | b).input_structure is a_in
    assert (b | a).input_structure is b_in
    assert (SparsityPattern([], [], pat.shape) | a).input_structure == Structure.flat(5)


def test_union_shape_mismatch(pat):
    with pytest.raises(ValueError, match=r"\(4, 5\) and \(5, 4\)"):
        pat | pat.T
    with pytest.raises(TypeError):
        pat | 1


def test_transpose(pat):
    t = pat.T
    assert t.shape == (5, 4)
    np.testing.assert_array_equal(t.todense(), (DENSE != 0).T)
    np.testing.assert_array_equal(t.indptr, pat.col_indptr)
    np.testing.assert_array_equal(t.indices, pat.col_indices)
    assert t.T == pat


def test_transpose_swaps_structures():
    inp = Structure((LeafSpec(0, "", (3,), "float32"),), argnums=(0,))
    out = Structure((LeafSpec(None, "", (2,), "float32"),))
    p = SparsityPattern([0, 1], [2, 0], (2, 3), input_structure=inp, output_structure=out)
    assert p.T.input_structure is out and p.T.output_structure is inp
