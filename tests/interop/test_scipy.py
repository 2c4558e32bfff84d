"""SciPy adapters: sparse Jacobians and Hessians as scipy.optimize consumes them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import sparsediff.scipy as sds


def broyden_tridiagonal(x):
    """Broyden's tridiagonal system: (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1 = 0."""
    left = jnp.concatenate([jnp.zeros(1, x.dtype), x[:-1]])
    right = jnp.concatenate([x[1:], jnp.zeros(1, x.dtype)])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_residual_jacobian_is_sparse_csr_and_exact():
    x = np.linspace(-1, 1, 50)
    res = sds.Residual(broyden_tridiagonal, x.astype(np.float32))
    J = res.jac(x)
    assert isinstance(J, sp.csr_array) and J.nnz == 3 * 50 - 2
    want = np.asarray(jax.jacfwd(broyden_tridiagonal)(jnp.asarray(x, jnp.float32)))
    np.testing.assert_allclose(J.toarray(), want, rtol=1e-6, atol=1e-6)
    assert (res.jac_sparsity.toarray() != 0).sum() == J.nnz
    np.testing.assert_allclose(
        res.fun(x), broyden_tridiagonal(jnp.asarray(x)), rtol=1e-5, atol=1e-6
    )
    assert res.fun(x).dtype == np.float64


def test_least_squares_matches_scipy_finite_differences():
    n = 1000
    x0 = -np.ones(n)
    with jax.enable_x64(True):
        ours = sds.least_squares(broyden_tridiagonal, x0, xtol=1e-12, ftol=1e-12, gtol=1e-12)
        fd_res = sds.Residual(broyden_tridiagonal, x0)
        theirs = scipy.optimize.least_squares(
            fd_res.fun,
            x0,
            jac_sparsity=fd_res.jac_sparsity,
            method="trf",
            tr_solver="lsmr",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
        )
    assert ours.success and np.abs(ours.fun).max() < 1e-8
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-6)
    assert ours.njev <= theirs.njev + 5


def test_minimize_trust_constr_with_sparse_hessian():
    with jax.enable_x64(True):
        x0 = np.full(20, -0.5)
        obj = sds.Objective(rosenbrock, x0)
        H = obj.hess(x0)
        assert sp.issparse(H) and H.nnz == 3 * 20 - 2
        np.testing.assert_allclose(H.toarray(), np.asarray(jax.hessian(rosenbrock)(x0)), rtol=1e-10)
        np.testing.assert_allclose(obj.hessp(x0, np.ones(20)), H @ np.ones(20), rtol=1e-10)
        out = scipy.optimize.minimize(
            obj.fun,
            x0,
            jac=obj.jac,
            hess=obj.hess,
            method="trust-constr",
            options={"gtol": 1e-10, "xtol": 1e-12, "maxiter": 2000},
        )
    np.testing.assert_allclose(out.x, np.ones(20), atol=1e-5)


def test_constraint_jacobian_and_lagrangian_hessian():
    def c(x):
        return jnp.stack([jnp.sum(x**2) - 1.0, x[0] * x[1], jnp.sin(x[2]) * x[3]])

    with jax.enable_x64(True):
        x = np.array([0.3, -0.2, 0.5, 0.7])
        con = sds.Constraint(c, x)
        v = np.array([1.5, -2.0, 0.5])
        want = np.asarray(jax.hessian(lambda z: jnp.dot(jnp.asarray(v), c(z)))(x))
        np.testing.assert_allclose(con.hess(x, v).toarray(), want, rtol=1e-12)
        np.testing.assert_allclose(con.jac(x).toarray(), np.asarray(jax.jacfwd(c)(x)))
        # a constrained problem end to end: minimise sum(x) on the unit sphere
        sphere = sds.Constraint(lambda z: jnp.sum(z**2, keepdims=True), x)
        obj = sds.Objective(lambda z: jnp.sum(z), x)
        out = scipy.optimize.minimize(
            obj.fun,
            x,
            jac=obj.jac,
            hess=obj.hess,
            method="trust-constr",
            constraints=[sphere.as_nonlinear_constraint(1.0, 1.0)],
        )
    np.testing.assert_allclose(out.x, -np.ones(4) / 2, atol=1e-4)


def test_wrong_size_is_a_clear_error():
    res = sds.Residual(broyden_tridiagonal, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="prepared for 5"):
        res.jac(np.zeros(6))
