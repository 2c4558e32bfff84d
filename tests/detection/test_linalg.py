"""Linear algebra outputs that are triangular by construction."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from tests.oracle import assert_sound


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 3)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_r_has_no_strict_lower_triangle(shape, mode):
    def f(x):
        return jnp.linalg.qr(x.reshape(shape), mode=mode)[1]

    x = np.zeros(int(np.prod(shape)), np.float32)
    pattern = sd.jacobian_sparsity(f, x)
    out_shape = f(np.random.default_rng(0).normal(size=x.shape)).shape
    rows = pattern.todense().any(axis=1).reshape(out_shape)
    lower = np.tril(np.ones(out_shape[-2:], bool), -1)
    assert not (rows & lower).any()
    assert rows[..., ~lower].all()  # the upper triangle keeps its entries
    assert_sound(pattern, f, (x,), points=4)


def test_qr_q_stays_dense_within_the_block():
    def f(x):
        return jnp.linalg.qr(x.reshape(3, 3))[0]

    pattern = sd.jacobian_sparsity(f, np.zeros(9, np.float32))
    assert pattern.nnz == 81
