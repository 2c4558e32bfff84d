"""Ipopt adapter: callbacks equal dense JAX derivatives; a small hanging chain solves."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.ipopt import IpoptProblem
from sparsediff.problems import chain_bounds, chain_energy, chain_length, chain_start


def small_nlp():
    def f(x):
        return jnp.sum((x - 1.0) ** 2) + x[0] * x[3]

    def c(x):
        return jnp.stack([jnp.sum(x**2), x[1] * x[2], jnp.exp(x[3]) - x[0]])

    return f, c


def test_callbacks_match_dense_derivatives():
    f, c = small_nlp()
    with jax.enable_x64(True):
        x = np.array([0.3, -0.4, 0.8, 0.1])
        nlp = IpoptProblem(f, x, c)
        rows, cols = nlp.jacobianstructure()
        J = np.asarray(jax.jacfwd(c)(x))
        np.testing.assert_allclose(nlp.jacobian(x), J[rows, cols])
        assert np.count_nonzero(J) <= rows.size < J.size
        lam, sigma = np.array([0.5, -1.0, 2.0]), 0.7
        H = np.asarray(jax.hessian(lambda z: sigma * f(z) + jnp.dot(jnp.asarray(lam), c(z)))(x))
        hr, hc = nlp.hessianstructure()
        assert (hr >= hc).all()
        np.testing.assert_allclose(nlp.hessian(x, lam, sigma), H[hr, hc], rtol=1e-12)
        # every nonzero of the lower triangle is in the structure
        lower = np.tril(np.abs(H) > 0)
        got = np.zeros_like(lower)
        got[hr, hc] = True
        assert not (lower & ~got).any()
        np.testing.assert_allclose(nlp.gradient(x), np.asarray(jax.grad(f)(x)))
        np.testing.assert_allclose(nlp.constraints(x), np.asarray(c(x)))
        assert nlp.objective(x) == pytest.approx(float(f(x)))


def test_bound_errors_are_clear():
    f, c = small_nlp()
    with pytest.raises(ValueError, match="lb has 3 entries; expected 4"):
        IpoptProblem(f, np.zeros(4, np.float32), c, lb=np.zeros(3))


def test_hanging_chain_solves():
    """COPS catenary (a = 1, b = 3, L = 4): optimal energy 5.06848 per COPS 3.0."""
    pytest.importorskip(
        "cyipopt",
        reason="cyipopt is not installed (needs Ipopt: apt-get install coinor-libipopt-dev "
        "liblapack-dev libblas-dev pkg-config, then pip install cyipopt)",
    )
    intervals = 200
    lb, ub = chain_bounds(intervals)
    with jax.enable_x64(True):
        nlp = IpoptProblem(
            chain_energy, chain_start(intervals), lambda y: chain_length(y, 4.0), lb=lb, ub=ub
        )
        assert nlp.jac.num_colors == 1  # one dense row: a single VJP
        y, info = nlp.solve(print_level=0, tol=1e-10)
        assert info["status"] == 0, info["status_msg"]
        assert abs(float(chain_length(y, 4.0)[0])) < 1e-8
    assert info["obj_val"] == pytest.approx(5.0685, abs=2e-3)
    assert y[0] == pytest.approx(1.0) and y[-1] == pytest.approx(3.0)
    assert y.min() < 1.0  # it sags below the lower end
    stats = nlp.stats
    assert stats["hessian"][0] > 0 and stats["first_derivatives"][0] > 0
    # Ipopt asks for values at trial points, the first derivatives at accepted ones
    assert stats["functions"][0] >= stats["first_derivatives"][0]


def test_values_and_first_derivatives_are_one_call_each_per_point():
    f, c = small_nlp()
    calls = []

    def counted(x):
        calls.append(1)
        return f(x)

    with jax.enable_x64(True):
        x = np.array([0.3, -0.4, 0.8, 0.1])
        nlp = IpoptProblem(counted, x, c)
        jac = sd.jacobian(c, x)
        traced = len(calls)
        value, cons = nlp.objective(x), nlp.constraints(x)
        assert len(calls) == traced + 1  # one trace of the values' function, one call
        assert nlp.stats["functions"][0] == 1 and nlp.stats["first_derivatives"][0] == 0
        grad, jvals = nlp.gradient(x), nlp.jacobian(x)
        assert len(calls) == traced + 2  # and one of the first derivatives' function
        assert nlp.stats["first_derivatives"][0] == 1
        assert value == pytest.approx(float(f(x)))
        grad[:] = 0.0  # the caller owns what it gets: the kept results are untouched
        cons[:] = 0.0
        jvals[:] = 0.0
        np.testing.assert_allclose(nlp.gradient(x), np.asarray(jax.grad(f)(x)))
        np.testing.assert_allclose(nlp.constraints(x), np.asarray(c(x)))
        dense = np.asarray(jac(x).todense())
        np.testing.assert_allclose(nlp.jacobian(x), dense[nlp.jacobianstructure()])
        y = x + 0.25  # a new point: computed again (no new trace)
        dense = np.asarray(jax.jacfwd(c)(y))
        np.testing.assert_allclose(nlp.jacobian(y), dense[nlp.jacobianstructure()])
        np.testing.assert_allclose(nlp.gradient(y), np.asarray(jax.grad(f)(y)))
        np.testing.assert_allclose(nlp.constraints(y), np.asarray(c(y)))
        assert nlp.objective(y) == pytest.approx(float(f(y)))
        assert len(calls) == traced + 2
        # every evaluation counted once, however many callbacks it answered
        assert [nlp.stats[k][0] for k in ("functions", "first_derivatives")] == [2, 2]


def test_a_float32_problem_takes_ipopts_float64_arrays():
    f, c = small_nlp()
    x = np.array([0.3, -0.4, 0.8, 0.1], np.float32)
    nlp = IpoptProblem(f, x, c)
    x64 = x.astype(np.float64)
    out = nlp.gradient(x64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.asarray(jax.grad(f)(x)), rtol=1e-6)
    h = nlp.hessian(x64, np.array([0.5, -1.0, 2.0]), 0.7)
    assert h.dtype == np.float64 and h.shape == nlp.hessianstructure()[0].shape


def test_callbacks_of_a_problem_that_keeps_its_residuals():
    """Transcendental constraints with three colors: the Jacobian and the Hessian
    compute their transcendental functions once, inside the first-derivatives call
    too; the callbacks equal dense JAX derivatives."""

    def f(x):
        return jnp.sum(100.0 * (x[:-1] ** 2 - x[1:]) ** 2 + (x[:-1] - 1.0) ** 2)

    def c(x):
        a, b, d = x[:-2], x[1:-1], x[2:]
        return 3.0 * b**3 + 2.0 * d + jnp.sin(b - d) * jnp.sin(b + d) - a * jnp.exp(a - b)

    with jax.enable_x64(True):
        x = np.linspace(-1.0, 1.0, 30)
        nlp = IpoptProblem(f, x, c)
        assert nlp.jac._run.keep and nlp.hess._run.keep
        # the values computed once survive inside the adapter's own executable
        first = nlp._first.fn.lower(x).compile().as_text()
        assert " conditional(" in first
        lam = np.linspace(0.5, 1.5, nlp.m)
        y = x + 0.05
        rows, cols = nlp.jacobianstructure()
        np.testing.assert_allclose(nlp.jacobian(y), np.asarray(jax.jacfwd(c)(y))[rows, cols])
        np.testing.assert_allclose(nlp.gradient(y), np.asarray(jax.grad(f)(y)))
        rows, cols = nlp.hessianstructure()
        dense = jax.hessian(lambda z: 0.7 * f(z) + jnp.vdot(lam, c(z)))(y)
        np.testing.assert_allclose(
            nlp.hessian(y, lam, 0.7), np.asarray(dense)[rows, cols], rtol=1e-10
        )
