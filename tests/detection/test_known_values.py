"""Known values (constants, masks, indices) make patterns sparser, staying valid."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

import sparsediff as sd
from tests.oracle import assert_sound

N = 8
x8 = np.ones(N, np.float32)


def banded_matrix(n):
    a = np.zeros((n, n), np.float32)
    idx = np.arange(n)
    a[idx, idx] = 2.0
    a[idx[1:], idx[:-1]] = -1.0
    a[idx[:-1], idx[1:]] = -1.0
    return a


def test_constant_banded_matrix_times_x_gives_the_band():
    a = banded_matrix(N)
    p = sd.jacobian_sparsity(lambda x: jnp.asarray(a) @ x, x8)
    np.testing.assert_array_equal(p.todense(), a != 0)
    # also through a Hessian: x^T A x has Hessian pattern A + A^T
    h = sd.hessian_sparsity(lambda x: x @ (jnp.asarray(a) @ x), x8)
    np.testing.assert_array_equal(h.todense(), a != 0)


def test_mask_multiplication_keeps_only_ones():
    mask = np.array([1, 0, 1, 1, 0, 0, 1, 0], np.float32)
    p = sd.jacobian_sparsity(lambda x: x * mask, x8)
    np.testing.assert_array_equal(p.todense(), np.diag(mask != 0))


def test_known_numerator_zeros_cut_the_denominator():
    c = np.array([1, 0, 2, 0, 1, 0, 3, 0], np.float32)
    p = sd.jacobian_sparsity(lambda x: c / (1 + x**2), x8)
    np.testing.assert_array_equal(p.todense(), np.diag(c != 0))


def test_laplacian_kernel_zero_taps_give_five_points():
    k = jnp.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]

    def f(u):
        return jnp.tanh(lax.conv_general_dilated(u, k, (1, 1), "SAME")).reshape(-1)

    u = np.ones((1, 1, 6, 6), np.float32)
    p = sd.jacobian_sparsity(f, u)
    assert_sound(p, f, (u,))
    interior = 4 * 4 * 5
    edges = 4 * 4 * 4
    corners = 4 * 3
    assert p.nnz == interior + edges + corners  # 5-point, not 9-point


def test_where_with_constant_mask_selects_branch():
    mask = np.arange(N) % 2 == 0
    p = sd.jacobian_sparsity(lambda x: jnp.where(mask, x, x[::-1]), x8)
    expected = np.where(mask[:, None], np.eye(N, dtype=bool), np.eye(N, dtype=bool)[::-1])
    np.testing.assert_array_equal(p.todense(), expected)


def test_clipped_input_dependent_index_is_bounded():
    def f(x):
        return lax.dynamic_slice(x, (jnp.clip(x[0].astype(jnp.int32), 2, 4),), (3,))

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    expected = np.zeros((3, N), bool)
    for s in (2, 3, 4):
        expected[np.arange(3), s + np.arange(3)] = True
    np.testing.assert_array_equal(p.todense(), expected)

    def g(x):
        return x[jnp.clip(jnp.argmax(x), 1, 3)] * 2

    expected = np.zeros((1, N), bool)
    expected[0, 1:4] = True
    np.testing.assert_array_equal(sd.jacobian_sparsity(g, x8).todense(), expected)


def test_cond_with_known_predicate_takes_one_branch():
    def f(x, flag):
        return lax.cond(flag, lambda y: y[::-1], lambda y: jnp.cumsum(y), x)

    np.testing.assert_array_equal(
        sd.jacobian_sparsity(f, x8, flag=True).todense(), np.eye(N, dtype=bool)[::-1]
    )


def test_known_value_limit_keeps_results_sound():
    a = banded_matrix(N)
    with sd.detection_options(known_value_limit=4):
        p = sd.jacobian_sparsity(lambda x: jnp.asarray(a) @ x, x8)
    assert_sound(p, lambda x: jnp.asarray(a) @ x, (x8,))
    assert p.nnz == N * N  # the matrix is too large to be used: dense, but sound
