"""Equinox's primitives get rules by name (no dense fallback, no warning)."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.detection.registry import UnknownPrimitiveWarning
from tests.oracle import assert_exact, assert_sound

eqx = pytest.importorskip("equinox")
eqxi = pytest.importorskip("equinox.internal")

X = np.array([0.5, -1.0, 2.0, 0.25], np.float32)


def _detect(f, x=X):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownPrimitiveWarning)
        return sd.jacobian_sparsity(f, x)


def test_nondifferentiable_backward_is_the_identity():
    def f(x):
        return eqxi.nondifferentiable_backward(x) * 2.0

    pattern = _detect(f)
    assert pattern.nnz == 4
    assert np.array_equal(pattern.todense(), np.eye(4, dtype=bool))


def test_nondifferentiable_on_a_constant_is_no_error():
    def f(x):
        return eqxi.nondifferentiable(jnp.arange(4.0)) * x

    assert_exact(_detect(f), f, (X,))


def test_nondifferentiable_on_the_input_is_a_clear_error():
    def f(x):
        return eqxi.nondifferentiable(x) + x

    with pytest.raises(ValueError, match="not differentiable"):
        _detect(f)


def test_error_if_keeps_the_pattern():
    def f(x):
        return eqx.error_if(x, x > 100, "too big") * jnp.roll(x, 1)

    assert_exact(_detect(f), f, (X,))


def test_unvmap_max_keeps_index_bounds():
    def f(x):
        return x[eqxi.unvmap_max(jnp.argmax(x[:2]))] * 1.0

    pattern = _detect(f)
    assert pattern.nnz == 2
    assert_sound(pattern, f, (X,), points=16)


@pytest.mark.parametrize("kind", ["lax", "checkpointed", "bounded"])
def test_equinox_while_loop(kind):
    def f(x):
        def body(c):
            return c[0] * 0.5 + jnp.roll(c[0], 1) ** 2, c[1] + 1

        return eqxi.while_loop(lambda c: c[1] < 3, body, (x, 0), kind=kind, max_steps=4)[0]

    pattern = _detect(f)
    assert_sound(pattern, f, (X,), points=4)
