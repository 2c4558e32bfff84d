"""The first-call check of a user's pattern (``sparsediff.evaluation.verify``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.evaluation.verify import PatternMismatchError


def test_a_pattern_that_misses_an_entry_is_refused():
    def f(x):
        return x * x[::-1]

    diagonal = sd.jacobian_sparsity(lambda x: x * x, np.ones(4))
    wrong = sd.jacobian(f, np.ones(4), sparsity=diagonal)
    with pytest.raises(PatternMismatchError, match="does not cover f's jacobian"):
        wrong(np.arange(1.0, 5.0))


def test_infinite_derivatives_at_the_point_are_not_a_mismatch():
    """sqrt at 0: the Jacobian's diagonal is infinite there, and the check's two
    products meet the infinities along different directions."""
    x = np.array([0.0, 1.0, 4.0], np.float32)
    pattern = sd.jacobian_sparsity(jnp.sqrt, x)
    jac = sd.jacobian(jnp.sqrt, x, sparsity=pattern, output_format="dense")
    got = np.asarray(jac(x))
    np.testing.assert_array_equal(np.diag(got), np.diag(jax.jacfwd(jnp.sqrt)(x)))  # inf first


def test_nan_hessian_at_a_repeated_eigenvalue_is_not_a_mismatch():
    """Fuzz campaign 5151, program 17145: the Hessian through eigh at a matrix with a
    repeated eigenvalue is NaN in JAX's product; the sparse one was compared with it."""

    def f(x):
        m = jnp.tanh(jnp.resize(x, (2, 2)))
        v = jnp.linalg.eigh(m @ m.T + 2.0 * jnp.eye(2, dtype=x.dtype))[0]
        return jnp.sum(jnp.sin(v) * (1.0 + v))

    x = np.zeros(2, np.float32)
    hess = sd.hessian(f, x, sparsity=sd.hessian_sparsity(f, x), output_format="dense")
    got = np.asarray(hess(x))
    want = np.asarray(jax.hessian(f)(x))
    both = np.isfinite(got) & np.isfinite(want)
    np.testing.assert_allclose(got[both], want[both], rtol=1e-5)
    # a point where everything is finite is still checked, and agrees
    y = np.array([0.3, -0.7], np.float32)
    np.testing.assert_allclose(hess(y), jax.hessian(f)(y), rtol=1e-4, atol=1e-5)


def test_a_symmetric_coloring_of_a_non_symmetric_hessian_is_refused_by_name():
    """A star coloring forced on a function whose custom rule makes JAX's Hessian
    non-symmetric: the pattern covers it, so the message says what is wrong instead."""
    from tests.evaluation.test_modes import X, lopsided

    pattern = sd.hessian_sparsity(lopsided, X)
    star = sd.hessian(lopsided, X, sparsity=pattern, mode="star")
    with pytest.raises(PatternMismatchError, match="Hessian of f is not symmetric.*mode='column'"):
        star(X)
    column = sd.hessian(lopsided, X, sparsity=pattern, mode="column", output_format="dense")
    np.testing.assert_allclose(np.asarray(column(X)), jax.hessian(lopsided)(X), rtol=1e-5,
                               atol=1e-5)  # fmt: skip


def test_a_symmetric_hessian_that_the_pattern_misses_is_still_blamed_on_the_pattern():
    def f(x):
        return jnp.sum(x * x[::-1] * x)

    x = jnp.arange(1.0, 7.0)
    diagonal = sd.hessian_sparsity(lambda z: jnp.sum(z**3), x)
    wrong = sd.hessian(f, x, sparsity=diagonal, mode="star")
    with pytest.raises(PatternMismatchError, match="does not cover f's hessian"):
        wrong(x)


def test_the_error_is_public():
    assert sd.PatternMismatchError is PatternMismatchError
    assert issubclass(sd.PatternMismatchError, ValueError)


def test_a_forced_symmetric_mode_on_a_non_symmetric_pattern_is_checked_on_the_first_call():
    from tests.evaluation.test_modes import X, lopsided

    for mode in ("star", "acyclic"):
        forced = sd.hessian(lopsided, X, mode=mode)
        with pytest.raises(PatternMismatchError, match="Hessian of f is not symmetric"):
            forced(X)
    # a symmetric pattern forced to star is not checked (nothing can go wrong there)
    plain = sd.hessian(lambda x: jnp.sum(jnp.sin(x[1:] * x[:-1])), X, mode="star")
    assert not plain._verify_pending
