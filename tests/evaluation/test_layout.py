"""How compressed products turn into values: unrolled products, column-colored
Hessians and contiguous slices instead of gathers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sparsediff as sd
from sparsediff.coloring import coloring
from sparsediff.evaluation.layout import segments
from sparsediff.evaluation.products import UNROLL_MAX, map_products


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def arrow_objective(x):
    return jnp.sum(x[1:] ** 2 * x[0]) + jnp.sum(jnp.cos(x))


X = np.random.default_rng(3).normal(size=30).astype(np.float32)
#: Hessian values are compared in float64, to rounding (entries from about 1 to 1e3)
X64 = X.astype(np.float64)


def assert_hessian_close(got, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-10)


@st.composite
def runs_and_shapes(draw):
    shapes = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6)), min_size=1, max_size=3))
    size = sum(c * n for c, n in shapes)
    cuts = sorted(draw(st.lists(st.integers(0, size), min_size=2, max_size=8)))
    runs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    return shapes, runs


@settings(max_examples=60, deadline=None)
@given(runs_and_shapes())
def test_segments_cover_the_flat_runs(case):
    shapes, runs = case
    blocks = []
    start = 0
    for c, n in shapes:
        blocks.append(np.arange(start, start + c * n).reshape(c, n))
        start += c * n
    flat = np.concatenate([b.reshape(-1) for b in blocks])
    starts = np.array([a for a, _ in runs], dtype=np.int64)
    stops = np.array([b for _, b in runs], dtype=np.int64)
    segs = segments(starts, stops, shapes)
    got = [blocks[k][c, lo:hi] for k, c, lo, hi in segs]
    want = [flat[a:b] for a, b in runs]
    np.testing.assert_array_equal(
        np.concatenate(got) if got else np.zeros(0, int),
        np.concatenate(want) if want else np.zeros(0, int),
    )
    assert all(lo < hi for _, _, lo, hi in segs)


@pytest.mark.parametrize("k", [1, UNROLL_MAX, UNROLL_MAX + 1])
def test_unrolled_and_vmapped_products_agree(k):
    a = jnp.asarray(np.random.default_rng(k).normal(size=(7, 5)).astype(np.float32))
    seeds = jnp.asarray(np.random.default_rng(k + 1).normal(size=(k, 5)).astype(np.float32))
    got = map_products(lambda s: a @ s, seeds, None)
    np.testing.assert_allclose(np.asarray(got), np.asarray(seeds @ a.T), rtol=1e-6)
    chunked = map_products(lambda s: a @ s, seeds, 2)
    # a batch of 2 and one of 5 may take different matrix kernels: float32 rounding apart
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(got), rtol=1e-5, atol=1e-6)


def test_tridiagonal_hessian_takes_a_column_coloring_and_slices():
    hes = sd.hessian(rosenbrock, X)
    assert hes.mode == "column"
    assert hes.num_colors == 3
    # every nonzero read from its own column's product: a few slices, no gather
    assert hes.plan.layout.runs is not None
    assert "eval_src" not in hes._device()
    with jax.enable_x64(True):
        hes64 = sd.hessian(rosenbrock, X64)
        assert hes64.mode == "column"
        full = np.asarray(jax.hessian(rosenbrock)(X64))
        out = hes64(X64)
        assert out.nse == hes64.sparsity.nnz
        assert_hessian_close(out.todense(), full)
        assert_hessian_close(jax.jit(hes64)(X64).todense(), full)


def test_column_hessian_lower_triangle_and_formats():
    with jax.enable_x64(True):
        full = np.asarray(jax.hessian(rosenbrock)(X64))
        for fmt in ("bcoo", "dense", "scipy_csr", "compressed"):
            hes = sd.hessian(rosenbrock, X64, mode="column", output_format=fmt, triangle="lower")
            out = hes(X64)
            dense = out.todense() if hasattr(out, "todense") else out
            assert_hessian_close(dense, np.tril(full))


def test_star_is_kept_when_column_coloring_needs_more_colors():
    hes = sd.hessian(arrow_objective, X)
    assert hes.mode in ("star", "acyclic")
    column = coloring(hes.sparsity, "column")
    assert column.num_colors > hes.num_colors


def test_user_supplied_colorings_of_a_hessian():
    pattern = sd.hessian_sparsity(rosenbrock, X)
    with jax.enable_x64(True):
        hes = sd.hessian(rosenbrock, X64, coloring=coloring(pattern, "column"))
        assert hes.mode == "column"
        assert_hessian_close(hes(X64).todense(), jax.hessian(rosenbrock)(X64))
    with pytest.raises(ValueError, match="Hessian needs a symmetric"):
        sd.hessian(rosenbrock, X, coloring=coloring(pattern, "row"))


def test_bicoloring_runs_span_both_blocks():
    """Runs of a bidirectional plan cross from the JVP block into the VJP block."""

    def arrow(x):
        return jnp.concatenate([x[:1] * jnp.sum(x), x[1:] * x[0] + jnp.sin(x[1:])])

    jac = sd.jacobian(arrow, X, mode="bidirectional")
    assert jac.plan.layout.blocks == ("forward", "reverse")
    assert {k for k, _, _, _ in jac.plan.layout.runs} == {0, 1}
    np.testing.assert_allclose(
        np.asarray(jac(X).todense()), np.asarray(jax.jacfwd(arrow)(X)), rtol=1e-5, atol=1e-5
    )
