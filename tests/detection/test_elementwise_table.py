"""Every entry of the elementwise table, checked numerically against JAX's own AD.

``DERIVATIVE_ARGS[name]`` says which arguments of an elementwise primitive have
a non-zero first derivative. For each primitive and each argument position:

- an argument the table lists must have a non-zero derivative (``jax.jvp`` over
  the standard basis, i.e. ``jax.jacfwd``) at some random point in the
  primitive's domain, or JAX must refuse to differentiate it (then the table is
  conservatively right; those cases are recorded in :data:`KNOWN_REFUSALS`);
- an argument the table does not list must have an exactly zero derivative, or
  not be floating point;
- ``jacobian_sparsity`` w.r.t. that argument must be the identity (listed) or
  empty (not listed), for float32 and float64, for shape ``(n,)``, ``()`` and
  ``(0,)``, and for a scalar operand broadcast against a vector.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.extend.core import jaxprs_in_params
from jax.extend.core import primitives as P

import sparsediff as sd
from sparsediff.detection import coverage
from sparsediff.detection.registry import RULES
from sparsediff.detection.rules.elementwise import ALL, DERIVATIVE_ARGS

N = 8
POINTS = 3
DTYPES = ["float32", "float64"]

# -- domains -------------------------------------------------------------------
Sampler = Callable[[np.random.Generator, tuple, str], np.ndarray]


def _uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, shape, dt: rng.uniform(lo, hi, size=shape).astype(dt)


def _normal(rng, shape, dt):
    return (2.0 * rng.normal(size=shape)).astype(dt)


def _integer_valued(lo: int, hi: int) -> Sampler:
    return lambda rng, shape, dt: rng.integers(lo, hi, size=shape).astype(dt)


def _complex(rng, shape, dt):
    cdt = np.complex64 if np.dtype(dt) == np.float32 else np.complex128
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(cdt)


def _bool(rng, shape, dt):
    return rng.integers(0, 2, size=shape).astype(bool)


def _int32(rng, shape, dt):
    return rng.integers(-50, 50, size=shape).astype(np.int32)


def _small_uint(rng, shape, dt):
    return rng.integers(0, 8, size=shape).astype(np.int32)


ANY = _normal
POS = _uniform(0.5, 3.0)
UNIT = _uniform(-0.9, 0.9)


@dataclass(frozen=True)
class Case:
    """How to bind one primitive: a function of positional arrays, and their domains."""

    fn: Callable
    domains: tuple[Sampler, ...]


def _bind(prim, **params):
    return lambda *args: prim.bind(*args, **params)


def _convert(x):
    target = jnp.bfloat16 if x.dtype == jnp.float32 else jnp.float32
    return lax.convert_element_type(x, target)


CASES: dict[str, Case] = {
    # all arguments
    "add": Case(lax.add, (ANY, ANY)),
    "sub": Case(lax.sub, (ANY, ANY)),
    "mul": Case(lax.mul, (ANY, ANY)),
    "div": Case(lax.div, (ANY, POS)),
    "max": Case(lax.max, (ANY, ANY)),
    "min": Case(lax.min, (ANY, ANY)),
    "pow": Case(lax.pow, (POS, ANY)),
    "atan2": Case(lax.atan2, (ANY, ANY)),
    "rem": Case(lax.rem, (_uniform(-5.0, 5.0), _uniform(0.5, 2.0))),
    "complex": Case(lax.complex, (ANY, ANY)),
    "add_any": Case(_bind(P.add_jaxvals_p), (ANY, ANY)),
    "clamp": Case(lax.clamp, (_uniform(-1.0, 0.0), _uniform(-2.0, 2.0), _uniform(0.0, 1.0))),
    "igamma": Case(lax.igamma, (POS, POS)),
    "igammac": Case(lax.igammac, (POS, POS)),
    "igamma_grad_a": Case(lax.igamma_grad_a, (POS, POS)),
    "zeta": Case(lax.zeta, (_uniform(1.5, 4.0), POS)),
    "polygamma": Case(lax.polygamma, (_integer_valued(1, 4), POS)),
    "regularized_incomplete_beta": Case(lax.betainc, (POS, POS, _uniform(0.05, 0.95))),
    "nextafter": Case(lax.nextafter, (ANY, ANY)),
    # first argument
    "neg": Case(lax.neg, (ANY,)),
    "sin": Case(lax.sin, (ANY,)),
    "cos": Case(lax.cos, (ANY,)),
    "tan": Case(lax.tan, (UNIT,)),
    "asin": Case(lax.asin, (UNIT,)),
    "acos": Case(lax.acos, (UNIT,)),
    "atan": Case(lax.atan, (ANY,)),
    "sinh": Case(lax.sinh, (ANY,)),
    "cosh": Case(lax.cosh, (ANY,)),
    "tanh": Case(lax.tanh, (ANY,)),
    "asinh": Case(lax.asinh, (ANY,)),
    "acosh": Case(lax.acosh, (_uniform(1.1, 4.0),)),
    "atanh": Case(lax.atanh, (UNIT,)),
    "exp": Case(lax.exp, (ANY,)),
    "exp2": Case(lax.exp2, (ANY,)),
    "log": Case(lax.log, (POS,)),
    "log1p": Case(lax.log1p, (_uniform(-0.5, 3.0),)),
    "expm1": Case(lax.expm1, (ANY,)),
    "sqrt": Case(lax.sqrt, (POS,)),
    "rsqrt": Case(lax.rsqrt, (POS,)),
    "cbrt": Case(lax.cbrt, (POS,)),
    "logistic": Case(lax.logistic, (ANY,)),
    "erf": Case(lax.erf, (ANY,)),
    "erfc": Case(lax.erfc, (ANY,)),
    "erf_inv": Case(lax.erf_inv, (UNIT,)),
    "lgamma": Case(lax.lgamma, (POS,)),
    "digamma": Case(lax.digamma, (POS,)),
    "abs": Case(lax.abs, (ANY,)),
    "integer_pow": Case(lambda x: lax.integer_pow(x, 3), (ANY,)),
    "square": Case(lax.square, (ANY,)),
    "real": Case(lax.real, (_complex,)),
    "imag": Case(lax.imag, (_complex,)),
    "conj": Case(lax.conj, (_complex,)),
    "reduce_precision": Case(
        lambda x: lax.reduce_precision(x, exponent_bits=5, mantissa_bits=10), (ANY,)
    ),
    "copy": Case(_bind(P.copy_p), (ANY,)),
    "convert_element_type": Case(_convert, (ANY,)),
    "bessel_i0e": Case(lax.bessel_i0e, (ANY,)),
    "bessel_i1e": Case(lax.bessel_i1e, (ANY,)),
    # no argument: piecewise constant, boolean or integer results
    "sign": Case(lax.sign, (ANY,)),
    "floor": Case(lax.floor, (ANY,)),
    "ceil": Case(lax.ceil, (ANY,)),
    "round": Case(lax.round, (ANY,)),
    "is_finite": Case(lax.is_finite, (ANY,)),
    "eq": Case(lax.eq, (ANY, ANY)),
    "ne": Case(lax.ne, (ANY, ANY)),
    "lt": Case(lax.lt, (ANY, ANY)),
    "le": Case(lax.le, (ANY, ANY)),
    "gt": Case(lax.gt, (ANY, ANY)),
    "ge": Case(lax.ge, (ANY, ANY)),
    "eq_to": Case(_bind(P.eq_to_p), (ANY, ANY)),
    "le_to": Case(_bind(P.le_to_p), (ANY, ANY)),
    "lt_to": Case(_bind(P.lt_to_p), (ANY, ANY)),
    "stop_gradient": Case(lax.stop_gradient, (ANY,)),
    # select_n(pred, *cases)
    "select_n": Case(lax.select_n, (_bool, ANY, ANY)),
}

#: primitives defined on integers / booleans only: (function, domains)
INTEGER_CASES: dict[str, Case] = {
    "and": Case(lax.bitwise_and, (_int32, _int32)),
    "or": Case(lax.bitwise_or, (_int32, _int32)),
    "xor": Case(lax.bitwise_xor, (_int32, _int32)),
    "not": Case(lax.bitwise_not, (_int32,)),
    "shift_left": Case(lax.shift_left, (_int32, _small_uint)),
    "shift_right_arithmetic": Case(lax.shift_right_arithmetic, (_int32, _small_uint)),
    "shift_right_logical": Case(lax.shift_right_logical, (_int32, _small_uint)),
    "population_count": Case(lax.population_count, (_int32,)),
    "clz": Case(lax.clz, (_int32,)),
}
BOOLEAN_CASES = ("and", "or", "xor", "not")

#: (primitive, argument) pairs JAX refuses to differentiate (jax 0.10); the table
#: lists them, which is conservative: a derivative JAX cannot compute is never asked for.
KNOWN_REFUSALS = {
    ("igamma_grad_a", 0),
    ("igamma_grad_a", 1),
    ("zeta", 0),
    ("zeta", 1),
    ("polygamma", 0),
    ("regularized_incomplete_beta", 0),
    ("regularized_incomplete_beta", 1),
    ("nextafter", 0),
    ("nextafter", 1),
}

#: elementwise primitives of ``jax.extend.core.primitives``
ELEMENTWISE_IN_P = set(CASES) | set(INTEGER_CASES) | {"bitcast_convert_type"}

#: the rest of ``jax.extend.core.primitives``: not elementwise
NOT_ELEMENTWISE_IN_P = {
    # structural, indexing, reductions, windows, contractions
    "broadcast_in_dim", "concatenate", "pad", "reshape", "rev", "slice", "squeeze",
    "transpose", "device_put", "sharding_constraint", "name", "gather", "scatter",
    "scatter-add", "scatter-mul", "scatter-min", "scatter-max", "dynamic_slice",
    "dynamic_update_slice", "reduce", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
    "reduce_and", "reduce_or", "reduce_xor", "argmax", "argmin", "cumsum", "cumprod", "cummax",
    "cummin", "cumlogsumexp", "sort", "top_k", "approx_top_k", "reduce_window",
    "reduce_window_sum", "reduce_window_max", "reduce_window_min", "select_and_gather_add",
    "select_and_scatter", "select_and_scatter_add", "dot_general", "conv_general_dilated",
    # linear algebra, FFT
    "cholesky", "eig", "eigh", "hessenberg", "householder_product", "lu", "qr", "schur", "svd",
    "triangular_solve", "tridiagonal", "tridiagonal_solve", "fft", "custom_linear_solve",
    # calls, custom derivatives, control flow
    "jit", "closed_call", "call", "remat2", "custom_jvp_call", "custom_vjp_call", "custom_lin",
    "cond", "while", "scan",
    # no inputs, tokens, state, randomness, collectives
    "iota", "create_token", "after_all", "empty2", "get", "swap", "random_bits",
    "random_fold_in", "random_gamma", "random_seed", "random_split", "rng_bit_generator",
    "rng_uniform", "threefry2x32", "all_gather", "all_to_all", "axis_index", "pmax", "pmin",
    "ppermute", "psum", "ragged_all_to_all",
}  # fmt: skip


# -- helpers -------------------------------------------------------------------
def _x64(dtype: str):
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


def _is_float(a) -> bool:
    return bool(np.issubdtype(np.asarray(a).dtype, np.inexact))


def _is_complex(a) -> bool:
    return bool(np.issubdtype(np.asarray(a).dtype, np.complexfloating))


def _sample(case: Case, rng, shape, dtype) -> list[np.ndarray]:
    return [d(rng, shape, dtype) for d in case.domains]


def _listed(name: str, nargs: int) -> set[int]:
    spec = DERIVATIVE_ARGS[name]
    if spec == ALL:
        return set(range(nargs))
    if spec == "cases":
        return set(range(1, nargs))
    return set(spec)


def _primitive_names(jaxpr) -> set[str]:
    """Names of the primitives of a (closed) jaxpr and of all its sub-jaxprs."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jaxprs_in_params(eqn.params):
            names |= _primitive_names(sub)
    return names


