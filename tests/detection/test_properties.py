"""Property-based soundness tests of sparsity detection.

Random programs (see :mod:`strategies`) are analysed by ``jacobian_sparsity``
and ``hessian_sparsity``; the detected pattern must contain every entry that
is non-zero in the Jacobian (Hessian) computed by JAX at a few random points,
one of them with exact zeros and ties. Everything runs in float64 so that
underflow does not hide entries. What counts as non-zero (``inf`` does; NaN
only where the zero direction is not NaN as well) is decided in tests/oracle.py.

An example is rejected only when JAX refuses to differentiate it (one of
:data:`JAX_REFUSALS`, with a message about differentiation), and each property
fails if more than :data:`MAX_REJECTED` of its examples are rejected. Every
program's Hessian is checked, those without reverse mode (``while_loop``)
against ``jax.jacfwd(jax.jacfwd(g))``.
"""

from __future__ import annotations

import collections
import contextlib
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from jax import lax

import sparsediff
from tests.oracle import counts_as_nonzero

from .strategies import BOTH, FAMILIES, FWD, Program, Step, checked_shape, programs

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


def _compiled(fn, pts):
    lowered = jax.jit(jax.vmap(fn)).lower(pts)
    try:
        return lowered.compile(_FAST_COMPILE)
    except Exception:  # noqa: BLE001  (options unknown to this XLA: compile normally)
        return lowered.compile()


def _observed(fns, points: np.ndarray, m: int, n: int) -> np.ndarray:
    """Union over the points of the non-zero entries of ``jac_fn``, as (m, n).

    ``fns = (jac_fn, base_fn)``: ``base_fn`` gives the derivative along the zero
    direction, a column (m, 1) for forward mode or a row (1, n) for reverse mode.
    Finite non-zeros and +-inf count; NaN only where the zero direction is not NaN
    (:func:`tests.oracle.counts_as_nonzero`).
    """
    jac_fn, base_fn = fns
    pts = jnp.asarray(points)
    vals, base = _compiled(lambda x: (jac_fn(x), base_fn(x)), pts)(pts)
    vals = np.asarray(vals).reshape(len(points), m, n)
    base = np.asarray(base)
    base = base.reshape(len(points), *((m, 1) if base[0].size == m else (1, n)))
    return np.any(counts_as_nonzero(vals, base), axis=0)


#: what JAX raises when it refuses to differentiate a program (the exception type and
#: its message): the only rejections
JAX_REFUSALS = (TypeError, ValueError, NotImplementedError)
_REFUSAL_MESSAGE = re.compile(r"differentiat|autodiff|jvp|vjp|transpose|linearize", re.I)
#: the largest fraction of a property's examples that may be rejected
MAX_REJECTED = 0.05
#: reference derivatives attempted and rejected, for the bound above
_TALLY: collections.Counter = collections.Counter()


def _reference(fns, points: np.ndarray, m: int, n: int) -> np.ndarray:
    """``_observed``; an example JAX itself refuses to differentiate is rejected and
    counted; any other error fails the test."""
    _TALLY["attempted"] += 1
    try:
        return _observed(fns, points, m, n)
    except JAX_REFUSALS as err:
        if not _REFUSAL_MESSAGE.search(str(err)):
            raise
        _TALLY["rejected"] += 1
        _TALLY[f"{type(err).__name__}: {str(err)[:80]}"] += 1
        reject()


@contextlib.contextmanager
def rejections_bounded():
    """Fails if more than :data:`MAX_REJECTED` of the reference derivatives computed
    inside were rejected (a property that quietly tests nothing)."""
    before = _TALLY.copy()
    yield
    done = _TALLY - before
    attempted, rejected = done["attempted"], done["rejected"]
    assert attempted > 0, "no reference derivative was computed"
    assert rejected <= MAX_REJECTED * attempted, (
        f"{rejected} of {attempted} examples rejected: {dict(done)}"
    )


def _zero_tangent(f):
    """``x -> `` the derivative of ``f`` at ``x`` along the zero direction, as (m, 1)."""
    return lambda x: jnp.reshape(jax.jvp(f, (x,), (jnp.zeros_like(x),))[1], (-1, 1))


def _zero_cotangent(f):
    """``x -> `` the reverse derivative of ``f`` at ``x`` of a zero cotangent, as (1, n)."""

    def base(x):
        out, pull = jax.vjp(f, x)
        return jnp.reshape(pull(jnp.zeros_like(out))[0], (1, -1))

    return base


def _jacobian_fns(prog: Program):
    if "fwd" in prog.modes:
        return jax.jacfwd(prog), _zero_tangent(prog)
    return jax.jacrev(prog), _zero_cotangent(prog)


def _hessian_fns(g, modes):
    """Forward-over-reverse like jax.hessian; reverse-over-reverse past a custom_vjp;
    forward-over-forward without reverse mode."""
    if modes == BOTH:
        return jax.hessian(g), _zero_tangent(jax.grad(g))
    if "rev" in modes:
        return jax.jacrev(jax.jacrev(g)), _zero_cotangent(jax.grad(g))
    return jax.jacfwd(jax.jacfwd(g)), _zero_tangent(jax.jacfwd(g))


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
        observed = _reference(_jacobian_fns(prog), pts, m, n)
        if as_spec:
            arg = jax.ShapeDtypeStruct(prog.in_shape, jnp.float64)
        else:
            arg = jnp.zeros(prog.in_shape, jnp.float64)
        pattern = sparsediff.jacobian_sparsity(prog, arg)
        detected = np.asarray(pattern.todense(), dtype=bool)
        assert pattern.shape == (m, n), (pattern.shape, (m, n), prog.describe())
        _check_contains(detected, observed, "Jacobian", prog, f"points (seed {seed}):\n{pts}")


