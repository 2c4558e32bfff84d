"""Known optima and published counts on patterns generated exactly.

Sources of the reference numbers:

* Curtis, Powell, Reid (1974), "On the estimation of sparse Jacobian matrices":
  with the columns taken in their natural order, a band of ``b`` consecutive
  diagonals is estimated in ``b`` groups (columns ``j, j + b, j + 2b, ...``).
* Coleman and Moré (1983), "Estimation of sparse Jacobian matrices and graph
  coloring problems": the columns of one row pairwise conflict, so the largest
  row count is a lower bound; a dense row forces ``n`` colors (also the
  motivating case of Coleman and Verma 1998 for bicoloring).
* Goldfarb and Toint (1984), "Optimal estimation of Jacobian and Hessian
  matrices that arise in finite difference calculations": 5 groups are optimal
  for the 5-point stencil and 9 for the 9-point (3 x 3 box) stencil.
* Symmetric bands of half-bandwidth ``k``: acyclic ``k + 1`` colors (the
  ``k + 1`` consecutive vertices form a clique, so this is optimal) and star
  ``2k + 1``, the optima stated in our issue #4 (for ``k = 1``, a path on four
  or more vertices is not star 2-colorable: Gebremedhin, Manne, Pothen 2005,
  "What color is your Jacobian?").  An arrowhead is a star graph, star colored
  with 2 colors by definition.
* Coleman and Verma (1998); Montoison, Dalle, Gebremedhin (2025), "Revisiting
  Sparse Matrix Coloring and Bicoloring": an arrowhead Jacobian (one dense row,
  one dense column) is bicolored with 3 passes (issue #4), against ``n`` for
  column or row coloring; 3 is also the counting lower bound.

Counts that are not published (the natural and largest-first greedy counts on
the 5-point stencil) are checked against a direct, test-only reference
implementation of the greedy algorithm and, when installed, against asdex.
"""

from __future__ import annotations

import numpy as np
import pytest

from sparsediff import SparsityPattern
from sparsediff.coloring import GreedyColoring, coloring

from .helpers import arrowhead, assert_valid, banded, block_diagonal, grid_stencil

GOOD_ORDERS = ("natural", "largest_first", "smallest_last", "incidence_degree")


def reference_greedy_columns(pattern: SparsityPattern, order: np.ndarray) -> int:
    """Plain Python first-fit coloring of the column-intersection graph (tests only)."""
    a = pattern.todense()
    conflict = (a.T.astype(int) @ a.astype(int)) > 0
    colors = np.full(pattern.n, -1)
    for j in order:
        used = set(colors[conflict[j] & (colors >= 0)].tolist())
        c = 0
        while c in used:
            c += 1
        colors[j] = c
    return int(colors.max()) + 1


@pytest.mark.parametrize("lower, upper", [(0, 0), (1, 1), (0, 2), (2, 2), (1, 3), (3, 0)])
@pytest.mark.parametrize("n", [30, 1000])
@pytest.mark.parametrize("order", ["natural", "largest_first"])
def test_banded_column_and_row_coloring(lower, upper, n, order):
    # Curtis, Powell, Reid (1974): b = lower + upper + 1 groups for any n.
    p = banded(n, lower, upper)
    for problem in ("column", "row"):
        result = coloring(p, problem, order)
        assert result.num_colors == lower + upper + 1
        assert result.is_optimal
        assert_valid(p, result)


def test_banded_rectangular():
    p = banded(200, 2, 1, m=150)
    result = coloring(p, "column", "natural")
    assert result.num_colors == 4
    assert_valid(p, result)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("order", GOOD_ORDERS)
def test_banded_hessian_star_and_acyclic(k, order):
    # Star 2k + 1, acyclic k + 1 (= the clique bound, so provably optimal).
    p = banded(300, k, k)
    star = coloring(p, "symmetric", order)
    acyclic = coloring(p, "acyclic", order)
    assert star.num_colors == 2 * k + 1
    assert acyclic.num_colors == k + 1
    assert acyclic.lower_bound == k + 1 and acyclic.is_optimal
    assert star.lower_bound == k + 1
    assert_valid(p, star)
    assert_valid(p, acyclic)
    assert acyclic.plan.uses_substitution
    assert not star.plan.uses_substitution


@pytest.mark.parametrize("n", [5, 50, 400])
def test_arrowhead(n):
    p = arrowhead(n)
    for problem in ("column", "row"):
        result = coloring(p, problem)
        assert result.num_colors == n  # a dense row (column) makes every pair conflict
        assert result.is_optimal
        assert_valid(p, result)
    for problem in ("symmetric", "acyclic"):
        result = coloring(p, problem)
        assert result.num_colors == 2
        assert result.is_optimal
        assert_valid(p, result)
    for problem in ("bidirectional", "acyclic_bicoloring"):
        result = coloring(p, problem)
        assert result.num_colors <= 3
        assert result.num_forward >= 1 and result.num_reverse >= 1
        assert result.lower_bound == 3 and result.is_optimal
        assert_valid(p, result)