def _jacobian_nonzeros(fn, args, i) -> np.ndarray:
    """Non-zeros of d out / d args[i] by forward mode over the standard basis: (m, n)."""
    x = jnp.asarray(args[i])

    def g(xi):
        full = list(args)
        full[i] = xi
        return fn(*full)

    n = x.size
    eye = np.eye(n, dtype=x.dtype).reshape((n, *x.shape))
    dirs = [eye] + ([1j * eye] if _is_complex(x) else [])
    acc = None
    for d in dirs:
        tangents = jnp.asarray(d, dtype=x.dtype)
        cols = jax.vmap(lambda t: jax.jvp(g, (x,), (t,))[1])(tangents)
        out = np.asarray(cols)
        if out.dtype == jax.dtypes.float0:
            nz = np.zeros((n, out[0].size), dtype=bool)
        else:
            nz = (out != 0).reshape(n, -1)
        acc = nz if acc is None else acc | nz
    return acc.T  # (m, n)


REFUSAL_ERRORS = (NotImplementedError, ValueError, TypeError)


def _table_params():
    out = []
    for name, case in CASES.items():
        for i in range(len(case.domains)):
            out.append(pytest.param(name, i, id=f"{name}-arg{i}"))
    return out


# -- the table itself ----------------------------------------------------------
def test_table_values_are_well_formed():
    for name, spec in DERIVATIVE_ARGS.items():
        ok = spec in (ALL, "cases") or (
            isinstance(spec, tuple) and all(isinstance(i, int) and i >= 0 for i in spec)
        )
        assert ok, f"DERIVATIVE_ARGS[{name!r}] = {spec!r}"


