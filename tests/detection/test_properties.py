"""Property-based soundness tests of sparsity detection.

Random programs (see :mod:`strategies`) are analysed by ``jacobian_sparsity``
and ``hessian_sparsity``; the detected pattern must contain every entry that
is non-zero in the Jacobian (Hessian) computed by JAX at a few random points,
one of them with exact zeros and ties. Everything runs in float64 so that
underflow does not hide entries.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from jax import lax

import sparsediff

from .strategies import BOTH, FAMILIES, Program, Step, checked_shape, programs

PROFILE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ----------------------------------------------------------------------------
# Reference derivatives


def _points(shape, seed: int) -> np.ndarray:
    """Four points: normal, small integers (zeros and ties), sparse normal, wide uniform."""
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(shape)
    ties = rng.integers(-1, 3, size=shape).astype(np.float64)
    sparse = np.where(rng.random(shape) < 0.4, 0.0, rng.standard_normal(shape))
    wide = rng.uniform(-3.0, 3.0, size=shape)
    return np.stack([normal, ties, sparse, wide])


#: compiling dominates the cost of the reference derivatives: compile cheaply
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _observed(jac_fn, points: np.ndarray, m: int, n: int) -> np.ndarray:
    """Union over the points of the non-zero entries of ``jac_fn``, as (m, n)."""
    pts = jnp.asarray(points)
    lowered = jax.jit(jax.vmap(jac_fn)).lower(pts)
    try:
        compiled = lowered.compile(_FAST_COMPILE)
    except Exception:  # noqa: BLE001  (options unknown to this XLA: compile normally)
        compiled = lowered.compile()
    vals = np.asarray(compiled(pts))
    vals = vals.reshape(len(points), m, n)
    # NaN says nothing (e.g. 0 * inf); +-inf is a non-zero entry (a structurally zero
    # tangent stays 0 or becomes NaN, never inf).
    return np.any(~np.isnan(vals) & (vals != 0), axis=0)


def _reference(jac_fn, points: np.ndarray, m: int, n: int) -> np.ndarray:
    """``_observed``; an example JAX itself cannot differentiate is rejected, not failed."""
    try:
        return _observed(jac_fn, points, m, n)
    except Exception:  # noqa: BLE001  (a JAX limitation, not a detection bug)
        reject()


def _jacobian_fn(prog: Program):
    return jax.jacfwd(prog) if "fwd" in prog.modes else jax.jacrev(prog)


def _hessian_fn(g, modes):
    # forward-over-reverse like jax.hessian; reverse-over-reverse past a custom_vjp
    return jax.hessian(g) if modes == BOTH else jax.jacrev(jax.jacrev(g))


def _check_contains(detected: np.ndarray, observed: np.ndarray, what: str, prog, point_desc):
    assert detected.shape == observed.shape, (detected.shape, observed.shape)
    missing = np.argwhere(observed & ~detected)
    if missing.size:
        raise AssertionError(
            f"{what} pattern misses {len(missing)} entr{'y' if len(missing) == 1 else 'ies'} "
            f"(output flat index, input flat index): {missing[:12].tolist()}\n"
            f"{prog.describe()}\n"
            f"detected:\n{detected.astype(int)}\nobserved:\n{observed.astype(int)}\n"
            f"{point_desc}"
        )


def check_jacobian(prog: Program, seed: int = 0, as_spec: bool = False) -> None:
    with jax.enable_x64(True):
        n = math.prod(prog.in_shape)
        m = math.prod(prog.out_shape)
        pts = _points(prog.in_shape, seed)
        observed = _reference(_jacobian_fn(prog), pts, m, n)
        if as_spec:
            arg = jax.ShapeDtypeStruct(prog.in_shape, jnp.float64)
        else:
            arg = jnp.zeros(prog.in_shape, jnp.float64)
        pattern = sparsediff.jacobian_sparsity(prog, arg)
        detected = np.asarray(pattern.todense(), dtype=bool)
        assert pattern.shape == (m, n), (pattern.shape, (m, n), prog.describe())
        _check_contains(detected, observed, "Jacobian", prog, f"points (seed {seed}):\n{pts}")


def check_hessian(prog: Program, seed: int = 0) -> None:
    def g(x):
        return jnp.sum(prog(x) ** 2)

    if "rev" not in prog.modes:
        return  # hessian_sparsity differentiates with jax.grad: no reverse mode, no Hessian
    with jax.enable_x64(True):
        n = math.prod(prog.in_shape)
        pts = _points(prog.in_shape, seed)
        observed = _reference(_hessian_fn(g, prog.modes), pts, n, n)
        pattern = sparsediff.hessian_sparsity(g, jax.ShapeDtypeStruct(prog.in_shape, jnp.float64))
        detected = np.asarray(pattern.todense(), dtype=bool)
        assert pattern.shape == (n, n), (pattern.shape, n, prog.describe())
        _check_contains(
            detected, observed, "Hessian of sum(f(x)**2)", prog, f"points (seed {seed}):\n{pts}"
        )


# ----------------------------------------------------------------------------
# Properties

seeds = st.integers(0, 2**16)


@settings(PROFILE, max_examples=100)
@given(prog=programs(max_steps=5), seed=seeds, as_spec=st.booleans())
def test_jacobian_pattern_is_sound(prog, seed, as_spec):
    check_jacobian(prog, seed, as_spec)


@settings(PROFILE, max_examples=40)
@given(prog=programs(max_steps=3), seed=seeds)
def test_hessian_pattern_is_sound(prog, seed):
    check_hessian(prog, seed)


@settings(PROFILE, max_examples=16)
@given(prog=programs(max_steps=3, shapes=st.sampled_from([(), (0,), (1,), (2, 0)])), seed=seeds)
def test_degenerate_inputs_are_sound(prog, seed):
    """Scalar, empty and single-element inputs."""
    check_jacobian(prog, seed)
    check_hessian(prog, seed)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@settings(PROFILE, max_examples=4)
@given(data=st.data(), seed=seeds)
def test_each_family_is_sound(family, data, seed):
    """Every family gets examples of its own: one step on a random input."""
    prog = data.draw(programs(families=[family], max_steps=1), label="program")
    check_jacobian(prog, seed)
    check_hessian(prog, seed)


# ----------------------------------------------------------------------------
# Regressions: minimal programs found by the properties above


def _program(in_shape, *steps: Step) -> Program:
    shapes, shape = [], in_shape
    for step in steps:
        shape = checked_shape(step, shape, in_shape)
        assert shape is not None, step.name
        shapes.append(shape)
    return Program(tuple(in_shape), tuple(steps), tuple(shapes))


REGRESSIONS = {
    # windows.window_positions: reshape(out_size, -1) fails when the output is empty
    "reduce_window_empty_output": _program(
        (0,),
        Step(
            "lax.reduce_window(x, -inf, lax.max, (1,), (1,), 'SAME')",
            lambda x, x0: lax.reduce_window(x, -jnp.inf, lax.max, (1,), (1,), "SAME"),
        ),
    ),
    "reduce_window_window_larger_than_input": _program(
        (2,),
        Step(
            "lax.reduce_window(x, 0.0, lax.add, (3,), (1,), 'VALID')",
            lambda x, x0: lax.reduce_window(x, 0.0, lax.add, (3,), (1,), "VALID"),
        ),
    ),
    "conv_empty_output": _program(
        (1, 1),
        Step(
            "lax.conv_general_dilated(x[None, None], ones((1, 1, 1, 2)), (1, 1), 'VALID')[0, 0]",
            lambda x, x0: lax.conv_general_dilated(
                x[None, None], jnp.ones((1, 1, 1, 2)), (1, 1), "VALID"
            )[0, 0],
        ),
    ),
    # indexing._pointwise_gather: out.reshape(*()) for a gather with a 0-d result
    "gather_scalar_result": _program(
        (3,), Step("take(x, jnp.array(1))", lambda x, x0: jnp.take(x, jnp.array(1)))
    ),
    "gather_scalar_result_in_loop": _program(
        (),
        Step(
            "lax.fori_loop(0, 1, lambda i, x: x.flat[i % 1] += sin(x.flat[(i+1) % 1]))",
            lambda x, x0: lax.fori_loop(
                0,
                1,
                lambda i, c: jnp.ravel(c).at[i % 1].add(jnp.sin(jnp.ravel(c)[(i + 1) % 1]))[0],
                x,
            ),
        ),
    ),
    # indexing._pointwise_gather: pos.reshape(-1, 0) when the kept trailing axes are empty
    "gather_rows_of_empty_operand": _program(
        (2, 0),
        Step(
            "take(x, jnp.array([1, 0]), axis=0, mode='clip')",
            lambda x, x0: jnp.take(x, jnp.array([1, 0]), axis=0, mode="clip"),
        ),
    ),
    # indexing.scatter_targets: gather with slice size 1 on an empty operand axis
    "scatter_clip_into_empty_operand": _program(
        (0, 1),
        Step(
            "x.at[jnp.array([0])].add(1.0, mode='clip')",
            lambda x, x0: x.at[jnp.array([0])].add(1.0, mode="clip"),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression(name):
    prog = REGRESSIONS[name]
    check_jacobian(prog)
    check_hessian(prog)


def test_checker_catches_an_unsound_rule():
    """The harness itself: a rule that forgets dependencies must make the check fail."""
    from sparsediff.detection.registry import RULES

    prog = _program((4,), Step("sin(roll(x, 1))", lambda x, x0: jnp.sin(jnp.roll(x, 1))))
    check_jacobian(prog)
    sin_p = next(p for p in RULES if p.name == "sin")
    saved = RULES[sin_p]
    sparsediff.register_rule(sin_p, lambda ctx, eqn, invals: [None])
    try:
        with pytest.raises(AssertionError, match="misses 4 entries"):
            check_jacobian(prog)
    finally:
        sparsediff.register_rule(sin_p, saved)
    check_jacobian(prog)