def check_hessian(prog: Program, seed: int = 0) -> None:
    """The Hessian of ``sum(prog(x)**2)`` by ``hessian_sparsity``, for every program:
    detection gives a ``while_loop`` a reverse-mode stand-in, and the reference is
    forward-over-forward where JAX has no reverse mode."""

    def g(x):
        return jnp.sum(prog(x) ** 2)

    with jax.enable_x64(True):
        n = math.prod(prog.in_shape)
        pts = _points(prog.in_shape, seed)
        observed = _reference(_hessian_fns(g, prog.modes), pts, n, n)
        spec = jax.ShapeDtypeStruct(prog.in_shape, jnp.float64)
        pattern = sparsediff.hessian_sparsity(g, spec)
        detected = np.asarray(pattern.todense(), dtype=bool)
        assert pattern.shape == (n, n), (pattern.shape, n, prog.describe())
        _check_contains(
            detected, observed, "Hessian of sum(f(x)**2)", prog, f"points (seed {seed}):\n{pts}"
        )


# ----------------------------------------------------------------------------
# Properties

seeds = st.integers(0, 2**16)


# Each property runs under ``rejections_bounded``: hypothesis' own health check
# only fails when almost every example is rejected.


@settings(PROFILE, max_examples=100)
@given(prog=programs(max_steps=5), seed=seeds, as_spec=st.booleans())
def _jacobian_property(prog, seed, as_spec):
    check_jacobian(prog, seed, as_spec)


def test_jacobian_pattern_is_sound():
    with rejections_bounded():
        _jacobian_property()


@settings(PROFILE, max_examples=40)
@given(prog=programs(max_steps=3), seed=seeds)
def _hessian_property(prog, seed):
    check_hessian(prog, seed)


def test_hessian_pattern_is_sound():
    with rejections_bounded():
        _hessian_property()


@settings(PROFILE, max_examples=16)
@given(prog=programs(max_steps=3, shapes=st.sampled_from([(), (0,), (1,), (2, 0)])), seed=seeds)
def _degenerate_property(prog, seed):
    check_jacobian(prog, seed)
    check_hessian(prog, seed)


def test_degenerate_inputs_are_sound():
    """Scalar, empty and single-element inputs."""
    with rejections_bounded():
        _degenerate_property()


@settings(PROFILE, max_examples=4)
@given(data=st.data(), seed=seeds)
def _family_property(family, data, seed):
    prog = data.draw(programs(families=[family], max_steps=1), label="program")
    # a step that does not fit the drawn input shape is dropped: draw again rather than
    # check the empty program (hypothesis' filter_too_much health check bounds this)
    assume(prog.steps)
    check_jacobian(prog, seed)
    check_hessian(prog, seed)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_is_sound(family):
    """Every family gets examples of its own: one step on a random input."""
    with rejections_bounded():
        _family_property(family)


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


def test_only_jax_refusals_are_rejected():
    """A refusal is rejected (and counted); any other error of the reference fails;
    a property that rejects too much fails."""
    pts = _points((2,), 0)

    def refuses(x):
        raise NotImplementedError("Differentiation rule for 'p' not implemented")

    def broken(x):
        raise RuntimeError("a bug")

    def zeros(x):
        return jnp.zeros((2, 2)) + 0 * x[0]

    def base(x):
        return jnp.zeros((2, 1)) + 0 * x[0]

    def bad_shape(x):
        raise ValueError("cannot reshape array")

    with pytest.raises(RuntimeError, match="a bug"):
        _reference((broken, broken), pts, 2, 2)
    with pytest.raises(ValueError, match="cannot reshape"):  # a refusal's type, not message
        _reference((bad_shape, bad_shape), pts, 2, 2)

    @settings(PROFILE, max_examples=10)
    @given(fns=st.sampled_from([(refuses, refuses), (zeros, base)]))
    def half_rejected(fns):
        _reference(fns, pts, 2, 2)

    before = _TALLY["rejected"]
    with pytest.raises(AssertionError, match="examples rejected"):
        with rejections_bounded():
            half_rejected()
    assert _TALLY["rejected"] > before


def test_forward_only_hessian_is_checked():
    """Without reverse mode (a while_loop) the Hessian is still checked, not skipped."""
    prog = _program(
        (3,),
        Step(
            "while_loop(i < 2: (roll(x, 1) * x, i + 1))",
            lambda x, x0: lax.while_loop(
                lambda c: c[1] < 2, lambda c: (jnp.roll(c[0], 1) * c[0], c[1] + 1), (x, 0)
            )[0],
            FWD,
        ),
    )
    assert "rev" not in prog.modes
    before = _TALLY["attempted"]
    check_hessian(prog)
    assert _TALLY["attempted"] == before + 1


def test_a_nan_counts_only_where_the_zero_direction_is_not_nan():
    """Synthetic derivatives: entry (0, 0) is NaN where the zero direction gives 0 (the
    seed caused it: it counts); row 1 is NaN along the zero direction too (0 * inf:
    undefined there, the NaN says nothing), but its inf counts."""
    nan, inf = jnp.nan, jnp.inf

    def jac(x):
        return jnp.array([[nan, 0.0], [nan, inf]]) + 0 * x[0]

    def base(x):
        return jnp.array([[0.0], [nan]]) + 0 * x[0]

    seen = _observed((jac, base), _points((2,), 0), 2, 2)
    np.testing.assert_array_equal(seen, [[True, False], [False, True]])


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