def test_table_names_are_primitives():
    """A name that is not a primitive's never matches an equation (a stale entry)."""
    known = coverage.all_primitives()
    stale = sorted(n for n in DERIVATIVE_ARGS if n not in known)
    assert not stale, f"DERIVATIVE_ARGS has names of no primitive: {stale}"


def test_every_table_entry_has_a_case():
    known = coverage.all_primitives()
    tested = set(CASES) | set(INTEGER_CASES)
    missing = sorted(n for n in DERIVATIVE_ARGS if n in known and n not in tested)
    assert not missing, missing


def test_table_entries_are_registered():
    known = coverage.all_primitives()
    for name in DERIVATIVE_ARGS:
        if name in known:
            assert known[name] in RULES, name


def test_every_primitive_of_P_is_classified():
    names = {getattr(P, a).name for a in dir(P) if a.endswith("_p")}
    unclassified = sorted(names - ELEMENTWISE_IN_P - NOT_ELEMENTWISE_IN_P)
    assert not unclassified, f"classify these new primitives in this test: {unclassified}"
    assert not ELEMENTWISE_IN_P & NOT_ELEMENTWISE_IN_P


def test_every_elementwise_primitive_is_in_the_table():
    """Every elementwise primitive of ``jax.extend.core.primitives`` is in the table.

    ``bitcast_convert_type`` changes the shape when the bit widths differ, so a
    dedicated rule (JAX's derivative is zero: empty pattern) is accepted too.
    """
    by_name = {getattr(P, a).name: getattr(P, a) for a in dir(P) if a.endswith("_p")}
    missing = []
    for name in sorted(ELEMENTWISE_IN_P):
        if name in DERIVATIVE_ARGS:
            continue
        if name == "bitcast_convert_type" and by_name[name] in RULES:
            continue
        missing.append(name)
    assert not missing, f"elementwise primitives without a table entry or rule: {missing}"


