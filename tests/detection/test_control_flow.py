"""Loops and branches: exact where the program's known values allow, sound always."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import sparsediff as sd
from tests.oracle import assert_sound

N = 8
x8 = np.ones(N, np.float32)


def band(n, k):
    """Periodic band of half-width k."""
    out = np.zeros((n, n), bool)
    for d in range(-k, k + 1):
        out |= np.roll(np.eye(n, dtype=bool), d, axis=1)
    return out


def stencil(c):
    return c + jnp.roll(c, 1) + jnp.roll(c, -1)


def test_rnn_scan_is_lower_triangular():
    def rnn(x):
        return lax.scan(lambda h, xt: (jnp.tanh(0.5 * h + xt),) * 2, 0.0, x)[1]

    p = sd.jacobian_sparsity(rnn, x8)
    assert_sound(p, rnn, (x8,))
    np.testing.assert_array_equal(p.todense(), np.tril(np.ones((N, N), bool)))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_fori_loop_stencil_bandwidth(k):
    def f(x):
        return lax.fori_loop(0, k, lambda i, c: stencil(c), x)

    x = np.ones(16, np.float32)
    p = sd.jacobian_sparsity(f, x)
    assert_sound(p, f, (x,))
    np.testing.assert_array_equal(p.todense(), band(16, k))


def test_fori_loop_counter_is_known():
    def f(x):
        return lax.fori_loop(0, N, lambda i, acc: acc.at[i].set(x[i] ** 2), jnp.zeros(N))

    np.testing.assert_array_equal(sd.jacobian_sparsity(f, x8).todense(), np.eye(N, dtype=bool))
    h = sd.hessian_sparsity(lambda x: jnp.sum(f(x)), x8)
    np.testing.assert_array_equal(h.todense(), np.eye(N, dtype=bool))


def test_fori_loop_dynamic_bounds_lowers_to_while_with_counter():
    def f(x, n):
        return lax.fori_loop(0, n, lambda i, c: stencil(c), x)

    # n is traced (a non-differentiated argument): the trip count is unknown
    p = sd.jacobian_sparsity(f, x8, np.int32(2))
    assert_sound(p, f, (x8, np.int32(2)))
    assert p.nnz == N * N  # fixed point: the stencil reaches everything
    # with a static bound the counter is known and the loop is exact
    p = sd.jacobian_sparsity(lambda x: lax.fori_loop(0, 2, lambda i, c: stencil(c), x), x8)
    np.testing.assert_array_equal(p.todense(), band(N, 2))


def test_while_with_counter_iterates_exactly():
    def f(x):
        def body(c):
            return stencil(c[0]), c[1] + 1

        return lax.while_loop(lambda c: c[1] < 2, body, (x, 0))[0]

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    np.testing.assert_array_equal(p.todense(), band(N, 2))


def test_while_with_data_dependent_condition_is_a_sound_fixed_point():
    def f(x):
        def body(c):
            return jnp.roll(c[0], 1) * 0.5 + c[0] * 0.1, c[1] + 1

        return lax.while_loop(lambda c: jnp.sum(c[0]) > 1.0, body, (x, 0))[0]

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    assert p.nnz == N * N


def test_scan_reverse_multiple_carries_xs_none_and_unroll():
    def f(x):
        def step(carry, _):
            a, b = carry
            return (a + jnp.roll(b, 1), b * 2), a[0]

        (a, b), ys = lax.scan(step, (x, x[::-1]), xs=None, length=3, reverse=True, unroll=2)
        return jnp.concatenate([a, b, ys])

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    assert p.shape == (2 * N + 3, N)
    np.testing.assert_array_equal(p.todense()[N : 2 * N], np.eye(N, dtype=bool)[::-1])


def test_scan_reverse_stacks_outputs_in_order():
    def f(x):
        return lax.scan(lambda c, xt: (c + xt, c + xt), 0.0, x, reverse=True)[1]

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    np.testing.assert_array_equal(p.todense(), np.triu(np.ones((N, N), bool)))


def test_long_scan_beyond_budget_falls_back_soundly():
    def f(x):
        return lax.scan(lambda c, xt: (c * 0.9 + xt, c), 0.0, x)[1]

    with sd.detection_options(unroll_budget=10):
        p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    exact = sd.jacobian_sparsity(f, x8)
    assert exact.nnz < p.nnz  # the fixed point is coarser than exact unrolling
    assert not (exact.todense() & ~p.todense()).any()


def test_cond_and_switch_union_or_known_branch():
    def f(x):
        return lax.cond(jnp.sum(x) > 0, lambda y: y[::-1], lambda y: jnp.roll(y, 1), x)

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    eye = np.eye(N, dtype=bool)
    np.testing.assert_array_equal(p.todense(), eye[::-1] | np.roll(eye, -1, axis=1))

    def g(x, flag):
        return lax.switch(flag, [lambda y: y, lambda y: y[::-1], lambda y: y * y[0]], x)

    assert sd.jacobian_sparsity(g, x8, flag=1).nnz == N  # a static index is known


def test_linear_solve_blocks_stay_separate():
    def f(x):
        a = x.reshape(2, 2, 2) + 3 * jnp.eye(2)
        return jnp.linalg.solve(a, jnp.ones((2, 2, 1)))

    p = sd.jacobian_sparsity(f, x8)
    assert_sound(p, f, (x8,))
    np.testing.assert_array_equal(
        p.todense(), np.kron(np.eye(2, dtype=bool), np.ones((2, 4), bool))
    )


def test_hessian_of_scan_and_piecewise_where():
    def f(x):
        return jnp.sum(lax.scan(lambda c, xt: (c, jnp.sin(xt) * xt), 0.0, x)[1])

    np.testing.assert_array_equal(sd.hessian_sparsity(f, x8).todense(), np.eye(N, dtype=bool))

    def g(x):
        return jnp.sum(jnp.where(x > 0, x**3, x**2))

    np.testing.assert_array_equal(sd.hessian_sparsity(g, x8).todense(), np.eye(N, dtype=bool))


def test_nested_jit_inside_loop_keeps_counter_known():
    def f(x):
        return lax.fori_loop(
            0, N, lambda i, acc: jax.jit(lambda a, j: a.at[j].set(x[j] * 2))(acc, i), x * 0
        )

    np.testing.assert_array_equal(sd.jacobian_sparsity(f, x8).todense(), np.eye(N, dtype=bool))


@pytest.mark.parametrize("reverse", [False, True])
def test_accumulating_scan_summary_is_exact(reverse):
    """Bodies whose carries accumulate (each depends on itself) are summarised
    once and composed; the result equals the dense oracle's pattern exactly."""

    def f(x):
        w = x[0] * 2.0  # a constant of the loop that depends on the input

        def step(carry, xt):
            h, s = carry
            h = jnp.tanh(0.5 * h + xt[0] * w)
            s = s + xt[1] ** 2
            return (h, s), jnp.stack([h * s, xt[1]])

        (h, s), ys = lax.scan(step, (x[1], x[2]), x[3:].reshape(-1, 2), reverse=reverse)
        return jnp.concatenate([ys.reshape(-1), h[None], s[None]])

    x = np.ones(11, np.float32)
    p = sd.jacobian_sparsity(f, x)
    truth = assert_sound(p, f, (x,), points=4)
    np.testing.assert_array_equal(p.todense(), truth)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reverse", [False, True])
