"""Known values computed with numpy equal, bit for bit, what JAX computes.

``FLOAT_EXACT`` and the integer tables of :mod:`sparsediff.detection.known_eval`
claim that numpy and XLA agree exactly on some operations. Each claim is checked
here against ``jax`` itself on special values (signed zeros, infinities, NaN,
subnormals, the largest finite numbers) and random ones; an equation numpy does
not take on must be left to JAX (``None``), never answered differently.
"""

from __future__ import annotations

import contextlib
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax import lax

from sparsediff.detection import compat
from sparsediff.detection.known_eval import FLOAT_EXACT, evaluate, numpy_eval


def _special(dtype) -> np.ndarray:
    fi = np.finfo(dtype)
    rng = np.random.default_rng(0)
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -7.25, np.inf, -np.inf, np.nan, fi.max, -fi.max]
    vals += [fi.tiny, fi.tiny * 4, fi.eps, 1e30 if np.dtype(dtype) == np.float32 else 1e300]
    vals += list(rng.standard_normal(8) * 100)
    return np.array(vals, dtype=dtype)


def _eqn(f, *args):
    closed = jax.make_jaxpr(f)(*args)
    eqns = [e for e in closed.jaxpr.eqns if e.primitive.name not in ("pjit", "jit")]
    return eqns[-1]


