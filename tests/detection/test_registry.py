"""The rule table: coverage of JAX's primitives, third-party rules, the fallback."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.extend.core import Primitive
from jax.extend.core import primitives as P

import sparsediff as sd
from sparsediff.detection import coverage
from sparsediff.detection.deps import take
from sparsediff.detection.registry import (
    RULES,
    UnknownPrimitiveWarning,
    UnsupportedPrimitiveError,
    detection_options,
    get_rule,
    register_rule,
)
from tests.oracle import assert_sound

N = 6


# -- coverage ----------------------------------------------------------------------
def test_every_primitive_has_a_rule_or_a_reason():
    missing = sorted(
        name
        for name, prim in coverage.all_primitives().items()
        if prim not in RULES and name not in coverage.NOT_HANDLED
    )
    assert not missing, f"primitives with neither a rule nor a NOT_HANDLED reason: {missing}"


def test_not_handled_has_no_stale_names():
    known = coverage.all_primitives()
    unknown = sorted(n for n in coverage.NOT_HANDLED if n not in known)
    assert not unknown, f"NOT_HANDLED names no known primitive: {unknown}"
    ruled = sorted(n for n in coverage.NOT_HANDLED if known[n] in RULES)
    assert not ruled, f"NOT_HANDLED lists primitives that now have rules: {ruled}"


def test_coverage_report():
    report = coverage.coverage_report()
    assert set(report) == set(coverage.all_primitives())
    for name, reason in report.items():
        assert isinstance(reason, str) and reason, name
        assert "unclassified" not in reason, name
    assert report["add"] == coverage.RULE
    assert report["iota"] == coverage.NOT_HANDLED["iota"]
    fallbacks = coverage.fallback_primitives()
    assert fallbacks == sorted(
        n for n, r in coverage.NOT_HANDLED.items() if r.startswith(coverage.NO_RULE_YET)
    )
    assert all(report[n] != coverage.RULE for n in fallbacks)


def test_coverage_report_includes_third_party_rules():
    prim = Primitive("sparsediff_test_reported")
    register_rule(prim, lambda ctx, eqn, invals: [invals[0].deps])
    try:
        assert coverage.coverage_report()["sparsediff_test_reported"] == coverage.RULE
    finally:
        del RULES[prim]


# Primitives listed as needing no rule really are handled without one: strict mode
# (which raises instead of falling back) accepts programs that use them.
NO_RULE_NEEDED_PROGRAMS = {
    "iota": lambda x: x * lax.iota(jnp.float32, N),
    "argmax": lambda x: x[jnp.argmax(x)] * x,
    "argmin": lambda x: x[jnp.argmin(x)] * x,
    "reduce_or": lambda x: jnp.where(jnp.any(x > 0), x, 2 * x),
    "reduce_and": lambda x: jnp.where(jnp.all(x > 0), x, 2 * x),
    "random_bits": lambda x: x * jax.random.normal(jax.random.key(0), (N,)),
    "random_split": lambda x: x * jax.random.uniform(jax.random.split(jax.random.key(1))[0], (N,)),
    "random_fold_in": lambda x: (
        x * jax.random.normal(jax.random.fold_in(jax.random.key(0), 3), (N,))
    ),
    "threefry2x32": lambda x: (
        x
        * lax.convert_element_type(
            P.threefry2x32_p.bind(*[jnp.arange(N, dtype=jnp.uint32)] * 4)[0] % 7, jnp.float32
        )
    ),
    "debug_callback": lambda x: (jax.debug.callback(lambda v: None, x), 2 * x)[1],
    "debug_print": lambda x: (jax.debug.print("{}", x), 2 * x)[1],
    "population_count": lambda x: (
        x * lax.population_count(lax.convert_element_type(x * 10, jnp.int32)).astype(x.dtype)
    ),
}


@pytest.mark.parametrize("name", sorted(NO_RULE_NEEDED_PROGRAMS))
def test_no_rule_needed_in_strict_mode(name):
    f = NO_RULE_NEEDED_PROGRAMS[name]
    x = np.linspace(-1.0, 1.0, N, dtype=np.float32)
    names = {e.primitive.name for e in _all_eqns(jax.make_jaxpr(f)(x).jaxpr)}
    assert name in names, names
    with detection_options(strict=True):
        pattern = sd.jacobian_sparsity(f, x)
    assert_sound(pattern, f, (x,))


def _all_eqns(jaxpr):
    from jax.extend.core import jaxprs_in_params

    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jaxprs_in_params(eqn.params):
            yield from _all_eqns(sub)


# -- third-party rules -------------------------------------------------------------
def _flip_primitive(name: str) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(lambda x: jnp.flip(x))
    prim.def_abstract_eval(lambda x: x)
    return prim


def flip_rule(ctx, eqn, invals):
    (x,) = invals
    return [take(x.deps, np.arange(x.size, dtype=np.int64)[::-1])]


@pytest.fixture
def flip_prim():
    prim = _flip_primitive("sparsediff_test_flip")
    yield prim
    RULES.pop(prim, None)


def _uses_flip(flip):
    """A program applying ``flip`` (a primitive, or ``jnp.flip`` as reference) to part of x."""
    op = flip.bind if isinstance(flip, Primitive) else flip

    def f(x):
        return jnp.concatenate([op(x[:3]), jnp.sin(x[3:])])

    return f


def _assert_covers_reference(pattern, reference, x):
    """Soundness against the same program with jnp.flip (the primitive has no JVP)."""
    assert_sound(pattern, reference, (x,))


def test_third_party_rule_changes_the_pattern(flip_prim):
    f = _uses_flip(flip_prim)
    x = np.arange(N, dtype=np.float32)
    with pytest.warns(UnknownPrimitiveWarning):
        before = sd.jacobian_sparsity(f, x).todense()
    register_rule(flip_prim, flip_rule)
    assert get_rule(flip_prim) is flip_rule
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = sd.jacobian_sparsity(f, x).todense()
    want = np.zeros((N, N), dtype=bool)
    want[[0, 1, 2], [2, 1, 0]] = True
    want[np.arange(3, N), np.arange(3, N)] = True
    np.testing.assert_array_equal(after, want)
    assert before.sum() > after.sum()


def test_register_rule_as_decorator_and_overwrite(flip_prim):
    @register_rule(flip_prim)
    def rule(ctx, eqn, invals):
        return flip_rule(ctx, eqn, invals)

    assert RULES[flip_prim] is rule
    with pytest.raises(ValueError, match="sparsediff_test_flip"):
        register_rule(flip_prim, flip_rule, overwrite=False)
    assert RULES[flip_prim] is rule
    register_rule(flip_prim, flip_rule)
    assert RULES[flip_prim] is flip_rule


def test_third_party_rule_inside_jit_and_scan(flip_prim):
    register_rule(flip_prim, flip_rule)

    def f(x):
        y = jax.jit(flip_prim.bind)(x)
        return lax.scan(lambda c, v: (c, flip_prim.bind(v)), 0.0, y.reshape(2, 3))[1].reshape(-1)

    def reference(x):
        y = jnp.flip(x)
        return lax.scan(lambda c, v: (c, jnp.flip(v)), 0.0, y.reshape(2, 3))[1].reshape(-1)

    x = np.arange(N, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pattern = sd.jacobian_sparsity(f, x)
    _assert_covers_reference(pattern, reference, x)


# -- unknown primitives ------------------------------------------------------------
def test_unknown_primitive_warns_and_is_dense_and_sound():
    prim = _flip_primitive("sparsediff_test_unknown")
    f = _uses_flip(prim)
    x = np.arange(N, dtype=np.float32)
    with pytest.warns(UnknownPrimitiveWarning, match="sparsediff_test_unknown") as rec:
        pattern = sd.jacobian_sparsity(f, x)
    assert len([w for w in rec if issubclass(w.category, UnknownPrimitiveWarning)]) == 1
    dense = pattern.todense()
    # the unknown equation's block is dense, the rest is exact
    assert dense[:3, :3].all()
    assert not dense[:3, 3:].any() and not dense[3:, :3].any()
    np.testing.assert_array_equal(dense[3:, 3:], np.eye(N - 3, dtype=bool))
    _assert_covers_reference(pattern, _uses_flip(jnp.flip), x)


def test_unknown_primitive_in_strict_mode_raises():
    prim = _flip_primitive("sparsediff_test_strict")
    f = _uses_flip(prim)
    x = np.arange(N, dtype=np.float32)
    with detection_options(strict=True):
        with pytest.raises(UnsupportedPrimitiveError, match="sparsediff_test_strict"):
            sd.jacobian_sparsity(f, x)
    # strict mode ends with the context
    with pytest.warns(UnknownPrimitiveWarning):
        sd.jacobian_sparsity(f, x)


def test_unknown_primitive_warns_once_per_detection_call():
    prim = _flip_primitive("sparsediff_test_once")

    def f(x):
        a = prim.bind(x)
        b = prim.bind(a * 2)
        c = jax.jit(prim.bind)(b)
        return lax.cond(x[0] > 0, prim.bind, lambda v: v, c)

    x = np.arange(N, dtype=np.float32)
    for _ in range(2):  # every call warns again, once
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            sd.jacobian_sparsity(f, x)
        hits = [w for w in rec if issubclass(w.category, UnknownPrimitiveWarning)]
        assert len(hits) == 1, [str(w.message) for w in hits]
        assert "sparsediff_test_once" in str(hits[0].message)


def test_unknown_primitive_with_known_inputs_needs_no_rule():
    """Equations on known values are evaluated, not analysed: no warning, empty pattern."""
    prim = _flip_primitive("sparsediff_test_known")
    c = np.arange(1, N + 1, dtype=np.float32)

    def f(x):
        return x * prim.bind(jnp.asarray(c))

    x = np.ones(N, np.float32)
    with detection_options(strict=True):
        pattern = sd.jacobian_sparsity(f, x)
    np.testing.assert_array_equal(pattern.todense(), np.eye(N, dtype=bool))


# -- state: mutable references -----------------------------------------------------
def test_mutable_ref_writes_are_sound():
    """Writes through a ``jax.new_ref`` reference must reach later reads.

    'get' and 'swap' have no rule (NOT_HANDLED says: dense fallback); the
    fallback gives the *output* of 'swap' (the old value) a dense pattern, but
    the value read back by 'get' afterwards must depend on what was written.
    """

    def f(x):
        ref = jax.new_ref(jnp.zeros(N, x.dtype))
        ref[...] = x
        return ref[...]

    x = np.arange(N, dtype=np.float32)
    _, tangent = jax.jvp(f, (x,), (np.eye(N, dtype=np.float32)[0],))
    assert tangent[0] == 1.0  # JAX's AD: the read value depends on x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownPrimitiveWarning)
        pattern = sd.jacobian_sparsity(f, x).todense()
    assert pattern[0, 0], f"unsound: read-after-write pattern is\n{pattern.astype(int)}"