# -- numerical check of every entry -------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "i"), _table_params())
def test_entry_matches_jax_ad(name, i, dtype):
    case = CASES[name]
    nargs = len(case.domains)
    listed = i in _listed(name, nargs)
    rng = np.random.default_rng(zlib.crc32(f"{name}/{i}/{dtype}".encode()))
    with _x64(dtype):
        args = _sample(case, rng, (N,), dtype)
        closed = jax.make_jaxpr(case.fn)(*args)
        assert name in _primitive_names(closed), f"{name} not bound by its case: {closed}"
        if not _is_float(args[i]):
            assert not listed, f"{name}: the table lists non-float argument {i}"
            return
        seen = np.zeros((N, N), dtype=bool)
        for _ in range(POINTS):
            args = _sample(case, rng, (N,), dtype)
            try:
                nz = _jacobian_nonzeros(case.fn, args, i)
            except REFUSAL_ERRORS as err:
                assert listed, f"{name} arg {i}: table says zero, but JAX refuses: {err}"
                assert (name, i) in KNOWN_REFUSALS, (
                    f"{name} arg {i}: JAX refuses to differentiate ({err}); record it in "
                    "KNOWN_REFUSALS"
                )
                return
            assert not (nz & ~np.eye(N, dtype=bool)).any(), f"{name}: not elementwise"
            seen |= nz
        if listed:
            assert seen.any(), f"{name} arg {i}: table lists it but jacfwd is zero everywhere"
        else:
            assert not seen.any(), f"{name} arg {i}: table says zero but jacfwd is not"


