"""Every problem x algorithm x order on random patterns: valid, and decompression is exact."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsediff import SparsityPattern
from sparsediff.coloring import BestOfOrders, GreedyColoring, coloring

from .helpers import ORDERS, assert_valid

DENSITIES = (0.0, 0.05, 0.15, 0.3, 0.6, 1.0)


@st.composite
def patterns(draw, square: bool = False, symmetric: bool = False) -> SparsityPattern:
    m = draw(st.integers(0, 11))
    n = m if square else draw(st.integers(0, 11))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.random((m, n)) < draw(st.sampled_from(DENSITIES))
    if m and n and draw(st.booleans()):
        a[draw(st.integers(0, m - 1)), :] = True  # a dense row
    if m and n and draw(st.booleans()):
        a[:, draw(st.integers(0, n - 1))] = True  # a dense column
    if symmetric:
        a = a | a.T
        diag = draw(st.sampled_from(["all", "none", "random"]))
        if diag == "all":
            np.fill_diagonal(a, True)
        elif diag == "none":
            np.fill_diagonal(a, False)
    return SparsityPattern.from_dense(a)


@settings(max_examples=40, deadline=None)
@given(patterns())
def test_unsymmetric_problems_every_order(pattern):
    for problem in ("column", "row", "bidirectional", "acyclic_bicoloring"):
        for order in ORDERS:
            for post in (None, False, True) if "bi" in problem else (None,):
                result = coloring(pattern, problem, GreedyColoring(order, postprocessing=post))
                assert_valid(pattern, result)


@settings(max_examples=40, deadline=None)
@given(patterns(square=True, symmetric=True))
def test_symmetric_problems_every_order(pattern):
    for problem in ("symmetric", "acyclic"):
        for order in ORDERS:
            for post in (False, True):
                result = coloring(pattern, problem, GreedyColoring(order, postprocessing=post))
                assert_valid(pattern, result)
                assert result.symmetric_colors is not None


@settings(max_examples=25, deadline=None)
@given(patterns(square=True))
def test_symmetric_problems_on_unsymmetric_patterns(pattern):
    # The Hessian is symmetric: the pattern is mirrored before coloring.
    for problem in ("symmetric", "acyclic"):
        result = coloring(pattern, problem, GreedyColoring("natural", postprocessing=True))
        assert_valid(pattern, result)


@settings(max_examples=25, deadline=None)
@given(patterns())
def test_best_of_orders_is_no_worse_than_each_order(pattern):
    orders = ("natural", "largest_first", "smallest_last")
    for problem in ("column", "row", "bidirectional", "acyclic_bicoloring"):
        best = coloring(pattern, problem, BestOfOrders(orders, one_sided=("natural",)))
        assert_valid(pattern, best)
        for order in orders:
            assert best.num_colors <= coloring(pattern, problem, order).num_colors
        if "bi" in problem:
            one_sided = min(
                coloring(pattern, "column", "natural").num_colors,
                coloring(pattern, "row", "natural").num_colors,
            )
            assert best.num_colors <= one_sided


@settings(max_examples=30, deadline=None)
@given(patterns())
def test_default_algorithm_and_lower_bounds(pattern):
    for problem in ("column", "row", "bidirectional", "acyclic_bicoloring"):
        result = coloring(pattern, problem)
        assert_valid(pattern, result)
    col = coloring(pattern, "column")
    row = coloring(pattern, "row")
    if pattern.nnz:
        assert col.lower_bound == pattern.row_counts.max()
        assert row.lower_bound == pattern.col_counts.max()
    bi = coloring(pattern, "bidirectional")
    assert bi.num_colors <= min(col.num_colors, row.num_colors)
