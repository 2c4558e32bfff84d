"""The compiled building blocks: dynamic-order stacks, augmented graph, work buffers."""

from __future__ import annotations

import numpy as np
import pytest

from sparsediff import SparsityPattern
from sparsediff.coloring import GreedyColoring, as_order, coloring
from sparsediff.coloring import order_kernels as ok
from sparsediff.coloring.graph_kernels import augmented_csr
from sparsediff.coloring.graphs import augmented_graph, column_graph, row_graph, symmetric_view
from sparsediff.coloring.scratch import Scratch

from .helpers import arrowhead, assert_valid, banded, grid_stencil, random_symmetric

DYNAMIC = ("smallest_last", "incidence_degree", "dynamic_largest_first")


def _distance2_graphs():
    rng = np.random.default_rng(3)
    for p in (
        grid_stencil(7, 9),
        banded(60, 2, 3),
        random_symmetric(80, 5, seed=2),
        SparsityPattern.from_dense(rng.random((40, 30)) < 0.1),
    ):
        yield column_graph(p)
        yield row_graph(p)


@pytest.mark.parametrize("name", DYNAMIC)
def test_distance2_stack_pool_compaction_keeps_the_order(name, monkeypatch):
    # With no room beyond one node per vertex the pool is compacted at almost every
    # push; the valid entries keep their order, so the order is the same.
    orders = [getattr(ok, name)(g) for g in _distance2_graphs()]
    monkeypatch.setattr(ok, "POOL_FACTOR", 0)
    for g, expected in zip(_distance2_graphs(), orders, strict=True):
        np.testing.assert_array_equal(getattr(ok, name)(g), expected)


def test_smallest_last_sweeps_a_band():
    # Last in, first out, rows walked backwards: the removal sweeps the band from
    # vertex 0 (the smallest index among the ends), so the order is n-1, ..., 0.
    for k in (1, 2, 3):
        g = symmetric_view(banded(12, k, k)).graph
        np.testing.assert_array_equal(as_order("smallest_last")(g), np.arange(12)[::-1])


def test_dynamic_largest_first_ties_go_to_the_last_changed():
    # On the path 0-1-...-5: 1 (degree 2, smallest index) first, then 3 (still of
    # degree 2), then 4 (degree 1 now, changed last); then the rest, all of degree
    # 0 by then, the last changed first: 5, 2, 0.
    g = symmetric_view(banded(6, 1, 1)).graph
    np.testing.assert_array_equal(as_order("dynamic_largest_first")(g), [1, 3, 4, 5, 2, 0])


def _augmented_reference(p: SparsityPattern):
    m, n = p.shape
    rows, cols = np.asarray(p.rows, dtype=np.int64), np.asarray(p.cols, dtype=np.int64)
    csc = np.lexsort((rows, cols))
    ptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=n)), p.nnz + p.indptr[1:]])
    idx = np.concatenate([rows[csc] + n, cols])
    transpose = np.empty(2 * p.nnz, dtype=np.int64)
    transpose[: p.nnz] = p.nnz + csc
    transpose[p.nnz + csc] = np.arange(p.nnz)
    return ptr, idx, transpose


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (5, 9), (9, 5), (40, 40)])
def test_augmented_csr_matches_reference(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    p = SparsityPattern.from_dense(rng.random(shape) < 0.3)
    ptr, idx, transpose = augmented_csr(p.rows, p.cols, p.indptr, p.shape, np.int32)
    ref = _augmented_reference(p)
    np.testing.assert_array_equal(ptr, ref[0])
    np.testing.assert_array_equal(idx, ref[1])
    np.testing.assert_array_equal(transpose, ref[2])
    assert transpose.dtype == np.int32
    g = augmented_graph(p)
    np.testing.assert_array_equal(g.transpose[g.transpose], np.arange(2 * p.nnz))


def test_scratch_recycles_buffers():
    s = Scratch()
    a = s.take(1000, np.int32, fill=7)
    assert a.shape == (1000,) and a.dtype == np.int32 and np.all(a == 7)
    s.give(a[10:20], np.zeros(3))  # a view gives back the piece; other arrays are ignored
    b = s.take(500, np.int64)  # 4000 bytes fit in the 4000-byte piece
    assert np.shares_memory(a, b)
    c = s.take(2000, np.int32)  # too large: a new piece
    assert not np.shares_memory(b, c)
    s.give(b, c)
    d = s.take(100, np.int8)
    assert np.shares_memory(d, b)  # the smallest piece that fits
    assert s.take(0, np.int32).size == 0
    off = Scratch(enabled=False)
    e = off.take(10, np.int32)
    off.give(e)
    assert not np.shares_memory(e, off.take(10, np.int32))


def test_scratch_splits_large_pieces():
    from sparsediff.coloring import scratch as sc

    s = Scratch()
    big = s.take(4 * sc.SPLIT_BYTES, np.uint8)
    s.give(big)
    a = s.take(sc.SPLIT_BYTES, np.uint8)  # the first quarter of the piece
    b = s.take(2 * sc.SPLIT_BYTES, np.uint8)  # from the rest
    assert np.shares_memory(a, big) and np.shares_memory(b, big)
    assert not np.shares_memory(a, b)
    a[:] = 1
    b[:] = 2
    assert np.all(a == 1)
    s.give(a)
    c = s.take(sc.SPLIT_BYTES, np.uint8)  # a's piece or the last quarter, never b's
    assert np.shares_memory(c, big) and not np.shares_memory(c, b)
    assert s.take(sc.SPLIT_BYTES, np.uint8).ctypes.data != c.ctypes.data


@pytest.mark.parametrize("order", ["natural", "reversed:smallest_last", "incidence_degree"])
def test_acyclic_results_do_not_depend_on_recycled_memory(order):
    # Dirty recycled buffers must not leak into a result: two colorings in a row,
    # and one after an unrelated call, agree field by field.
    p = random_symmetric(300, 6, seed=5)
    q = arrowhead(50)
    for problem in ("acyclic", "acyclic_bicoloring", "symmetric", "bidirectional"):
        first = coloring(p, problem, GreedyColoring(order))
        coloring(q, problem, GreedyColoring(order))
        again = coloring(p, problem, GreedyColoring(order))
        assert_valid(p, again)
        for name in ("direct_nz", "direct_src", "subst_src", "subst_nz", "subst_start"):
            np.testing.assert_array_equal(getattr(first.plan, name), getattr(again.plan, name))
        if first.trees is not None:
            np.testing.assert_array_equal(first.trees.tree, again.trees.tree)
            np.testing.assert_array_equal(first.trees.roots, again.trees.roots)