@pytest.mark.parametrize(("name", "i"), sorted(KNOWN_REFUSALS))
def test_known_refusals_still_refuse(name, i):
    """Keeps :data:`KNOWN_REFUSALS` honest: each really is refused by JAX."""
    case = CASES[name]
    rng = np.random.default_rng(0)
    args = _sample(case, rng, (N,), "float32")
    with pytest.raises(REFUSAL_ERRORS):
        _jacobian_nonzeros(case.fn, args, i)


# -- detection against the table -----------------------------------------------
def _expected(name, i, nargs, m, n, scalar_arg=False) -> np.ndarray:
    if i not in _listed(name, nargs):
        return np.zeros((m, n), dtype=bool)
    if scalar_arg:
        return np.ones((m, n), dtype=bool)
    return np.eye(m, n, dtype=bool)


@pytest.mark.parametrize(
    "shape", [(N,), (), (0,), (2, 3)], ids=["vector", "scalar", "empty", "matrix"]
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "i"), _table_params())
def test_detection_follows_table(name, i, dtype, shape):
    case = CASES[name]
    nargs = len(case.domains)
    rng = np.random.default_rng(1)
    with _x64(dtype):
        args = _sample(case, rng, shape, dtype)
        if not _is_float(args[i]):
            pytest.skip("argument is not floating point: not differentiable")
        pattern = sd.jacobian_sparsity(case.fn, *args, argnums=i)
        size = int(np.prod(shape, dtype=np.int64))
        assert pattern.shape == (size, size)
        want = _expected(name, i, nargs, size, size)
        np.testing.assert_array_equal(pattern.todense(), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "i"), _table_params())
def test_detection_is_sound_with_known_operands(name, i, dtype):
    """Other operands closed over (known values): the pattern still covers jacfwd."""
    case = CASES[name]
    rng = np.random.default_rng(2)
    with _x64(dtype):
        args = _sample(case, rng, (N,), dtype)
        if not _is_float(args[i]):
            pytest.skip("argument is not floating point: not differentiable")

        def g(xi):
            full = list(args)
            full[i] = xi
            return case.fn(*full)

        pattern = sd.jacobian_sparsity(g, args[i]).todense()
        try:
            nz = _jacobian_nonzeros(case.fn, args, i)
        except REFUSAL_ERRORS:
            pytest.skip("JAX refuses to differentiate this argument")
        missing = np.argwhere(nz & ~pattern)
        assert missing.size == 0, f"unsound: misses {missing.tolist()}"


#: operands lax does not let be scalars among vectors: add_any needs equal shapes,
#: clamp's operand (but not its bounds) must have the output shape; select_n's cases too
NO_SCALAR_OPERAND = {("add_any", 0), ("add_any", 1), ("clamp", 1)}


def _binary_params():
    out = []
    for name, case in CASES.items():
        nargs = len(case.domains)
        if nargs < 2 or name == "select_n":
            continue
        for s in range(nargs):
            if (name, s) in NO_SCALAR_OPERAND:
                continue
            out.append(pytest.param(name, s, id=f"{name}-scalar{s}"))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "s"), _binary_params())
