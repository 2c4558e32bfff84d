"""Problems, orders, algorithms, results and validators: the public API."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

import sparsediff.coloring as sc
from sparsediff import SparsityPattern
from sparsediff.coloring import (
    BestOfOrders,
    BidirectionalProblem,
    ColumnProblem,
    ExplicitOrder,
    GreedyColoring,
    InvalidColoringError,
    RandomOrder,
    ReversedOrder,
    RowProblem,
    SymmetricProblem,
    as_order,
    as_problem,
    check_coloring,
    coloring,
)
from sparsediff.coloring.graphs import augmented_graph, column_graph, symmetric_view

from .helpers import arrowhead, assert_valid, banded, grid_stencil, random_symmetric


# ---------------------------------------------------------------------------- problems
def test_problem_names():
    assert as_problem("column") == ColumnProblem()
    assert as_problem("Reverse") == RowProblem()
    assert as_problem("star") == SymmetricProblem("direct")
    assert as_problem("acyclic") == SymmetricProblem("substitution")
    assert as_problem("acyclic-bicoloring") == BidirectionalProblem("substitution")
    assert as_problem(BidirectionalProblem()) == BidirectionalProblem("direct")
    with pytest.raises(ValueError, match="unknown coloring problem"):
        as_problem("diagonal")
    with pytest.raises(ValueError, match="decompression"):
        SymmetricProblem("cholesky")
    with pytest.raises(TypeError):
        as_problem(3)


def test_symmetric_problem_needs_square_pattern():
    with pytest.raises(ValueError, match="square"):
        coloring(SparsityPattern.from_dense(np.ones((2, 3))), "symmetric")


# ---------------------------------------------------------------------------- orders
def test_order_names_and_strategies():
    assert as_order("natural").describe() == "natural"
    assert as_order("random:3") == RandomOrder(3)
    assert as_order("reversed:natural").describe() == "reversed(natural)"
    assert isinstance(as_order([2, 0, 1]), ExplicitOrder)
    with pytest.raises(ValueError, match="unknown vertex order"):
        as_order("alphabetical")
    g = column_graph(banded(6, 1, 1))
    np.testing.assert_array_equal(ReversedOrder("natural")(g), np.arange(6)[::-1])
    np.testing.assert_array_equal(RandomOrder(5)(g), RandomOrder(5)(g))
    assert sorted(RandomOrder(5)(g)) == list(range(6))


def test_custom_order_must_be_a_permutation():
    p = banded(5, 1, 1)
    assert coloring(p, "column", lambda graph: np.arange(graph.num_vertices)[::-1]).num_colors == 3
    with pytest.raises(ValueError, match="permutation"):
        coloring(p, "column", lambda graph: np.zeros(graph.num_vertices, dtype=int))
    with pytest.raises(ValueError, match="entries"):
        coloring(p, "column", ExplicitOrder(np.arange(3)))


def _graphs():
    yield column_graph(grid_stencil(5, 5))
    yield column_graph(SparsityPattern.from_dense(np.random.default_rng(0).random((15, 12)) < 0.2))
    yield symmetric_view(random_symmetric(40, 4, seed=1)).graph
    yield augmented_graph(arrowhead(7, m=5))


def _adjacency(graph) -> np.ndarray:
    nv = graph.num_vertices
    adj = np.zeros((nv, nv), dtype=bool)
    for v in range(nv):
        for p in range(graph.ptr[v], graph.ptr[v + 1]):
            if graph.kind == "adjacency":
                adj[v, graph.idx[p]] = True
            else:
                net = graph.idx[p]
                adj[v, graph.net_idx[graph.net_ptr[net] : graph.net_ptr[net + 1]]] = True
    np.fill_diagonal(adj, False)
    return adj


@pytest.mark.parametrize("graph", list(_graphs()), ids=lambda g: g.kind)
def test_dynamic_orders_follow_their_definitions(graph):
    adj = _adjacency(graph)
    np.testing.assert_array_equal(graph.degrees, adj.sum(axis=1))
    lf = as_order("largest_first")(graph)
    assert np.all(np.diff(graph.degrees[lf]) <= 0)
    # Smallest-last: each vertex has the smallest degree among itself and the vertices before it.
    sl = as_order("smallest_last")(graph)
    for i in range(sl.size):
        sub = adj[np.ix_(sl[: i + 1], sl[: i + 1])].sum(axis=1)
        assert sub[i] == sub.min()
    # Dynamic largest-first: the largest degree among itself and the vertices after it.
    dlf = as_order("dynamic_largest_first")(graph)
    for i in range(dlf.size):
        sub = adj[np.ix_(dlf[i:], dlf[i:])].sum(axis=1)
        assert sub[0] == sub.max()
    # Incidence degree: the most neighbours among the vertices already placed.
    idg = as_order("incidence_degree")(graph)
    for i in range(idg.size):
        placed = adj[np.ix_(idg[i:], idg[:i])].sum(axis=1)
        assert placed[0] == placed.max()
    for order in (lf, sl, dlf, idg):
        assert sorted(order) == list(range(graph.num_vertices))


def test_complete_distance2_graph_skips_degree_orders():
    p = arrowhead(500)
    g = column_graph(p)
    assert g.complete
    for name in ("largest_first", "smallest_last", "incidence_degree", "dynamic_largest_first"):
        np.testing.assert_array_equal(as_order(name)(g), np.arange(500))


# ---------------------------------------------------------------------------- algorithms
def test_algorithm_arguments():
    p = grid_stencil(6, 5)
    assert coloring(p, "column", "best").algorithm.startswith("best of orders")
    best = coloring(p, "column", BestOfOrders(("natural", "incidence_degree")))
    assert best.order in ("natural", "incidence_degree")
    assert best.num_colors == min(
        coloring(p, "column", o).num_colors for o in ("natural", "incidence_degree")
    )
    assert coloring(p, "column", "smallest_last").order == "smallest_last"
    assert coloring(p, "column").order == "largest_first"
    with pytest.raises(ValueError):
        BestOfOrders(())


def test_postprocessing_can_remove_colors():
    # Without a diagonal, a single edge is read from one end: one Hessian-vector product.
    p = SparsityPattern.from_dense(np.array([[0, 1], [1, 0]]))
    plain = coloring(p, "symmetric", GreedyColoring("natural", postprocessing=False))
    post = coloring(p, "symmetric", GreedyColoring("natural", postprocessing=True))
    assert plain.num_colors == 2 and post.num_colors == 1
    assert (post.column_colors == -1).sum() == 1
    assert_valid(p, post)
    # Bidirectional problems neutralize by default.
    default = coloring(arrowhead(30), "bidirectional", GreedyColoring("reversed:largest_first"))
    off = coloring(
        arrowhead(30),
        "bidirectional",
        GreedyColoring("reversed:largest_first", postprocessing=False),
    )
    assert default.num_colors == 3 < off.num_colors


def test_color_function_beside_the_namespace():
    """``sd.color`` colors; ``sd.coloring`` is a plain (not callable) namespace,
    whose ``coloring`` is the earlier name of ``color``."""
    import sparsediff as sd

    p = banded(8, 1, 0)
    assert sd.color(p, "row").num_colors == 2
    assert sc.coloring is sc.color and sc.coloring(p).num_colors == 2
    assert sd.coloring is sc and not callable(sc)


# ---------------------------------------------------------------------------- results
def test_result_fields_and_helpers():
    p = banded(7, 1, 1)
    r = coloring(p, "column", "natural")
    assert r.shape == (7, 7) and r.num_forward == 3 and r.num_reverse == 0
    assert r.row_colors is None
    np.testing.assert_array_equal(r.colors, [0, 1, 2, 0, 1, 2, 0])
    assert [g.tolist() for g in r.groups] == [[0, 3, 6], [1, 4], [2, 5]]
    np.testing.assert_array_equal(r.forward_seeds().sum(axis=1), np.ones(7))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.num_forward = 2
    with pytest.raises(ValueError):
        r.column_colors[0] = 5
    # compress accepts dense, scipy.sparse and nonzero values; all agree.
    a = np.where(p.todense(), np.arange(49.0).reshape(7, 7) + 1, 0)
    b = r.compress(a)
    np.testing.assert_array_equal(b, r.compress(sp.csr_array(a)))
    np.testing.assert_array_equal(b, r.compress(a[p.rows, p.cols]))
    np.testing.assert_array_equal(r.to_dense(b), a)
    assert r.plan.direct_src.dtype == np.int32
    with pytest.raises(ValueError, match="shape"):
        r.decompress(b[:, :2])


def test_bidirectional_colors_are_one_color_per_pass():
    p = arrowhead(12)
    r = coloring(p, "bidirectional")
    assert r.colors.shape == (12 + 12,)
    assert r.num_colors == 3
    used = np.unique(r.colors[r.colors >= 0])
    np.testing.assert_array_equal(used, np.arange(r.num_colors))
    assert len(r.column_groups) == r.num_forward and len(r.row_groups) == r.num_reverse
    assert r.stars is not None and r.stars.num_edges == p.nnz
    assert_valid(p, r)


def test_structures_of_symmetric_results():
    p = banded(10, 1, 1)
    star = coloring(p, "symmetric")
    assert star.stars.num_edges == 9 and star.trees is None
    acyclic = coloring(p, "acyclic")
    assert acyclic.trees.num_trees >= 1 and acyclic.stars is None
    np.testing.assert_array_equal(np.sort(acyclic.trees.edge_u), np.arange(9))


def test_repr():
    r = coloring(banded(6, 1, 1), "column", "natural")
    text = repr(r)
    assert "column coloring" in text and "colors: 3" in text and "lower bound 3" in text
    assert "optimal" in text and "⋅⋅201⋅" in text
    r = coloring(arrowhead(40), "bidirectional")
    assert "passes: 3 = " in repr(r) and "forward" in repr(r)
    big = coloring(banded(500, 1, 1), "acyclic")
    assert "…" in repr(big) and "substitution" in repr(big)


def test_empty_and_tiny_patterns():
    for shape in ((0, 0), (0, 4), (3, 0), (1, 1), (3, 4)):
        p = SparsityPattern.from_dense(np.zeros(shape, dtype=bool))
        for problem in ("column", "row", "bidirectional", "acyclic_bicoloring"):
            r = coloring(p, problem)
            assert r.num_colors == 0 and r.lower_bound == 0
            assert_valid(p, r)
    one = SparsityPattern.from_dense(np.ones((1, 1)))
    for problem in ("column", "row", "symmetric", "acyclic", "bidirectional"):
        assert coloring(one, problem).num_colors == 1


# ---------------------------------------------------------------------------- validator
def test_validator_names_conflicting_columns_and_rows():
    p = banded(5, 1, 1)
    r = coloring(p, "column", "natural")
    bad = dataclasses.replace(r, column_colors=np.array([0, 0, 1, 2, 0], dtype=np.int32))
    with pytest.raises(
        InvalidColoringError, match=r"columns 0 and 1 both have color 0 and share row 0"
    ):
        check_coloring(p, bad)
    r = coloring(p, "row", "natural")
    bad = dataclasses.replace(r, row_colors=np.array([0, 1, 1, 2, 0], dtype=np.int32))
    with pytest.raises(
        InvalidColoringError, match=r"rows 1 and 2 both have color 1 and share column"
    ):
        check_coloring(p, bad)
    with pytest.raises(InvalidColoringError, match="different pattern"):
        check_coloring(banded(5, 1, 0), r)


def test_validator_rejects_a_non_star_coloring():
    p = banded(4, 1, 1)  # a path 0-1-2-3: colors 0 1 0 1 are proper but not a star coloring
    r = coloring(p, "symmetric", "natural")
    bad = dataclasses.replace(r, column_colors=np.array([0, 1, 0, 1], dtype=np.int32))
    with pytest.raises(InvalidColoringError, match=r"cannot be read directly: columns \d and \d"):
        check_coloring(p, bad)


def test_validator_rejects_a_two_colored_cycle():
    cycle = np.zeros((4, 4), dtype=bool)
    for i in range(4):
        cycle[i, (i + 1) % 4] = cycle[(i + 1) % 4, i] = cycle[i, i] = True
    p = SparsityPattern.from_dense(cycle)
    r = coloring(p, "acyclic", "natural")
    assert r.num_colors == 3
    raw = np.array([0, 1, 0, 1], dtype=np.int32)
    bad = dataclasses.replace(r, column_colors=raw, symmetric_colors=raw, num_forward=2)
    with pytest.raises(InvalidColoringError, match="close a cycle colored only with"):
        check_coloring(p, bad)


def test_validator_rejects_a_bad_bicoloring():
    p = arrowhead(6)
    r = coloring(p, "bidirectional")
    bad = dataclasses.replace(r, row_colors=np.full(6, -1, dtype=np.int32), num_reverse=0)
    with pytest.raises(InvalidColoringError, match=r"nonzero \(\d+, \d+\) cannot be read directly"):
        check_coloring(p, bad)


def test_validator_catches_a_corrupted_plan():
    p = banded(6, 1, 1)
    r = coloring(p, "acyclic", "natural")
    plan = dataclasses.replace(r.plan, subst_out_sign=-r.plan.subst_out_sign)
    with pytest.raises(InvalidColoringError, match="decompression gives"):
        check_coloring(p, dataclasses.replace(r, plan=plan))


# ---------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("seed", [0, 1])
def test_heavy_nets_give_the_same_first_fit_coloring(seed, monkeypatch):
    # Dense rows take the "next free color" tables; the colors must be exactly those
    # of the plain first-fit walk.
    from sparsediff.coloring import distance2

    rng = np.random.default_rng(seed)
    a = rng.random((300, 400)) < 0.01
    a[rng.integers(0, 300, 4), :] = True
    a[:, :300][rng.integers(0, 300, 2)] |= rng.random((2, 300)) < 0.9
    p = SparsityPattern.from_dense(a)
    for name in ("natural", "largest_first", "random"):
        graph = column_graph(p)
        order = as_order(name)(graph)
        assert distance2.heavy_nets(graph)[1] > 0
        fast = distance2.greedy_distance2(graph, order)
        monkeypatch.setattr(distance2, "HEAVY_NET_SIZE", 10**9)
        assert distance2.heavy_nets(graph)[1] == 0
        np.testing.assert_array_equal(fast, distance2.greedy_distance2(graph, order))
        monkeypatch.undo()


def test_costly_distance2_walks_fall_back_to_estimated_degrees(monkeypatch):
    from sparsediff.coloring import graphs

    p = SparsityPattern.from_dense(np.random.default_rng(3).random((40, 60)) < 0.3)
    exact = column_graph(p).degrees
    monkeypatch.setattr(graphs, "WALK_BUDGET", 10)
    g = column_graph(p)
    assert not g.exact_degrees
    assert np.all(g.degrees >= exact) and np.all(g.degrees <= p.n - 1)
    with pytest.warns(RuntimeWarning, match="largest-first"):
        order = as_order("smallest_last")(g)
    np.testing.assert_array_equal(order, as_order("largest_first")(g))
    with pytest.warns(RuntimeWarning):
        assert_valid(p, coloring(p, "column", "incidence_degree"))