def _same_bits(a, b) -> bool:
    """Equal dtype, shape and bits (any NaN matches any NaN; -0.0 differs from 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    a, b = a.reshape(-1), b.reshape(-1)
    bits = np.dtype(f"u{a.itemsize}")
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (a.view(bits) == b.view(bits))))


def _jax_value(eqn, args):
    with compat.eqn_context(eqn):
        return np.asarray(compat.bind_eqn(eqn, *args))


BINARY = {
    "add": lax.add, "sub": lax.sub, "mul": lax.mul, "div": lax.div,
    "eq": lax.eq, "ne": lax.ne, "lt": lax.lt, "le": lax.le, "gt": lax.gt, "ge": lax.ge,
}  # fmt: skip
UNARY = {"neg": lax.neg, "abs": lax.abs, "floor": lax.floor, "ceil": lax.ceil}


def test_every_exact_operation_is_covered_here():
    covered = set(BINARY) | set(UNARY) | {"copy", "copy_p"}
    assert set(FLOAT_EXACT) <= covered


def _x64(dtype):
    return jax.enable_x64(True) if np.dtype(dtype) == np.float64 else contextlib.nullcontext()


@pytest.fixture(autouse=True)
def _numpy_only(monkeypatch):
    """JAX is unreachable from numpy_eval here: what it returns, numpy computed."""

    def refuse(*_):
        raise RuntimeError("numpy_eval called JAX")

    monkeypatch.setattr(compat, "apply_eqn", refuse)


def _check_elementwise(fn, operands):
    """numpy on every element alone (an equation on scalars) equals JAX on the
    whole arrays, or declines; returns how many elements numpy took."""
    want = np.asarray(fn(*operands))
    eqn = _eqn(fn, *[o.reshape(-1)[0] for o in operands])
    taken = 0
    for i in range(want.size):
        one = [np.asarray(o.reshape(-1)[i]) for o in operands]
        got = numpy_eval(eqn, one)
        if got is None:
            continue
        taken += 1
        assert _same_bits(got[0], want.reshape(-1)[i]), (
            f"{eqn.primitive.name}{tuple(o.item() for o in one)}: numpy {got[0]!r}, "
            f"JAX {want.reshape(-1)[i]!r}"
        )
    return taken


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float_operations_equal_jax(name, dtype):
    with _x64(dtype):
        v = _special(dtype)
        a, b = np.repeat(v, v.size), np.tile(v, v.size)
        taken = _check_elementwise(BINARY[name], [a, b])
        assert taken > 0.8 * a.size  # only subnormal results go back to JAX


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float_operations_equal_jax(name, dtype):
    with _x64(dtype):
        v = _special(dtype)
        assert _check_elementwise(UNARY[name], [v]) == v.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("y", [-3, -2, -1, 0, 1, 2, 3, 4, 5, 7, 12])
def test_integer_pow_is_jaxs_chain_of_products(y, dtype):
    with _x64(dtype):
        v = np.concatenate([_special(dtype), np.random.default_rng(y + 10).uniform(-3, 3, 50)])
        v = v.astype(dtype)
        assert _check_elementwise(lambda x: lax.integer_pow(x, y), [v]) > 0.6 * v.size


@pytest.mark.parametrize(
    "src,dst", [("float64", "float32"), ("float32", "float64"), ("int16", "float32"),
                ("bool", "float64"), ("int64", "float32"), ("float32", "int32")],
)  # fmt: skip
def test_conversions_equal_jax_or_are_left_to_it(src, dst):
    with jax.enable_x64(True):
        if src == "bool":
            v = np.array([True, False])
        elif src == "int16":
            v = np.array([0, 1, -5, 2**14, -(2**15)], dtype=src)
        elif src == "int64":
            v = np.array([0, 1, -5, 2**24 + 1, 2**62 + 12345], dtype=src)
        else:
            v = _special(src)
        taken = _check_elementwise(lambda x: lax.convert_element_type(x, np.dtype(dst)), [v])
        if src == "int64" or dst == "int32":
            assert taken == 0  # wide integers and float-to-int stay with JAX
        else:
            assert taken == v.size


def test_select_of_floats_and_subnormals_going_back_to_jax():
    pred = np.array([True, False, True])
    a = np.array([1.0, -0.0, np.nan], np.float32)
    b = np.array([np.inf, 2.0, 3.0], np.float32)
    eqn = _eqn(lambda p, x, y: lax.select(p, x, y), pred, a, b)
    got = numpy_eval(eqn, [pred, b, a])  # select_n(pred, false_case, true_case)
    assert _same_bits(got[0], _jax_value(eqn, [pred, b, a]))
    tiny = np.finfo(np.float32).tiny
    sub = np.array([tiny / 4, 1.0], np.float32)  # subnormal operand: XLA may flush it
    eqn = _eqn(lax.add, sub, sub)
    assert numpy_eval(eqn, [sub, sub]) is None
    two = np.array([tiny, 1.0], np.float32)
    eqn = _eqn(lax.mul, two, two)  # a subnormal result
    assert numpy_eval(eqn, [two, np.array([0.25, 1.0], np.float32)]) is None


def test_jax_evaluates_what_numpy_declines(monkeypatch):
    monkeypatch.undo()
    tiny = np.finfo(np.float32).tiny
    two = np.array([tiny, 1.0], np.float32)
    quarter = np.array([0.25, 1.0], np.float32)
    eqn = _eqn(lax.mul, two, quarter)
    assert _same_bits(evaluate(eqn, [two, quarter])[0], _jax_value(eqn, [two, quarter]))


def test_transcendental_values_come_from_jax_and_are_remembered(monkeypatch):
    monkeypatch.undo()
    mu = np.float32(0.7)
    eqn = _eqn(jnp.sin, mu)
    memo: dict = {}
    calls = []
    real = compat.apply_eqn
    monkeypatch.setattr(compat, "apply_eqn", lambda e, *a: calls.append(1) or real(e, *a))
    first = evaluate(eqn, [np.asarray(mu)], memo)
    second = evaluate(eqn, [np.asarray(mu)], memo)
    assert _same_bits(first[0], _jax_value(eqn, [np.asarray(mu)]))
    assert _same_bits(second[0], first[0]) and len(calls) == 1
    evaluate(eqn, [np.asarray(np.float32(0.8))], memo)
    assert len(calls) == 2


def test_known_constants_from_jax_arrays_take_the_numpy_path():
    """A loop over a captured jax array computes its constants without JAX (the
    fixture refuses it): the zero coefficient of ``y[1]`` is known, so ``y[1]``
    is not in the pattern."""
    import sparsediff as sd

    mu = jnp.linspace(0.5, 9.0, 12)

    def f(y):
        acc = y[0]
        for k in range(12):
            coef = (mu[k] * 2.0 + 1.0) / (mu[k] - 0.25)
            acc = acc + (coef - coef) * y[1] ** 2
        return acc

    p = sd.jacobian_sparsity(f, np.ones(2, np.float32))
    np.testing.assert_array_equal(p.todense(), [[True, False]])


@pytest.mark.parametrize(
    "shape,start,limit,strides",
    [((7,), (2,), (6,), None), ((9,), (1,), (9,), (3,)), ((3, 4), (1, 0), (3, 4), None),
     ((4, 5, 2), (0, 1, 0), (4, 5, 1), (2, 2, 1))],
)  # fmt: skip
def test_quick_slices_and_squeezes_equal_lax(shape, start, limit, strides):
    v = np.arange(math.prod(shape), dtype=np.float32).reshape(shape) - 3.5
    eqn = _eqn(lambda a: lax.slice(a, start, limit, strides), v)
    got = numpy_eval(eqn, [v])[0]
    want = np.asarray(lax.slice(v, start, limit, strides))
    assert got.dtype == want.dtype and _same_bits(got, want)
    one = np.asarray(v.reshape(-1)[:1])
    eqn = _eqn(lambda a: lax.squeeze(a, (0,)), one)
    assert _same_bits(numpy_eval(eqn, [one])[0], np.float32(-3.5))


def test_the_quick_transcendental_path_only_reads_the_memo(monkeypatch):
    """sin of a 0-d constant: a value JAX computed before comes from the memo; a
    value never computed is not guessed by numpy."""
    mu = np.asarray(np.float32(0.3))
    eqn = _eqn(jnp.sin, mu)
    memo: dict = {}
    assert evaluate(eqn, [mu], memo) is None  # JAX refused (the fixture): no value
    monkeypatch.undo()
    first = evaluate(eqn, [mu], memo)[0]
    assert _same_bits(first, _jax_value(eqn, [mu]))

    def refuse(*_):
        raise RuntimeError("JAX called again")

    monkeypatch.setattr(compat, "apply_eqn", refuse)
    assert evaluate(eqn, [np.asarray(np.float32(0.3))], memo)[0] is first
    assert evaluate(eqn, [np.asarray(np.float32(0.4))], memo) is None


def test_the_shared_memo_is_bounded(monkeypatch):
    from sparsediff.detection import known_eval

    monkeypatch.undo()
    monkeypatch.setattr(known_eval, "MEMO_LIMIT", 3)
    memo = known_eval.shared_memo()
    assert known_eval.shared_memo() is memo  # one per device context
    memo.clear()
    for k in range(7):
        v = np.asarray(np.float32(0.1 * k))
        evaluate(_eqn(jnp.cos, v), [v], memo)
        assert len(memo) <= 3
    assert all(not v.flags.writeable for v in memo.values())


_QUICK_BINARY = {"add": lax.add, "sub": lax.sub, "mul": lax.mul, "div": lax.div, "lt": lax.lt}


# the autouse fixture (JAX refused to numpy_eval) is the same for every example
_ANY = {"suppress_health_check": [HealthCheck.function_scoped_fixture]}


@settings(max_examples=150, deadline=None, derandomize=True, **_ANY)
@given(
    width=st.sampled_from([32, 64]),
    name=st.sampled_from(sorted(_QUICK_BINARY)),
    data=st.data(),
)
def test_quick_scalar_arithmetic_equals_jax_on_any_floats(width, name, data):
    """Any two floats of one width (subnormals, huge values, NaN and infinities
    included): the quick Python-float path answers as JAX does, bit for bit, or
    leaves the equation to the other paths."""
    dtype = np.float32 if width == 32 else np.float64
    floats = st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True)
    a = np.asarray(dtype(data.draw(floats)))
    b = np.asarray(dtype(data.draw(floats)))
    with _x64(dtype):
        eqn = _eqn(_QUICK_BINARY[name], a, b)
        got = numpy_eval(eqn, [a, b])
        if got is not None:
            assert _same_bits(got[0], _jax_value(eqn, [a, b])), (name, a, b, got[0])


@settings(max_examples=100, deadline=None, derandomize=True, **_ANY)
@given(
    width=st.sampled_from([32, 64]),
    y=st.integers(min_value=1, max_value=9),
    data=st.data(),
)
def test_quick_integer_powers_equal_jax_on_any_floats(width, y, data):
    dtype = np.float32 if width == 32 else np.float64
    floats = st.one_of(
        st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True),
        st.floats(min_value=-4.0, max_value=4.0, width=width),  # where rounding shows
    )
    a = np.asarray(dtype(data.draw(floats)))
    with _x64(dtype):
        eqn = _eqn(lambda v: lax.integer_pow(v, y), a)
        got = numpy_eval(eqn, [a])
        if got is not None:
            assert _same_bits(got[0], _jax_value(eqn, [a])), (y, a, got[0])
