"""``SparseDerivative.nonzeros``: the values alone, in the output pattern's order."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.evaluation.verify import PatternMismatchError


def _residual(x):
    return jnp.concatenate([jnp.sin(x[1:] * x[:-1]), x[:1] ** 3, jnp.cumsum(x[-3:])])


def _energy(x, w):
    return jnp.sum(w * jnp.cos(x[1:] - x[:-1]) ** 2) + x[0] * x[-1]


def _expected(dense: np.ndarray, pattern) -> np.ndarray:
    return dense[np.asarray(pattern.rows), np.asarray(pattern.cols)]


@pytest.mark.parametrize(
    "fmt", ["compressed", "bcoo", "bcsr", "dense", "scipy_csr", "scipy_coo", "numpy"]
)
def test_jacobian_nonzeros_follow_the_output_pattern(fmt):
    x = np.linspace(0.3, 1.7, 9)
    jac = sd.jacobian(_residual, x, output_format=fmt)
    got = np.asarray(jac.nonzeros(x))
    want = _expected(np.asarray(jax.jacfwd(_residual)(x)), jac.output_pattern)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert got.shape == (jac.output_pattern.nnz,)


@pytest.mark.parametrize("triangle", [None, "lower", "upper"])
def test_hessian_nonzeros_with_a_second_argument_and_a_triangle(triangle):
    x = np.linspace(-1.0, 2.0, 8)
    w = np.arange(1.0, 8.0)
    hess = sd.hessian(_energy, x, w, triangle=triangle, output_format="compressed")
    got = np.asarray(hess.nonzeros(x + 0.1, w))
    want = _expected(np.asarray(jax.hessian(_energy)(x + 0.1, w)), hess.output_pattern)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the same values as the object a call builds
    np.testing.assert_array_equal(got, np.asarray(hess(x + 0.1, w).values))


def test_nonzeros_accept_what_a_call_accepts():
    x = np.linspace(0.3, 1.7, 9)
    jac = sd.jacobian(_residual, x, output_format="compressed")
    want = np.asarray(jac(x).values)
    # a list is a pytree of scalars, as in a call
    with pytest.raises(ValueError, match="prepared for other arguments"):
        jac.nonzeros(list(x))
    np.testing.assert_array_equal(np.asarray(jac.nonzeros(jnp.asarray(x))), want)
    np.testing.assert_array_equal(np.asarray(jax.jit(jac.nonzeros)(x)), want)


def _scaled(x, *, scale, kind, w=None):
    y = scale * jnp.sin(x) * x[::-1] if kind == "a" else jnp.cos(x)
    return y if w is None else y * w


def test_nonzeros_take_the_keyword_arguments_of_a_call():
    x = np.linspace(0.1, 0.9, 5)
    jac = sd.jacobian(_scaled, x, scale=2.0, kind="a", w=jnp.ones(5), output_format="dense")
    w = jnp.arange(1.0, 6.0)
    got = np.asarray(jac.nonzeros(x, scale=2.0, kind="a", w=w))
    want = _expected(np.asarray(jac(x, scale=2.0, kind="a", w=w)), jac.output_pattern)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, _expected(np.asarray(jax.jacfwd(_scaled)(x, scale=2.0,
        kind="a", w=w)), jac.output_pattern), rtol=1e-6)  # fmt: skip


def test_nonzeros_refuse_other_static_keyword_arguments_by_name():
    """Their pattern may differ from output_pattern (here kind="b" is diagonal), so
    unlike a call, nonzeros() does not prepare for them."""
    x = np.linspace(0.1, 0.9, 5)
    jac = sd.jacobian(_scaled, x, scale=2.0, kind="a")
    for kwargs, got in [({}, "got none"), ({"scale": 2.0, "kind": "b"}, "got kind='b', scale=2.0")]:
        with pytest.raises(ValueError, match=f"prepared with \\(kind='a', scale=2.0\\); {got}"):
            jac.nonzeros(x, **kwargs)
    with pytest.raises(ValueError, match="array keyword arguments differ"):
        jac.nonzeros(x, scale=2.0, kind="a", w=jnp.ones(5))


def test_nonzeros_refuse_other_arguments():
    jac = sd.jacobian(_residual, np.zeros(9))
    with pytest.raises(ValueError, match="prepared for other arguments"):
        jac.nonzeros(np.zeros(10))
    with pytest.raises(ValueError, match="prepared for other arguments"):
        jac.nonzeros(np.zeros(9), np.zeros(9))


def test_nonzeros_refuse_a_derivative_with_more_than_values():
    def with_aux(x):
        return _residual(x), {"note": "aux"}

    for prepared in (
        sd.value_and_jacobian(_residual, np.zeros(9)),
        sd.jacobian(with_aux, np.zeros(9), has_aux=True),
    ):
        with pytest.raises(TypeError, match="with_value or has_aux"):
            prepared.nonzeros(np.zeros(9))


def test_nonzeros_check_a_users_pattern_on_first_use():
    def f(x):
        return jnp.sin(x) * jnp.roll(x, 1)

    x = np.linspace(0.1, 0.9, 9)
    diagonal = sd.jacobian_sparsity(jnp.sin, x)
    jac = sd.jacobian(f, x, sparsity=diagonal)
    with pytest.raises(PatternMismatchError, match="does not cover"):
        jac.nonzeros(x)


@pytest.mark.parametrize("fmt", ["bcoo", "dense"])
def test_direct_nonzeros_copy_nothing_to_the_device_after_the_first_call(fmt):
    # values in evaluation order (bcoo) or a dense matrix: nonzeros reorders or picks them;
    # its index stays on the device, so a call copies nothing from the host (it used to
    # copy the index and gather op by op: 0.4 ms at 10^3 values)
    x = jnp.linspace(0.3, 1.7, 9)
    jac = sd.jacobian(_residual, x, output_format=fmt)
    assert fmt == "dense" or jac.plan.layout.order is not None  # a reordering case
    first = np.asarray(jac.nonzeros(x))
    with jax.transfer_guard_host_to_device("disallow"):
        again = jac.nonzeros(x)
    np.testing.assert_array_equal(np.asarray(again), first)
    want = _expected(np.asarray(jax.jacfwd(_residual)(x)), jac.output_pattern)
    np.testing.assert_allclose(first, want, rtol=1e-6, atol=1e-7)
