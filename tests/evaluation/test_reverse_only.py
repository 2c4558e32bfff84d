"""Functions JAX differentiates in reverse mode only (``jax.custom_vjp`` on the forward
path): Jacobians from VJPs, Hessians from reverse over reverse, and their checks.

``jax.hessian`` (forward over reverse) and ``jax.jacfwd`` refuse these functions;
``jax.jacrev`` and ``jax.jacrev(jax.grad(f))`` are the references.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.evaluation import modes


@jax.custom_vjp
def cube(x):
    """x**3 elementwise; its backward rule calls ``cube`` itself (on the primal)."""
    return x**3


cube.defvjp(lambda x: (cube(x), x), lambda x, g: (3.0 * x**2 * g,))


@jax.custom_vjp
def rolled(x):
    """Identity whose backward rule adds the rolled cotangent: second derivatives through
    it are not symmetric."""
    return x * 1.0


rolled.defvjp(lambda x: (rolled(x), None), lambda _, g: (g + jnp.roll(g, 1),))


def chain(x):
    return jnp.sum(cube(x[1:] - x[:-1]) ** 2) + jnp.sum(jnp.sin(x))


def lopsided(x):
    v = rolled(x)
    return jnp.sum(jnp.sin(2.0 * v) * (1.0 + v)) + jnp.sum(cube(x) * x[::-1])


X = jnp.linspace(0.1, 0.9, 12)


def reference(f):
    return np.asarray(jax.jacrev(jax.grad(f))(X))


@pytest.mark.parametrize("f", [chain, lopsided])
def test_jax_hessian_refuses_these_functions(f):
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.hessian(f)(X)


@pytest.mark.parametrize("fmt", ["dense", "bcoo"])
@pytest.mark.parametrize("chunk", [None, 2])
def test_hessian_by_reverse_over_reverse(fmt, chunk):
    d = sd.hessian(chain, X, output_format=fmt, chunk_size=chunk)
    assert d.mode in ("star", "acyclic", "column") and d.num_colors < X.size
    h = d(X)
    h = np.asarray(h if fmt == "dense" else h.todense())
    np.testing.assert_allclose(h, reference(chain), rtol=1e-5, atol=1e-5)
    # inside a caller's jit, and the value and gradient from the same passes
    np.testing.assert_allclose(jax.jit(lambda z: d(z))(X) if fmt == "dense" else
                               jax.jit(lambda z: d(z).todense())(X), h, rtol=1e-6)  # fmt: skip
    v, g, h2 = sd.value_and_hessian(chain, X, output_format="dense")(X)
    np.testing.assert_allclose(g, jax.grad(chain)(X), rtol=1e-6)
    np.testing.assert_allclose(h2, h, rtol=1e-6, atol=1e-6)


def test_one_triangle():
    d = sd.hessian(chain, X, triangle="lower", output_format="dense")
    np.testing.assert_allclose(d(X), np.tril(reference(chain)), rtol=1e-5, atol=1e-5)


def test_rules_of_both_sides_keep_this_hessian_symmetric():
    """Through ``rolled`` JAX's forward-over-reverse Hessian would not be symmetric (see
    test_modes); reverse over reverse applies the rule on both sides."""
    h = reference(lopsided)
    np.testing.assert_allclose(h, h.T, atol=1e-5)
    d = sd.hessian(lopsided, X, output_format="dense")
    assert d.num_colors < X.size
    np.testing.assert_allclose(d(X), h, rtol=1e-5, atol=1e-5)


def test_a_non_symmetric_pattern_gets_the_dense_mode():
    """Products are rows here, so a column coloring cannot read a non-symmetric pattern."""
    n = 8
    rows = np.r_[np.arange(n), np.arange(1, n)]
    cols = np.r_[np.arange(n), np.arange(n - 1)]
    p = sd.SparsityPattern(rows, cols, (n, n))
    assert modes.choose(p, "hessian", None, forward_ok=True, symmetric_ok=False).mode == "column"
    assert modes.choose(p, "hessian", None, forward_ok=False, symmetric_ok=False).mode == "dense"
    with pytest.raises(ValueError, match="mode 'column' .* jax.custom_vjp.*mode='dense'"):
        modes.choose(p, "hessian", "column", forward_ok=False)
    # on a symmetric pattern the products of either side are the same
    sym = sd.SparsityPattern(np.r_[rows, cols], np.r_[cols, rows], (n, n))
    assert modes.choose(sym, "hessian", "column", forward_ok=False).mode == "column"


def test_a_given_pattern_that_misses_entries_is_refused():
    """The first-call check takes vᵀ J where JAX has no forward mode; before, it skipped
    the check silently for these functions."""
    f = lambda x: cube(x[1:] * x[:-1])  # noqa: E731
    full = sd.jacobian_sparsity(f, X)
    diagonal = sd.SparsityPattern(np.arange(11), np.arange(11), full.shape)
    with pytest.raises(sd.PatternMismatchError, match="does not cover"):
        sd.jacobian(f, X, sparsity=diagonal)(X)
    np.testing.assert_allclose(
        sd.jacobian(f, X, sparsity=full)(X).todense(), jax.jacrev(f)(X), rtol=1e-6
    )
    band = sd.SparsityPattern(np.arange(12), np.arange(12), (12, 12))
    with pytest.raises(sd.PatternMismatchError, match="does not cover"):
        sd.hessian(chain, X, sparsity=band)(X)
    sd.hessian(chain, X, sparsity=sd.hessian_sparsity(chain, X))(X)  # passes its check


def test_check_functions_use_reverse_mode():
    f = lambda x: cube(x[1:] * x[:-1])  # noqa: E731
    sd.check_jacobian(f, X, prepared=sd.jacobian(f, X))
    sd.check_hessian(chain, X, prepared=sd.hessian(chain, X))
    sd.check_hessian(lopsided, X, prepared=sd.hessian(lopsided, X))


def test_odeint_hessian():
    """jax.experimental.ode.odeint: its backward rule integrates the adjoint with odeint."""
    from jax.experimental.ode import odeint

    ts = jnp.array([0.0, 0.1])

    def f(x):
        y = odeint(lambda y, t: -(y**3), x[:3], ts)[-1]
        return jnp.sum(y**2) + jnp.sum(x[1:] * x[:-1] ** 2)

    x = np.linspace(0.2, 1.0, 8).astype(np.float32)
    d = sd.hessian(f, x, output_format="dense")
    np.testing.assert_allclose(d(x), jax.jacrev(jax.grad(f))(x), rtol=1e-4, atol=1e-5)
