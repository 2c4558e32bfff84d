"""Tests of ``benchmarks.nlp_problems``: the instances, and the JAX and CasADi forms agree."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import nlp_problems as P

SMALL = {"chain": 12, "cartpole": 6, "lukvle1": 9}


def _random_point(inst: P.Instance, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return inst.x0 + 0.3 * rng.standard_normal(inst.n)


@pytest.mark.parametrize("problem", P.PROBLEMS)
def test_instances(problem: str) -> None:
    inst = P.instance(problem, SMALL[problem])
    assert inst.n == P.num_variables(problem, SMALL[problem])
    assert inst.x0.shape == inst.lb.shape == inst.ub.shape == (inst.n,)
    assert inst.cl.shape == inst.cu.shape == (inst.m,)
    assert np.all(inst.lb <= inst.x0) and np.all(inst.x0 <= inst.ub)
    with jax.enable_x64(True):
        f, c = (P.chain_jax(inst) if problem == "chain" else inst).jax_functions()
        x = jnp.asarray(_random_point(inst))
        assert jnp.shape(f(x)) == ()
        assert jnp.ravel(c(x)).shape == (inst.m,)


def test_chain_matches_sparsediffs_problem() -> None:
    from sparsediff.problems import chain_bounds, chain_energy, chain_length, chain_start

    intervals = SMALL["chain"]
    inst = P.chain_instance(intervals)
    np.testing.assert_allclose(inst.x0, chain_start(intervals), rtol=1e-15)
    lb, ub = chain_bounds(intervals)
    np.testing.assert_array_equal(inst.lb, lb)
    np.testing.assert_array_equal(inst.ub, ub)
    with jax.enable_x64(True):
        x = jnp.asarray(_random_point(inst))
        ops = P.jax_ops()
        ours = (inst.objective(ops, x), inst.constraints(ops, x))
        theirs = (chain_energy(x), chain_length(x, P.CHAIN_L))
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-14)
        np.testing.assert_allclose(jnp.ravel(ours[1]), theirs[1], rtol=1e-14)


def test_cartpole_dynamics() -> None:
    ops = P.jax_ops()
    with jax.enable_x64(True):
        zero = jnp.zeros(1)
        # hanging at rest without force: at rest; upright likewise (an equilibrium)
        for theta in (0.0, math.pi):
            rates = P.cartpole_dynamics(ops, zero + theta, zero, zero, zero)
            np.testing.assert_allclose(np.concatenate(rates), 0.0, atol=1e-12)
        # a push accelerates the cart forward and swings the hanging pole backwards
        rates = P.cartpole_dynamics(ops, zero, zero, zero, zero + 1.0)
    assert rates[2][0] == pytest.approx(1.0 / P.CART_M1)
    assert rates[3][0] == pytest.approx(-1.0 / (P.CART_LEN * P.CART_M1))
    # the linear interpolation starts and ends on the boundary conditions
    inst = P.cartpole_instance(4)
    blocks = P._cartpole_blocks(inst.x0, 4)
    assert [b[0] for b in blocks[:4]] == [0.0, 0.0, 0.0, 0.0]
    assert [b[-1] for b in blocks[:4]] == [P.CART_D, math.pi, 0.0, 0.0]


def test_lukvle1_at_the_start() -> None:
    inst = P.lukvle1_instance(4)
    np.testing.assert_array_equal(inst.x0, [-1.2, 1.0, -1.2, 1.0])
    ops = P.jax_ops()
    x = jnp.asarray([0.5, -0.25, 1.5, 2.0])
    expect_f = sum(100 * (x[i] ** 2 - x[i + 1]) ** 2 + (x[i] - 1) ** 2 for i in range(3))
    np.testing.assert_allclose(P.lukvle1_objective(ops, x), expect_f, rtol=1e-6)
    # c_1 = 3 x_2^3 + 2 x_3 - 5 + sin(x_2 - x_3) sin(x_2 + x_3) + 4 x_2 - x_1 e^(x_1 - x_2) - 3
    a, b, c = x[0], x[1], x[2]
    expect_c = (3 * b**3 + 2 * c - 5 + jnp.sin(b - c) * jnp.sin(b + c) + 4 * b
                - a * jnp.exp(a - b) - 3)  # fmt: skip
    np.testing.assert_allclose(P.lukvle1_constraints(ops, x)[0], expect_c, rtol=1e-6)


@pytest.mark.parametrize("problem", P.PROBLEMS)
def test_casadi_and_jax_forms_agree(problem: str) -> None:
    casadi = pytest.importorskip("casadi", reason="casadi is not installed")
    inst = P.instance(problem, SMALL[problem])
    x = _random_point(inst, seed=1)
    z = casadi.SX.sym("z", inst.n)
    ops = P.casadi_ops()
    fun = casadi.Function("nlp", [z], [inst.objective(ops, z), inst.constraints(ops, z)])
    f_cas, c_cas = (np.asarray(v.full()).ravel() for v in fun(x))
    with jax.enable_x64(True):
        f, c = (P.chain_jax(inst) if problem == "chain" else inst).jax_functions()
        f_jax, c_jax = float(f(jnp.asarray(x))), np.ravel(np.asarray(c(jnp.asarray(x))))
    assert f_cas.shape == (1,) and c_cas.shape == (inst.m,)
    np.testing.assert_allclose(f_cas[0], f_jax, rtol=1e-12)
    np.testing.assert_allclose(c_cas, c_jax, rtol=1e-12, atol=1e-12)


def test_size_labels() -> None:
    assert P.size_label("chain", 10**4) == "N=10^4"
    assert P.size_label("cartpole", 4000) == "N=4000"
    assert P.size_label("lukvle1", 10**5) == "n=10^5"
    assert P.num_variables("cartpole", 1000) == 5005