def test_prefix_unions_match_step_by_step_merges(seed, reverse):
    """The vectorised running union of a scan's carries equals one merge per
    step, on random contributions (monotone ones take the gather path, others
    the fallback) with and without an initial pattern."""
    from sparsediff.detection.deps import Deps
    from sparsediff.detection.rules.scan_summary import _prefix_unions, _running_loop

    rng = np.random.default_rng(seed)
    length, size, n = 7, 3, 40
    if seed % 2:  # monotone: step t brings columns of its own block
        rows = np.repeat(np.arange(length * size), 2)
        cols = (rows // size) * 5 + rng.integers(0, 5, rows.size)
    else:
        rows = rng.integers(0, length * size, 30)
        cols = rng.integers(0, n, 30)
    d = Deps.from_pairs(rows, cols, length * size, n)
    init = (
        None
        if seed % 3 == 0
        else Deps.from_pairs(np.arange(size), rng.integers(0, n, size), size, n)
    )
    order = np.arange(length)[::-1] if reverse else np.arange(length)
    got, got_last = _prefix_unions(init, d, order, size, n)
    want, want_last = _running_loop(init, d, order, size, n)
    np.testing.assert_array_equal(got.todense(), want.todense())
    np.testing.assert_array_equal(got_last.todense(), want_last.todense())


# -- Hessians through while loops (no reverse mode) -----------------------------------
def _forward_hessian_union(f, x, points=6, seed=0):
    """Union of non-zeros of forward-over-forward Hessians (jax.hessian refuses loops)."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((x.size, x.size), bool)
    for _ in range(points):
        z = rng.normal(size=x.shape).astype(np.float32)
        acc |= np.abs(np.asarray(jax.jacfwd(jax.jacfwd(f))(z))).reshape(x.size, x.size) > 0
    return acc


WHILE_HESSIANS = {
    "counter": lambda x: lax.while_loop(
        lambda c: c[1] < 3, lambda c: (jnp.sin(c[0]) * c[0] + 0.1 * c[0] ** 2, c[1] + 1), (x, 0)
    )[0].sum(),
    "data_dependent_stop": lambda x: lax.while_loop(
        lambda c: (jnp.sum(c[0] ** 2) < 10.0) & (c[1] < 5),
        lambda c: (c[0] * 1.5 + 0.1 * c[0][::-1] ** 2, c[1] + 1),
        (x, 0),
    )[0][0],
    "fori_traced_bound": lambda x: (
        lax.fori_loop(0, jnp.argmax(x), lambda i, c: c * x[i], 1.0) + x[0] ** 2
    ),
    "separable": lambda x: jnp.sum(
        lax.while_loop(lambda c: c[1] < 2, lambda c: (jnp.tanh(c[0]) ** 2, c[1] + 1), (x, 0))[0]
    ),
}


@pytest.mark.parametrize("name", sorted(WHILE_HESSIANS))
def test_hessian_sparsity_through_while_loops(name):
    f = WHILE_HESSIANS[name]
    x = np.full(6, 0.3, np.float32)
    pattern = sd.hessian_sparsity(f, x)
    truth = _forward_hessian_union(f, x)
    assert not (truth & ~pattern.todense()).any()


def test_hessian_of_an_elementwise_loop_stays_diagonal():
    """The reverse-mode stand-in keeps the diagonal (and scales to large n)."""
    f = WHILE_HESSIANS["separable"]
    assert np.array_equal(sd.hessian_sparsity(f, np.ones(6, np.float32)).todense(), np.eye(6))
    assert sd.hessian_sparsity(f, np.ones(20_000, np.float32)).nnz == 20_000


def test_hessian_of_a_stencil_loop_is_exact():
    def f(x):
        def body(c):
            y, k = c
            return y + 0.1 * jnp.sin(jnp.roll(y, 1) * y), k + 1

        return jnp.sum(lax.while_loop(lambda c: c[1] < 4, body, (x, 0))[0] ** 2)

    x = np.full(8, 0.3, np.float32)
    pattern = sd.hessian_sparsity(f, x)
    assert np.array_equal(pattern.todense(), _forward_hessian_union(f, x))


def test_hessian_through_a_loop_nested_in_scan_and_cond():
    def f(x):
        def inner(c):
            body = lambda s: (s[0] * jnp.cos(s[0]), s[1] + 1)  # noqa: E731
            return lax.while_loop(lambda s: s[1] < 2, body, (c, 0))[0]

        out, ys = lax.scan(lambda c, xi: (inner(c) + xi, c[0]), x[:3], x[3:6, None] * jnp.ones(3))
        return lax.cond(x[0] > 0, lambda: jnp.sum(out**2), lambda: jnp.sum(ys))

    x = np.full(6, 0.3, np.float32)
    pattern = sd.hessian_sparsity(f, x)
    truth = _forward_hessian_union(f, x)
    assert not (truth & ~pattern.todense()).any()


# -- custom_jvp rules that call the function itself ---------------------------------
@jax.custom_jvp
def _doubling(x):
    return 2.0 * x


_doubling.defjvp(lambda p, t: (_doubling(p[0]), _doubling(t[0])))


def test_custom_jvp_applied_to_its_own_tangent_does_not_recurse():
    pattern = sd.jacobian_sparsity(_doubling, jnp.zeros(3))
    assert np.array_equal(pattern.todense(), np.eye(3, dtype=bool))
    h = sd.hessian_sparsity(lambda x: jnp.sum(_doubling(x) ** 2), jnp.zeros(3))
    assert np.array_equal(h.todense(), np.eye(3, dtype=bool))


# -- custom_vjp rules: constant inputs, and backward rules that call the function ----
@jax.custom_vjp
def _halving(x):
    return 0.5 * x


_halving.defvjp(lambda x: (_halving(x), None), lambda _, g: (_halving(g),))

_WEIGHTS = np.array([1.0, 2.0, 3.0], np.float32)


@jax.custom_vjp
def _weighted(x):
    return x * _WEIGHTS  # a constant array: an input of the call, not differentiated


_weighted.defvjp(lambda x: (_weighted(x), None), lambda _, g: (g * _WEIGHTS,))


def test_custom_vjp_whose_backward_calls_the_function_does_not_recurse():
    # before: RecursionError (the backward rule's own call was followed by its rule)
    x = jnp.ones(3)
    assert np.array_equal(sd.jacobian_sparsity(_halving, x).todense(), np.eye(3, dtype=bool))
    h = sd.hessian_sparsity(lambda x: jnp.sum(_halving(x) ** 2), x)
    assert np.array_equal(h.todense(), np.eye(3, dtype=bool))


def test_custom_vjp_with_a_constant_array_input():
    # before: JAX's CustomVJPException (its constant input was differentiated)
    f = lambda x: _weighted(x)[::-1]  # noqa: E731
    x = np.array([0.5, -1.0, 2.0], np.float32)
    p = sd.jacobian_sparsity(f, x)
    assert np.array_equal(p.todense(), np.eye(3, dtype=bool)[::-1])
    np.testing.assert_allclose(sd.jacobian(f, x)(x).todense(), jax.jacrev(f)(x))


def test_odeint_jacobian_is_detected_and_evaluated():
    """jax.experimental.ode.odeint: a custom_vjp with the Runge-Kutta tableau as constant
    inputs, whose backward rule integrates the adjoint with odeint itself."""
    from jax.experimental.ode import odeint

    ts = jnp.array([0.0, 0.1])

    def f(x):
        return odeint(lambda y, t: -y * y[::-1] + x[3:], x[:3], ts)[-1]

    x = np.linspace(0.2, 1.0, 6).astype(np.float32)
    p = sd.jacobian_sparsity(f, x)
    assert_sound(p, f, (x,))
    d = sd.jacobian(f, x)
    assert d.mode in ("rev", "dense_rev")  # JAX has no forward mode through custom_vjp
    np.testing.assert_allclose(d(x).todense(), jax.jacrev(f)(x), rtol=1e-5, atol=1e-6)