def test_scalar_operand_broadcasts(name, s, dtype):
    """Operand ``s`` of shape ``()`` against vector operands: its column is full."""
    case = CASES[name]
    prim = coverage.all_primitives()[name]
    nargs = len(case.domains)
    rng = np.random.default_rng(3)
    with _x64(dtype):
        args = [d(rng, () if k == s else (N,), dtype) for k, d in enumerate(case.domains)]
        fn = _bind(prim)
        for i in range(nargs):
            if not _is_float(args[i]):
                continue
            pattern = sd.jacobian_sparsity(fn, *args, argnums=i)
            n = 1 if i == s else N
            want = _expected(name, i, nargs, N, n, scalar_arg=(i == s))
            np.testing.assert_array_equal(pattern.todense(), want, err_msg=f"argument {i}")


def test_select_n_with_three_cases_and_integer_predicate():
    def f(a, b, c, which):
        return lax.select_n(which, a, b, c)

    x = np.ones(N, np.float32)
    which = np.arange(N, dtype=np.int32) % 3
    for i in range(3):
        pattern = sd.jacobian_sparsity(f, x, x, x, which, argnums=i)
        np.testing.assert_array_equal(pattern.todense(), np.eye(N, dtype=bool))
    # a known predicate selects exactly
    pattern = sd.jacobian_sparsity(lambda a, b, c: f(a, b, c, which), x, x, x, argnums=(0, 1, 2))
    want = np.zeros((N, 3 * N), dtype=bool)
    want[np.arange(N), which * N + np.arange(N)] = True
    np.testing.assert_array_equal(pattern.todense(), want)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_narrow_float_dtypes_carry_derivatives(dtype):
    """bfloat16 (an ml_dtypes type, not a numpy ``inexact`` subtype) is floating point."""

    def f(x):
        return x.astype(dtype).astype(jnp.float32)

    x = np.ones(N, np.float32)
    assert np.asarray(jax.jacfwd(f)(x)).any()
    np.testing.assert_array_equal(sd.jacobian_sparsity(f, x).todense(), np.eye(N, dtype=bool))
    xs = jnp.ones(N, dtype)
    np.testing.assert_array_equal(
        sd.jacobian_sparsity(lambda x: x * 2, xs).todense(), np.eye(N, dtype=bool)
    )


# -- integer / boolean primitives ------------------------------------------------
@pytest.mark.parametrize("name", sorted(INTEGER_CASES))
@pytest.mark.parametrize("kind", ["int32", "bool"])
def test_integer_primitive_has_empty_pattern(name, kind):
    if kind == "bool" and name not in BOOLEAN_CASES:
        pytest.skip("integer-only primitive")
    case = INTEGER_CASES[name]
    assert DERIVATIVE_ARGS[name] == ()
    rng = np.random.default_rng(4)
    others = [d(rng, (N,), "float32") for d in case.domains]

    def f(x):
        ints = lax.convert_element_type(jnp.round(x * 10.0), jnp.int32)
        first = ints > 0 if kind == "bool" else ints
        rest = [o > 0 if kind == "bool" else o for o in others[1:]]
        out = case.fn(first, *rest)
        return lax.convert_element_type(out, jnp.float32) * x

    x = rng.normal(size=N).astype(np.float32)
    assert name in _primitive_names(jax.make_jaxpr(f)(x))
    pattern = sd.jacobian_sparsity(f, x)
    # only the final product with x itself contributes
    np.testing.assert_array_equal(pattern.todense(), np.eye(N, dtype=bool))

    def g(x):
        ints = lax.convert_element_type(jnp.round(x * 10.0), jnp.int32)
        first = ints > 0 if kind == "bool" else ints
        rest = [o > 0 if kind == "bool" else o for o in others[1:]]
        return lax.convert_element_type(case.fn(first, *rest), jnp.float32)

    assert not sd.jacobian_sparsity(g, x).todense().any()


# -- known operands with exact zeros, infinities and NaN -----------------------
# The entries above draw known operands away from zero. Here the known operand
# holds signed zeros, infinities and NaN, where the derivative with respect to
# the other operand can be 0 (x * 0, 0 / x), infinite (x / 0) or NaN. What counts
# as a non-zero entry is decided in tests/oracle.py: +-inf counts, and NaN counts
# only where the seed itself causes it (a row that is NaN along the zero
# direction too, e.g. every entry of x / c's row where c == 0 but its diagonal,
# is undefined at that point). The pattern must hold every such entry at every
# point (soundness); where a known zero provably kills the derivative (x * c,
# c * x, c / x: the known-zero shortcut) it must also be exactly diag(c != 0).

