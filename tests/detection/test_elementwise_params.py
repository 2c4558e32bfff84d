"""Parameters that make an elementwise derivative vanish (``ZERO_DERIVATIVE_WHEN``),
checked numerically against dense AD like the rest of the elementwise table."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import sparsediff as sd
from sparsediff.detection.rules.elementwise import ZERO_DERIVATIVE_WHEN
from tests.oracle import assert_exact

X = np.array([-1.5, 0.0, 0.5, 2.0, 3.0], np.float32)


@pytest.mark.parametrize("y", [0, 1, 2, 3, -1, -2])
def test_integer_pow_pattern_is_exact_for_every_exponent(y):
    def f(x):
        return lax.integer_pow(x + 4.0, y)  # away from 0 so negative powers are finite

    pattern = sd.jacobian_sparsity(f, X)
    assert_exact(pattern, f, (X,), points=4)
    assert pattern.nnz == (0 if y == 0 else X.size)


def test_every_table_entry_names_a_primitive_with_a_zero_derivative():
    assert set(ZERO_DERIVATIVE_WHEN) == {"integer_pow"}
    assert ZERO_DERIVATIVE_WHEN["integer_pow"]({"y": 0})
    assert not ZERO_DERIVATIVE_WHEN["integer_pow"]({"y": 1})


def test_hessian_of_a_power_zero_term_is_empty():
    def f(x):
        return jnp.sum(lax.integer_pow(x, 0) * 3.0) + x[0] ** 2

    pattern = sd.hessian_sparsity(f, X)
    assert pattern.nnz == 1
