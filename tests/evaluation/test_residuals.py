"""Transcendental functions computed once for all products (``sparsediff.evaluation.residuals``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.evaluation import residuals


def lukvle1_constraints(x):
    """Three transcendental functions, three colors forward (Lukšan-Vlček 5.1)."""
    a, b, c = x[:-2], x[1:-1], x[2:]
    return 3.0 * b**3 + 2.0 * c + jnp.sin(b - c) * jnp.sin(b + c) + 4.0 * b - a * jnp.exp(a - b)


def lagrangian(x, lam):
    return jnp.sum(100.0 * (x[:-1] ** 2 - x[1:]) ** 2) + jnp.vdot(lam, lukvle1_constraints(x))


X = np.linspace(-1.0, 1.2, 40)
LAM = np.linspace(0.5, 1.5, 38)


def _count_op(text: str, op: str) -> int:
    return sum(
        line.split("=", 1)[1].lstrip().split(" ", 1)[1].startswith(op + "(")
        for line in text.splitlines()
        if " = " in line and "%" in line.split("=")[0]
    )


def test_keeps_needs_transcendentals_products_and_one_batch():
    assert residuals.keeps(2, 3, None, False)
    assert residuals.keeps(5, 9, 9, False)
    assert not residuals.keeps(1, 9, None, False)  # one transcendental: XLA computes it once
    assert residuals.keeps(3, 2, None, False)
    assert not residuals.keeps(3, 1, None, False)  # one product: nothing to share
    assert not residuals.keeps(3, 9, 4, False)  # chunked products (lax.map)
    assert not residuals.keeps(3, 9, None, True)  # products split over devices


def test_a_jacobian_keeps_its_residuals_and_equals_jacfwd():
    with jax.enable_x64(True):
        jac = sd.jacobian(lukvle1_constraints, X)
        assert jac.num_colors >= residuals.KEEP_MIN_PRODUCTS and jac._run.keep
        want = np.asarray(jax.jacfwd(lukvle1_constraints)(X + 0.1))
        np.testing.assert_allclose(jac(X + 0.1).todense(), want, rtol=1e-12, atol=1e-12)
        # the conditionals are in the compiled evaluation
        text = jac._jitted.lower((X,), [], jac._device()).compile().as_text()
        assert _count_op(text, "conditional") >= 2


@pytest.mark.parametrize("mode", [None, "rev", "dense_fwd"])
def test_every_mode_keeps_values(mode):
    with jax.enable_x64(True):
        jac = sd.jacobian(lukvle1_constraints, X, mode=mode)
        want = np.asarray(jax.jacfwd(lukvle1_constraints)(X - 0.2))
        np.testing.assert_allclose(jac(X - 0.2).todense(), want, rtol=1e-12, atol=1e-12)


def test_a_hessian_keeps_its_residuals_and_equals_jax_hessian():
    with jax.enable_x64(True):
        hess = sd.hessian(lagrangian, X, LAM)
        assert hess._run.keep
        want = np.asarray(jax.hessian(lagrangian)(X, LAM))
        np.testing.assert_allclose(hess(X, LAM).todense(), want, rtol=1e-10, atol=1e-9)


def test_no_options_where_nothing_is_kept():
    def one_tanh(x):
        return jnp.tanh(x[1:] * x[:-1] + x[2:].sum())  # dense-ish: many colors, one tanh

    def polynomial(x):
        return x[1:] ** 2 * x[:-1] + x[2:].sum()

    assert not sd.jacobian(one_tanh, X)._run.keep
    assert not sd.jacobian(polynomial, X)._run.keep
    # one color (a diagonal Jacobian): nothing to share
    assert sd.jacobian(lambda x: jnp.sin(x) * jnp.exp(x), X).num_colors == 1
    assert not sd.jacobian(lambda x: jnp.sin(x) * jnp.exp(x), X)._run.keep


def test_inside_a_callers_jit_the_values_are_kept_too():
    """A conditional holds inside a caller's jit (an optimization barrier did not:
    XLA's CPU pipeline drops it there), and under a vmap it folds away."""
    x32 = X.astype(np.float32)
    jac = sd.jacobian(lukvle1_constraints, x32)
    assert jac._run.keep
    want = np.asarray(jax.jacfwd(lukvle1_constraints)(x32))
    text = jax.jit(lambda x: jac(x).todense()).lower(x32).compile().as_text()
    assert _count_op(text, "conditional") >= 2
    got = jax.jit(lambda x: jac(x).todense())(x32)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert jax.jit(jac.nonzeros)(x32).shape == (jac.sparsity.nnz,)
    batch = np.stack([x32, x32 + 0.1])
    got = jax.jit(jax.vmap(lambda x: jac(x).todense()))(batch)
    np.testing.assert_allclose(got[1], jax.jacfwd(lukvle1_constraints)(batch[1]), rtol=1e-5,
                               atol=1e-5)  # fmt: skip


def test_linearized_traces_once_and_changes_no_value():
    calls = []

    def g(x):
        calls.append(1)
        return lukvle1_constraints(x), jnp.sum(x)

    def run(keep):
        def f(x):
            y, lin, aux = residuals.linearized(lambda z: jax.linearize(g, z, has_aux=True), x, keep)
            return y, aux, jax.vmap(lin)(jnp.eye(x.size)[:3])

        return jax.jit(f)(X)

    plain = run(False)
    assert len(calls) == 1
    kept = run(True)
    assert len(calls) == 2  # once per compilation, as without
    for a, b in zip(plain, kept, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_linearized_keeps_nothing_beyond_the_byte_bound(monkeypatch):
    def program():
        def f(x):  # a new function each time: JAX keeps traces of the same one
            y, lin, _ = residuals.linearized(
                lambda z: jax.linearize(lambda w: (lukvle1_constraints(w), 0.0), z, has_aux=True),
                x,
                True,
            )
            return lin(x)

        return str(jax.make_jaxpr(f)(X))

    assert "cond[" in program()
    monkeypatch.setattr(residuals, "KEEP_MAX_BYTES", 8)
    assert "cond[" not in program()


def cart_pole_like(z):
    """sin and cos of one angle, read by many residuals of the linearisation."""
    theta, w, u = z[0], z[1], z[2]
    s, c = jnp.sin(theta), jnp.cos(theta)
    den = 1.0 + 0.3 * (1.0 - c**2)
    acc = (0.5 * s * w**2 + u + 2.0 * c * s) / den
    return jnp.concatenate([acc[1:] - acc[:-1] + w[1:], (u * c + s * w)[1:] - theta[:-1]])


def test_each_transcendental_is_computed_once_where_residuals_are_kept():
    z = np.stack([np.linspace(0.1, 3.0, 50), np.linspace(-1.0, 1.0, 50), np.ones(50)])
    with jax.enable_x64(True):
        jac = sd.jacobian(cart_pole_like, z)
        assert jac._run.keep and jac.num_colors >= 2
        # one sine and one cosine in each branch of their conditionals, shared by
        # all residuals and products; without the conditionals XLA computed them
        # once per residual that reads them. Directly and inside a caller's jit.
        direct = jac._jitted.lower((z,), [], jac._device()).compile().as_text()
        inside = jax.jit(lambda v: jac(v).todense()).lower(z).compile().as_text()
        for text in (direct, inside):
            assert _count_op(text, "sine") == 2 and _count_op(text, "cosine") == 2
        want = np.asarray(jax.jacfwd(cart_pole_like)(z + 0.1)).reshape(98, -1)
        np.testing.assert_allclose(jac(z + 0.1).todense(), want, rtol=1e-12, atol=1e-12)
