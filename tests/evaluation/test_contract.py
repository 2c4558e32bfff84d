"""The API contract as users meet it: static kwargs, dtypes, complex inputs, aux,
user patterns, and how often ``f`` is traced."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.evaluation.verify import PatternMismatchError


def power(x, kind="sq"):
    return x**2 if kind == "sq" else x**3


def difference(x, periodic=False):
    return x - jnp.roll(x, 1) if periodic else x[1:] - x[:-1]


@pytest.mark.parametrize("maker", [sd.jacobian, sd.value_and_jacobian])
def test_static_keyword_arguments(maker):
    x = jnp.linspace(1.0, 2.0, 10)
    prepared = maker(power, x, kind="cube", output_format="dense")
    out = prepared(x, kind="cube")
    jac = out[1] if maker is sd.value_and_jacobian else out
    assert np.allclose(jac, jax.jacfwd(power)(x, kind="cube"))
    other = prepared(x, kind="sq")  # another static value: prepared again, cached
    jac = other[1] if maker is sd.value_and_jacobian else other
    assert np.allclose(jac, jax.jacfwd(power)(x, kind="sq"))
    periodic = sd.jacobian(difference, jnp.ones(10), periodic=True, output_format="dense")
    assert periodic.sparsity.shape == (10, 10)
    assert np.allclose(periodic(x, periodic=True), jax.jacfwd(difference)(x, periodic=True))


def test_static_keyword_arguments_lazy():
    lazy = sd.jacobian(difference, output_format="dense")
    x = jnp.linspace(0.0, 1.0, 6)
    assert np.allclose(lazy(x, periodic=True), jax.jacfwd(difference)(x, periodic=True))
    assert lazy(x, periodic=False).shape == (5, 6)


def test_hessian_with_static_keyword():
    def f(x, kind="sq"):
        return jnp.sum(power(x, kind))

    x = jnp.linspace(1.0, 2.0, 5)
    hes = sd.hessian(f, x, kind="cube", output_format="dense")
    assert np.allclose(hes(x, kind="cube"), jax.hessian(f)(x, kind="cube"))


def test_complex_inputs_need_holomorphic():
    z = jnp.array([0.5, 0.8 + 1j], jnp.complex64)
    with pytest.raises(TypeError, match="holomorphic=True"):
        sd.jacobian(lambda x: jnp.abs(x) ** 2, z)
    with pytest.raises(TypeError, match="holomorphic=True"):
        sd.hessian(lambda x: jnp.sum(x**2), z)
    with pytest.raises(TypeError, match="real floating-point output"):
        sd.hessian(lambda x: jnp.sum(x).astype(jnp.complex64), jnp.ones(3))


@pytest.mark.parametrize("mode", [None, "fwd", "rev", "bidirectional"])
def test_holomorphic_jacobian_equals_jacfwd(mode):
    def f(x):
        return jnp.sin(x) * x[::-1] + jnp.roll(x, 1) ** 2

    z = jnp.array([0.5, 0.8 + 1j, -0.3j, 2.0], jnp.complex64)
    jac = sd.jacobian(f, z, holomorphic=True, mode=mode, output_format="dense")
    assert np.allclose(jac(z), jax.jacfwd(f, holomorphic=True)(z), atol=1e-5)


def test_holomorphic_hessian_equals_jax_hessian():
    def f(x):
        return jnp.sum(jnp.sin(x) * x[::-1])

    z = jnp.array([0.5, 0.8 + 1j, -0.3j], jnp.complex64)
    hes = sd.hessian(f, z, holomorphic=True, output_format="dense")
    assert np.allclose(hes(z), jax.hessian(f, holomorphic=True)(z), atol=1e-5)


def test_non_array_aux_passes_through():
    def f(x):
        return x**2, {"name": "abc", "n": 3, "total": jnp.sum(x)}

    x = jnp.arange(3.0)
    jac, aux = sd.jacobian(f, x, has_aux=True)(x)
    assert aux["name"] == "abc" and aux["n"] == 3 and float(aux["total"]) == 3.0
    (value, aux), jac = sd.value_and_jacobian(f, x, has_aux=True)(x)
    assert aux["name"] == "abc" and np.allclose(value, x**2)
    hes, aux = sd.hessian(lambda v: (jnp.sum(v**3), "tag"), x, has_aux=True)(x)
    assert aux == "tag"


def test_wrong_user_pattern_is_caught_on_first_call():
    def f(x):
        return jnp.sin(x) * jnp.roll(x, 1)

    other = sd.jacobian_sparsity(jnp.sin, jnp.ones(9))
    x = jnp.linspace(0.1, 0.9, 9)
    with pytest.raises(PatternMismatchError, match="does not cover"):
        sd.jacobian(f, x, sparsity=other)(x)
    col = sd.color(other, "column")
    with pytest.raises(PatternMismatchError):
        sd.jacobian(f, x, coloring=col)(x)
    # verify=False trusts the user (and gets the entries the pattern holds)
    assert sd.jacobian(f, x, sparsity=other, verify=False)(x).nse == 9
    # a correct pattern passes, and the Hessian is checked too
    good = sd.jacobian_sparsity(f, x)
    assert np.allclose(sd.jacobian(f, x, sparsity=good)(x).todense(), jax.jacfwd(f)(x))
    diag = sd.hessian_sparsity(lambda v: jnp.sum(v**3), x)
    with pytest.raises(PatternMismatchError, match="hessian"):
        sd.hessian(lambda v: jnp.sum(v**3 * jnp.roll(v, 1)), x, sparsity=diag)(x)


def test_f_is_traced_twice():
    """Once for detection (its jaxpr also answers the later stages' questions),
    once when the evaluation compiles; later calls trace nothing."""
    count = [0]

    def f(x):
        count[0] += 1
        return jnp.sin(x[1:]) - x[:-1]

    jac = sd.jacobian(f, jnp.ones(5))
    jac(jnp.ones(5))
    jac(jnp.ones(5) * 2)
    assert count[0] == 2

    count[0] = 0

    def g(x):
        count[0] += 1
        return jnp.sum(jnp.sin(x[1:]) * x[:-1])

    hes = sd.value_and_hessian(g, jnp.ones(5))
    hes(jnp.ones(5))
    assert count[0] == 2


def _no_transpose(x):
    """A product of two BCOO matrices: bcoo_spdot_general has no transpose rule."""
    from jax.experimental import sparse

    idx = np.array([[0, 0], [1, 1], [0, 1]], np.int32)
    a = sparse.BCOO((jnp.tanh(x[:3]), idx), shape=(2, 2))
    return (a @ sparse.BCOO.fromdense(jnp.resize(x, (2, 2)), nse=4)).todense().ravel()[:2]


def test_reverse_mode_is_not_chosen_where_jax_has_none():
    x = jnp.arange(1.0, 5.0)
    with pytest.raises(NotImplementedError):
        jax.jacrev(_no_transpose)(x)
    jac = sd.jacobian(_no_transpose, x, output_format="dense")  # 2 rows: VJPs would be cheaper
    assert jac.mode in ("fwd", "dense_fwd")
    assert np.allclose(jac(x), jax.jacfwd(_no_transpose)(x))
    with pytest.raises(ValueError, match="needs reverse-mode AD"):
        sd.jacobian(_no_transpose, x, mode="rev")


def test_hessian_without_reverse_mode_is_forward_over_forward():
    def f(x):
        return jnp.sum(_no_transpose(x) ** 2)

    x = jnp.arange(1.0, 5.0)
    pattern = sd.hessian_sparsity(f, x)
    want = jax.jacfwd(jax.jacfwd(f))(x)
    assert not (np.abs(np.asarray(want)) > 0)[~pattern.todense()].any()
    assert np.allclose(sd.hessian(f, x, output_format="dense")(x), want, atol=1e-4)