#: a known operand with both signed zeros, infinities and NaN
SPECIAL = (0.0, -0.0, 1.5, np.inf, -np.inf, np.nan, 0.0, -2.0)
SPECIAL_SCALARS = (0.0, -0.0, np.inf, np.nan)

#: binary primitives: the sampler of the unknown operand in each position
SPECIAL_BINARY = {
    "mul": (lax.mul, (ANY, ANY)),
    "div": (lax.div, (ANY, ANY)),
    "pow": (lax.pow, (POS, ANY)),
    "atan2": (lax.atan2, (ANY, ANY)),
    "rem": (lax.rem, (ANY, ANY)),
}
#: (primitive, position of the unknown operand) where the known zeros cut entries
ZERO_CUTS = {("mul", 0), ("mul", 1), ("div", 1)}


def _with_zeros(x: np.ndarray) -> np.ndarray:
    """``x`` with exact zeros at every third element (the unknown operand at 0 too)."""
    x = np.array(x, copy=True)
    x[::3] = 0
    return x


def _special_points(sampler, rng, shape, dtype) -> list[np.ndarray]:
    pts = [sampler(rng, shape, dtype) for _ in range(POINTS)]
    return pts + [_with_zeros(pts[0])]


def _known_operand_truth(g, sampler, rng, dtype, hessian=False) -> tuple[np.ndarray, np.ndarray]:
    """``(detected, truth)`` for ``g(x)``; truth: the oracle's non-zeros over the points."""
    from tests.oracle import nonzero_entries

    pts = _special_points(sampler, rng, (N,), dtype)
    if hessian:
        pattern = sd.hessian_sparsity(g, pts[0])
    else:
        pattern = sd.jacobian_sparsity(g, pts[0])
    truth = np.zeros(pattern.shape, dtype=bool)
    for p in pts:
        truth |= nonzero_entries(g, (p,), hessian=hessian)
    detected = pattern.todense()
    missing = np.argwhere(truth & ~detected)
    assert missing.size == 0, f"unsound: misses {missing.tolist()}"
    return detected, truth


def _special_params():
    return [
        pytest.param(name, i, id=f"{name}-unknown{i}") for name in SPECIAL_BINARY for i in range(2)
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "i"), _special_params())
def test_known_operand_with_zeros_infinities_and_nan(name, i, dtype):
    fn, samplers = SPECIAL_BINARY[name]
    rng = np.random.default_rng(zlib.crc32(f"special/{name}/{i}/{dtype}".encode()))
    with _x64(dtype):
        c = jnp.asarray(SPECIAL, dtype=dtype)

        def g(x):
            return fn(x, c) if i == 0 else fn(c, x)

        detected, truth = _known_operand_truth(g, samplers[i], rng, dtype)
        diag = np.diag(truth)
        zero = np.asarray(SPECIAL) == 0
        if (name, i) == ("div", 0):  # d(x / 0)/dx = inf: the entry must be there
            assert diag[zero].all(), diag
        if name == "mul":  # d(x * inf)/dx = inf
            assert diag[np.isinf(SPECIAL)].all(), diag
        if (name, i) in ZERO_CUTS:
            np.testing.assert_array_equal(detected, np.diag(~zero))


@pytest.mark.parametrize(("name", "i"), _special_params())
def test_known_scalar_operand_with_zeros_infinities_and_nan(name, i):
    """A known scalar (0, -0, inf, NaN) broadcast against the unknown vector."""
    fn, samplers = SPECIAL_BINARY[name]
    rng = np.random.default_rng(zlib.crc32(f"special-scalar/{name}/{i}".encode()))
    with _x64("float64"):
        for value in SPECIAL_SCALARS:
            c = jnp.asarray(value, dtype=jnp.float64)

            def g(x, c=c):
                c = jnp.broadcast_to(c, x.shape)
                return fn(x, c) if i == 0 else fn(c, x)

            detected, truth = _known_operand_truth(g, samplers[i], rng, "float64")
            if (name, i) == ("div", 0) and value == 0:
                assert truth.diagonal().all()
            if (name, i) in ZERO_CUTS:
                want = np.zeros((N, N), bool) if value == 0 else np.eye(N, dtype=bool)
                np.testing.assert_array_equal(detected, want, err_msg=f"c = {value}")


