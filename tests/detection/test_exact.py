"""Cases whose true global pattern is known: detection must be sound and exact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import sparsediff as sd
from tests.oracle import assert_sound

N = 7


def eye(n, k=0, m=None):
    return np.eye(n, m if m is not None else n, k=k, dtype=bool)


def band(n, lo, hi):
    out = np.zeros((n, n), dtype=bool)
    for k in range(-lo, hi + 1):
        out |= eye(n, k)
    return out


def perm_matrix(perm, n):
    out = np.zeros((len(perm), n), dtype=bool)
    out[np.arange(len(perm)), perm] = True
    return out


x7 = np.ones(N, np.float32)
X34 = np.ones((3, 4), np.float32)
X33 = np.ones((3, 3), np.float32)


@jax.custom_jvp
def ste_round(x):
    return jnp.round(x)


ste_round.defjvp(lambda p, t: (ste_round(p[0]), t[0]))


@jax.custom_vjp
def mixing(x):
    return 2 * x


mixing.defvjp(lambda x: (mixing(x), None), lambda r, g: (2 * g + jnp.roll(g, 1),))


@jax.custom_jvp
def softclip(x):
    return jnp.clip(x, -1, 1)


softclip.defjvp(lambda p, t: (softclip(p[0]), t[0] * jnp.exp(-(p[0] ** 2))))


def _xx_pattern():
    # d(X@X)[i,j]/dX[a,b] != 0 iff a == i or b == j
    out = np.zeros((9, 9), dtype=bool)
    for i in range(3):
        for j in range(3):
            for a in range(3):
                for b in range(3):
                    out[i * 3 + j, a * 3 + b] = a == i or b == j
    return out


def _convolve_pattern(n, k):
    m = n + k - 1
    out = np.zeros((m, n), dtype=bool)
    for i in range(m):
        for j in range(n):
            out[i, j] = 0 <= i - j < k
    return out


def _row_block(rows, cols, axis):
    """Pattern of a reduction of a (rows, cols) matrix along ``axis``."""
    if axis == 1:
        return np.kron(np.eye(rows, dtype=bool), np.ones((1, cols), bool))
    return np.kron(np.ones((1, rows), bool), np.eye(cols, dtype=bool))


def _einsum_pattern():
    # out[b,i,k] = sum_j A[b,i,j] B[b,j,k]; input: A (2,2,3) only
    out = np.zeros((2 * 2 * 2, 2 * 2 * 3), dtype=bool)
    for b in range(2):
        for i in range(2):
            for k in range(2):
                for j in range(3):
                    out[(b * 2 + i) * 2 + k, (b * 2 + i) * 3 + j] = True
    return out


JACOBIAN_CASES = {
    "difference": (lambda x: x[1:] - x[:-1], (x7,), eye(N - 1, 0, N) | eye(N - 1, 1, N)),
    "squared_difference": (
        lambda x: (x[1:] - x[:-1]) ** 2,
        (x7,),
        eye(N - 1, 0, N) | eye(N - 1, 1, N),
    ),
    "roll": (lambda x: jnp.roll(x, 2), (x7,), perm_matrix(np.roll(np.arange(N), 2), N)),
    "reverse": (lambda x: x[::-1], (x7,), perm_matrix(np.arange(N)[::-1], N)),
    "pad_concatenate": (
        lambda x: jnp.concatenate([jnp.pad(x, (2, 1)), x[:3]]),
        (x7,),
        np.vstack([np.zeros((2, N), bool), eye(N), np.zeros((1, N), bool), eye(3, 0, N)]),
    ),
    "reshape_transpose": (
        lambda X: X.reshape(4, 3).T,
        (X34,),
        perm_matrix(np.arange(12).reshape(4, 3).T.reshape(-1), 12),
    ),
    "outer_broadcast": (
        lambda x: x[:3, None] * x[None, 3:],
        (x7,),
        np.array([[j == i or j == 3 + k for j in range(N)] for i in range(3) for k in range(4)]),
    ),
    "elementwise_chain": (lambda x: jnp.tanh(jnp.exp(x) * jnp.sin(x)) ** 2 + 1, (x7,), eye(N)),
    "minus_mean": (lambda x: x - jnp.mean(x), (x7,), np.ones((N, N), bool)),
    "row_sums": (lambda X: X.sum(axis=1), (X34,), _row_block(3, 4, 1)),
    "column_maxima": (lambda X: X.max(axis=0), (X34,), _row_block(3, 4, 0)),
    "cumsum": (jnp.cumsum, (x7,), np.tril(np.ones((N, N), bool))),
    "cumprod": (jnp.cumprod, (x7,), np.tril(np.ones((N, N), bool))),
    "sort": (jnp.sort, (x7,), np.ones((N, N), bool)),
    "softmax": (jax.nn.softmax, (x7,), np.ones((N, N), bool)),
    "argmax": (lambda x: jnp.argmax(x).astype(jnp.float32) * 1.0, (x7,), np.zeros((1, N), bool)),
    "floor_round_sign": (
        lambda x: jnp.floor(x) + jnp.round(x) + jnp.sign(x),
        (x7,),
        np.zeros((N, N), bool),
    ),
    "gather_permutation": (
        lambda x: x[jnp.array([3, 1, 0, 6, 5, 4, 2])],
        (x7,),
        perm_matrix([3, 1, 0, 6, 5, 4, 2], N),
    ),
    "gather_repeated": (
        lambda x: x[jnp.array([2, 2, 0, -1])],
        (x7,),
        perm_matrix([2, 2, 0, N - 1], N),
    ),
    "at_add_constant_indices": (
        lambda x: jnp.zeros(4).at[jnp.array([0, 2, 2, 3])].add(x[:4]),
        (x7,),
        np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], bool) @ np.eye(4, N) > 0,
    ),
    "at_set": (
        lambda x: x.at[2].set(x[5] * 3),
        (x7,),
        perm_matrix([0, 1, 5, 3, 4, 5, 6], N),
    ),
    "dynamic_slice_constant": (
        lambda x: lax.dynamic_slice(x, (2,), (3,)),
        (x7,),
        perm_matrix([2, 3, 4], N),
    ),
    "dynamic_slice_past_end": (
        lambda x: lax.dynamic_slice(x, (10,), (3,)),
        (x7,),
        perm_matrix([4, 5, 6], N),
    ),
    "dynamic_update_slice_constant": (
        lambda x: lax.dynamic_update_slice(x, x[:2] * 2, (4,)),
        (x7,),
        perm_matrix([0, 1, 2, 3, 0, 1, 6], N),
    ),
    "at_set_clip_out_of_range": (
        lambda x: x.at[jnp.array([0, 9, 3])].set(x[4:] * 2, mode="clip"),
        (x7,),
        perm_matrix([4, 1, 2, 6, 4, 5, 5], N),
    ),
    "matmul_self": (lambda X: X @ X, (X33,), _xx_pattern()),
    "batched_einsum": (
        lambda A: jnp.einsum("bij,bjk->bik", A, jnp.arange(12.0).reshape(2, 3, 2) + 1),
        (np.ones((2, 2, 3), np.float32),),
        _einsum_pattern(),
    ),
    "convolve_constant_kernel": (
        lambda x: jnp.convolve(x, jnp.array([1.0, 2.0, 3.0])),
        (x7,),
        _convolve_pattern(N, 3),
    ),
    "checkpoint": (
        lambda x: jax.checkpoint(lambda y: jnp.sin(y) * y[::-1])(x),
        (x7,),
        eye(N) | perm_matrix(np.arange(N)[::-1], N),
    ),
    "custom_jvp_straight_through": (lambda x: ste_round(x) * 2, (x7,), eye(N)),
    "custom_jvp_smooth": (lambda x: softclip(x[::-1]), (x7,), perm_matrix(np.arange(N)[::-1], N)),
    "custom_vjp_mixing": (
        mixing,
        (x7,),
        # the backward rule maps g to 2g + roll(g, 1): J^T = 2I + P, so J = 2I + P^T
        eye(N) | perm_matrix(np.roll(np.arange(N), 1), N).T,
    ),
}


@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES))
def test_jacobian_exact(name):
    f, args, truth = JACOBIAN_CASES[name]
    pattern = sd.jacobian_sparsity(f, *args)
    assert pattern.shape == truth.shape
    assert_sound(pattern, f, args)
    np.testing.assert_array_equal(pattern.todense(), truth, err_msg=name)


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


HESSIAN_CASES = {
    "sum_of_squares": (lambda x: jnp.sum(x**2), eye(N)),
    "rosenbrock": (rosenbrock, band(N, 1, 1)),
    "products_of_neighbours": (lambda x: jnp.sum(x[1:] * x[:-1]), eye(N, 1) | eye(N, -1)),
    "sin_of_products": (lambda x: jnp.sum(jnp.sin(x[1:] * x[:-1])), band(N, 1, 1)),
    "logsumexp": (jax.nn.logsumexp, np.ones((N, N), bool)),
    "linear": (lambda x: jnp.dot(jnp.arange(N, dtype=jnp.float32), x), np.zeros((N, N), bool)),
    "output_shape_1": (lambda x: jnp.sum(x**3, keepdims=True), eye(N)),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_CASES))
def test_hessian_exact(name):
    f, truth = HESSIAN_CASES[name]
    pattern = sd.hessian_sparsity(f, x7)
    assert_sound(pattern, f, (x7,), hessian=True)
    np.testing.assert_array_equal(pattern.todense(), truth, err_msg=name)


def test_hessian_argnums_1_of_two():
    def f(a, x):
        return jnp.sum(a * x**2) + jnp.sum(x[1:] * x[:-1]) * a[0]

    a = np.ones(N, np.float32)
    pattern = sd.hessian_sparsity(f, a, x7, argnums=1)
    assert pattern.shape == (N, N)
    assert_sound(pattern, f, (a, x7), argnums=1, hessian=True)
    np.testing.assert_array_equal(pattern.todense(), band(N, 1, 1))


def test_hessian_has_aux():
    pattern = sd.hessian_sparsity(lambda x: (jnp.sum(x**2), {"aux": x}), x7, has_aux=True)
    np.testing.assert_array_equal(pattern.todense(), eye(N))


def test_pytree_inputs_two_argnums_tuple_outputs_has_aux_and_static_kwarg():
    def f(params, x, *, double):
        out = params["w"] * x[:2] + params["b"]
        extra = jnp.sum(x) * (2.0 if double else 1.0)
        return (out, extra), "aux"

    params = {"b": np.ones(2, np.float32), "w": np.ones(2, np.float32)}
    pattern = sd.jacobian_sparsity(
        f, params, np.ones(3, np.float32), argnums=(1, 0), has_aux=True, double=True
    )
    # columns: x (3), then params leaves in pytree order: b (2), w (2)
    truth = np.zeros((3, 7), bool)
    truth[0, [0, 3, 5]] = True
    truth[1, [1, 4, 6]] = True
    truth[2, [0, 1, 2]] = True
    np.testing.assert_array_equal(pattern.todense(), truth)
    assert pattern.input_structure.argnums == (1, 0)
    assert pattern.locate_col(5) == (0, "['w']", (0,))
    assert pattern.locate_row(2) == (None, "[1]", ())


def test_static_bool_kwarg_controls_python_branch():
    def f(x, reverse=False):
        return x[::-1] if reverse else x * 2

    np.testing.assert_array_equal(
        sd.jacobian_sparsity(f, x7, reverse=True).todense(), perm_matrix(np.arange(N)[::-1], N)
    )
    np.testing.assert_array_equal(sd.jacobian_sparsity(f, x7, reverse=False).todense(), eye(N))


def test_array_kwarg_is_traced_not_differentiated():
    def f(x, scale):
        return x * scale

    pattern = sd.jacobian_sparsity(f, x7, scale=np.ones(N, np.float32))
    np.testing.assert_array_equal(pattern.todense(), eye(N))


def test_shape_dtype_struct_and_python_scalar_inputs():
    p = sd.jacobian_sparsity(lambda x, y: x * y, jax.ShapeDtypeStruct((4,), jnp.float32), 2.0)
    np.testing.assert_array_equal(p.todense(), eye(4))
    p = sd.jacobian_sparsity(lambda x, y: x * y, 2.0, jnp.ones(3), argnums=(0, 1))
    assert p.shape == (3, 4)
    np.testing.assert_array_equal(p.todense()[:, 0], np.ones(3, bool))


def test_integer_outputs_have_empty_rows():
    p = sd.jacobian_sparsity(lambda x: (jnp.argsort(x), x * 2), x7)
    assert p.shape == (2 * N, N)
    assert not p.todense()[:N].any()
    np.testing.assert_array_equal(p.todense()[N:], eye(N))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float64_and_asymmetric_shapes(dtype):
    with jax.enable_x64(dtype == np.float64):
        A = np.ones((2, 5), dtype)

        def f(A):
            return jnp.concatenate([(A[:, 1:] * A[:, :-1]).reshape(-1), A.sum(0)])

        p = sd.jacobian_sparsity(f, A)
        assert p.shape == (8 + 5, 10)
        assert_sound(p, f, (A,))
        assert p.nnz == 8 * 2 + 10


def test_size_zero_and_scalar_operands():
    p = sd.jacobian_sparsity(lambda x: x * 2, np.ones(0, np.float32))
    assert p.shape == (0, 0)
    p = sd.jacobian_sparsity(lambda x: jnp.sin(x) * x, np.float32(1.0))
    assert p.shape == (1, 1) and p.nnz == 1
    p = sd.jacobian_sparsity(
        lambda x, e: jnp.concatenate([x, e * 2]), x7, np.ones(0, np.float32), argnums=(0, 1)
    )
    assert p.shape == (N, N)
    np.testing.assert_array_equal(p.todense(), eye(N))