def test_arrowhead_star_bicoloring_needs_dense_vertices_last():
    # Largest-first colors the dense row and column first, so they share colors with
    # their neighbours and every row becomes the hub of a star: n passes.  Reversed,
    # the dense row and column come last and get colors of their own: 3 passes.
    p = arrowhead(60)
    lf = coloring(p, "bidirectional", GreedyColoring("largest_first"))
    rev = coloring(p, "bidirectional", GreedyColoring("reversed:largest_first"))
    assert lf.num_colors > 3
    assert rev.num_colors == 3
    assert_valid(p, lf)
    assert_valid(p, rev)


def test_rectangular_arrowhead_bicoloring():
    p = arrowhead(40, m=25)
    for problem in ("bidirectional", "acyclic_bicoloring"):
        result = coloring(p, problem)
        assert result.num_colors <= 3
        assert_valid(p, result)


@pytest.mark.parametrize("n", [1, 7, 100])
def test_diagonal_needs_one_color(n):
    p = banded(n, 0, 0)
    for problem in ("column", "row", "symmetric", "acyclic", "bidirectional", "acyclic_bicoloring"):
        result = coloring(p, problem)
        assert result.num_colors == 1
        assert_valid(p, result)


@pytest.mark.parametrize("q", [6, 12])
def test_five_point_laplacian(q):
    p = grid_stencil(q, 5)
    assert coloring(p, "column").lower_bound == 5  # Goldfarb and Toint (1984): optimum 5
    for order in ("natural", "largest_first"):
        result = coloring(p, "column", order)
        perm = np.asarray(
            np.arange(p.n) if order == "natural" else np.argsort(-_d2_degrees(p), kind="stable")
        )
        assert result.num_colors == reference_greedy_columns(p, perm)
        assert_valid(p, result)
    # The symmetric Laplacian: star and acyclic colorings with few colors.
    star = coloring(p, "symmetric", "natural")
    acyclic = coloring(p, "acyclic", "natural")
    assert star.num_colors == 5
    assert acyclic.num_colors <= star.num_colors
    assert_valid(p, star)
    assert_valid(p, acyclic)


def test_five_point_laplacian_natural_count():
    # Natural order on a 12 x 12 grid: 7 colors (reference implementation above).
    p = grid_stencil(12, 5)
    assert coloring(p, "column", "natural").num_colors == 7
    assert reference_greedy_columns(p, np.arange(p.n)) == 7


@pytest.mark.parametrize("q", [5, 11])
def test_nine_point_stencil_is_colored_optimally(q):
    # Goldfarb and Toint (1984): 9 groups, the row-count bound, for the 3 x 3 box stencil.
    p = grid_stencil(q, 9)
    for order in ("natural", "largest_first"):
        result = coloring(p, "column", order)
        assert result.num_colors == 9
        assert result.is_optimal
        assert_valid(p, result)


def test_periodic_stencil():
    p = grid_stencil(10, 5, periodic=True)
    for problem in ("column", "symmetric", "acyclic", "bidirectional"):
        assert_valid(p, coloring(p, problem))


@pytest.mark.parametrize("sizes", [[3, 1, 4, 2], [5], [1, 1, 1]])
def test_block_diagonal(sizes):
    p = block_diagonal(sizes)
    for problem in ("column", "row", "symmetric", "acyclic"):
        result = coloring(p, problem)
        assert result.num_colors == max(sizes)  # a dense block is a clique
        assert result.is_optimal
        assert_valid(p, result)


def _d2_degrees(p: SparsityPattern) -> np.ndarray:
    a = p.todense().astype(int)
    conflict = (a.T @ a) > 0
    np.fill_diagonal(conflict, False)
    return conflict.sum(axis=1)


def test_largest_first_degrees_match_reference():
    from sparsediff.coloring.graphs import column_graph

    for p in (grid_stencil(7, 5), banded(40, 2, 1), arrowhead(9)):
        np.testing.assert_array_equal(column_graph(p).degrees, _d2_degrees(p))


@pytest.mark.parametrize(
    "make",
    [lambda: grid_stencil(9, 5), lambda: banded(120, 2, 3), lambda: block_diagonal([4, 2, 6])],
)
def test_against_asdex(make):
    # asdex 0.5.1 colors in largest-first order; the counts must not be lower than ours.
    asdex = pytest.importorskip("asdex")
    p = make()
    ap = asdex.SparsityPattern(p.rows.astype(np.int32), p.cols.astype(np.int32), p.shape)
    assert coloring(p, "column").num_colors <= asdex.color_cols(ap)[1]
    assert coloring(p, "row").num_colors <= asdex.color_rows(ap)[1]
    assert coloring(p, "symmetric").num_colors <= asdex.color_symmetric(ap)[1]