#: integer_pow of the unknown operand (at points with exact zeros: x ** -1 has an
#: infinite derivative there) and of a known operand with zeros used as a factor on
#: either side: (name, g(x, c), known factor whose zeros cut the entry or None)
INTEGER_POW_CASES = {
    "x**-2": (lambda x, c: lax.integer_pow(x, -2), None),
    "x**-1": (lambda x, c: lax.integer_pow(x, -1), None),
    "x**0": (lambda x, c: lax.integer_pow(x, 0), None),
    "x**3": (lambda x, c: lax.integer_pow(x, 3), None),
    "x * c**2": (lambda x, c: x * lax.integer_pow(c, 2), lambda c: c**2),
    "c**2 * x": (lambda x, c: lax.integer_pow(c, 2) * x, lambda c: c**2),
    "c**2 / x": (lambda x, c: lax.integer_pow(c, 2) / x, lambda c: c**2),
    "x / c**2": (lambda x, c: x / lax.integer_pow(c, 2), None),
    "c**-1 * x": (lambda x, c: lax.integer_pow(c, -1) * x, lambda c: 1 / c),
    "x * c**0": (lambda x, c: x * lax.integer_pow(c, 0), lambda c: c**0),
}


@pytest.mark.parametrize("case", sorted(INTEGER_POW_CASES))
def test_integer_pow_with_zeros_infinities_and_nan(case):
    fn, factor = INTEGER_POW_CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"integer_pow/{case}".encode()))
    with _x64("float64"):
        c = jnp.asarray(SPECIAL, dtype=jnp.float64)
        detected, truth = _known_operand_truth(lambda x: fn(x, c), ANY, rng, "float64")
        if case == "x / c**2":  # d(x / 0)/dx = inf
            assert np.diag(truth)[np.asarray(SPECIAL) == 0].all()
        if factor is not None:
            with np.errstate(all="ignore"):
                keep = factor(np.asarray(SPECIAL)) != 0
            np.testing.assert_array_equal(detected, np.diag(keep))


#: Hessians of sums with a known operand holding zeros, infinities and NaN: the
#: gradient divides by or multiplies with it (2 x / c is infinite where c == 0)
HESSIAN_SPECIAL = {
    "sum(x**2 / c)": (lambda x, c: jnp.sum(x**2 / c), None),
    "sum(c / x)": (lambda x, c: jnp.sum(c / x), lambda c: c != 0),
    "sum(c * x**2)": (lambda x, c: jnp.sum(c * x**2), lambda c: c != 0),
    "sum(x * c * x)": (lambda x, c: jnp.sum(x * c * x), lambda c: c != 0),
    "sum(x**c)": (lambda x, c: jnp.sum(x**c), None),
    "sum(c**x)": (lambda x, c: jnp.sum(c**x), None),
    "sum(atan2(x, c) + atan2(c, x))": (
        lambda x, c: jnp.sum(jnp.arctan2(x, c) + jnp.arctan2(c, x)),
        None,
    ),
    "sum(rem(x, c) * x + rem(c, x) * x)": (
        lambda x, c: jnp.sum(lax.rem(x, c) * x + lax.rem(c, x) * x),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(HESSIAN_SPECIAL))
def test_hessian_with_zeros_infinities_and_nan(case):
    fn, keep = HESSIAN_SPECIAL[case]
    rng = np.random.default_rng(zlib.crc32(f"hessian/{case}".encode()))
    with _x64("float64"):
        c = jnp.asarray(SPECIAL, dtype=jnp.float64)
        sampler = POS if "x**c" in case else ANY
        detected, truth = _known_operand_truth(
            lambda x: fn(x, c), sampler, rng, "float64", hessian=True
        )
        if case == "sum(x**2 / c)":
            assert np.diag(truth)[np.asarray(SPECIAL) == 0].all()
        if keep is not None:
            np.testing.assert_array_equal(detected, np.diag(keep(np.asarray(SPECIAL))))
