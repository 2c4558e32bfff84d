"""Contract tests: the jaxpr layouts the detection engine relies on.

The rules read equation parameters by name and operands by position. These
tests pin those layouts for the JAX version in use, so that a JAX upgrade that
moves them fails here, naming the parameter, rather than as a wrong pattern.
They also check :mod:`sparsediff.detection.compat`'s helpers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.extend.core import ClosedJaxpr, Jaxpr, Literal, Primitive, jaxprs_in_params

from sparsediff.detection import compat

X = np.linspace(-1.0, 1.0, 6, dtype=np.float32)


# -- helpers -------------------------------------------------------------------------
def _eqns(jaxpr):
    """Every equation of a (closed) jaxpr and of its sub-jaxprs, outermost first."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jaxprs_in_params(eqn.params):
            yield from _eqns(sub)


def find_eqn(f, *args, name: str):
    """The first equation of primitive ``name`` in the jaxpr of ``f(*args)``."""
    closed = jax.make_jaxpr(f)(*args)
    for eqn in _eqns(closed):
        if eqn.primitive.name == name:
            return eqn
    raise AssertionError(f"no {name!r} equation in\n{closed}")


def assert_params(eqn, *keys):
    missing = [k for k in keys if k not in eqn.params]
    assert not missing, f"{eqn.primitive.name}: params lack {missing}; has {sorted(eqn.params)}"


def _is_int_tuple(t, length=None) -> bool:
    ok = isinstance(t, tuple) and all(isinstance(v, (int, np.integer)) for v in t)
    return ok and (length is None or len(t) == length)


@jax.custom_jvp
def ste_round(x):
    return jnp.round(x)


ste_round.defjvp(lambda p, t: (ste_round(p[0]), t[0]))


@jax.custom_vjp
def scaled(x):
    return 2.0 * x


scaled.defvjp(lambda x: (scaled(x), None), lambda r, g: (3.0 * g,))


# -- calls -----------------------------------------------------------------------------
def test_jit_layout():
    eqn = find_eqn(jax.jit(jnp.sin), X, name="jit")
    assert_params(eqn, "jaxpr")
    assert isinstance(eqn.params["jaxpr"], ClosedJaxpr)
    assert len(eqn.params["jaxpr"].jaxpr.invars) == len(eqn.invars)
    assert len(eqn.params["jaxpr"].jaxpr.outvars) == len(eqn.outvars)


def _closed_call_program():
    try:
        from jax._src.lax.eval_jaxpr import eval_jaxpr_p
    except ImportError:  # pragma: no cover - moved in another JAX version
        pytest.skip("no eval_jaxpr_p to stage a closed_call with")
    inner = jax.make_jaxpr(lambda v: jnp.sin(v) * 2.0)(X)
    return lambda x: eval_jaxpr_p.bind(x, jaxpr=inner)[0]


def test_closed_call_layout():
    f = _closed_call_program()
    eqn = find_eqn(f, X, name="closed_call")
    assert_params(eqn, "call_jaxpr")
    assert isinstance(eqn.params["call_jaxpr"], ClosedJaxpr)
    assert len(eqn.params["call_jaxpr"].jaxpr.invars) == len(eqn.invars)
    np.testing.assert_allclose(compat.bind_eqn(eqn, X)[0], np.sin(X) * 2.0, rtol=1e-6)


def test_remat_layout():
    const = np.arange(6.0, dtype=np.float32) + 1.0
    eqn = find_eqn(jax.checkpoint(lambda x: jnp.sin(x) * const), X, name="remat2")
    assert_params(eqn, "jaxpr")
    inner = eqn.params["jaxpr"]
    assert isinstance(inner, Jaxpr), type(inner)
    # the engine evaluates it with no constants: closed-over values are operands
    assert not inner.constvars
    assert len(inner.invars) == len(eqn.invars)


def test_custom_jvp_call_layout():
    const = jnp.asarray(np.arange(6.0, dtype=np.float32))

    @jax.custom_jvp
    def g(x):
        return jnp.round(x) * const

    g.defjvp(lambda p, t: (g(p[0]), t[0] * const))

    closed = jax.make_jaxpr(g)(X)
    eqn = find_eqn(g, X, name="custom_jvp_call")
    assert_params(eqn, "call_jaxpr", "jvp_jaxpr_fun", "num_consts", "symbolic_zeros")
    assert isinstance(eqn.params["call_jaxpr"], ClosedJaxpr)
    # operands: the closed-over constants first (num_consts of them), then the arguments;
    # call_jaxpr takes them all
    assert eqn.params["num_consts"] == 1
    assert eqn.invars[0] in closed.jaxpr.constvars
    assert eqn.invars[1] in closed.jaxpr.invars
    assert len(eqn.invars) == len(eqn.params["call_jaxpr"].jaxpr.invars)
    assert len(eqn.outvars) == len(eqn.params["call_jaxpr"].jaxpr.outvars)


def test_custom_vjp_call_layout():
    eqn = find_eqn(scaled, X, name="custom_vjp_call")
    assert_params(
        eqn, "call_jaxpr", "fwd_jaxpr_thunk", "bwd", "num_consts", "out_trees", "symbolic_zeros"
    )
    assert isinstance(eqn.params["call_jaxpr"], ClosedJaxpr)
    assert isinstance(eqn.params["num_consts"], int)
    assert len(eqn.invars) == len(eqn.params["call_jaxpr"].jaxpr.invars)


# -- control flow ----------------------------------------------------------------------
def test_cond_layout():
    eqn = find_eqn(lambda x: lax.cond(x[0] > 0, jnp.sin, jnp.cos, x), X, name="cond")
    assert_params(eqn, "branches")
    branches = eqn.params["branches"]
    assert isinstance(branches, tuple) and len(branches) == 2
    assert all(isinstance(b, ClosedJaxpr) for b in branches)
    # operand 0 is the integer branch index, the rest feed every branch
    assert np.issubdtype(eqn.invars[0].aval.dtype, np.integer)
    assert all(len(b.jaxpr.invars) == len(eqn.invars) - 1 for b in branches)
    # lax.switch: one branch per function, index clamped by the engine
    eqn = find_eqn(lambda x: lax.switch(1, [jnp.sin, jnp.cos, jnp.tan], x), X, name="cond")
    assert len(eqn.params["branches"]) == 3


def test_while_layout():
    def f(x):
        k = jnp.float32(3.0)
        return lax.while_loop(lambda c: c[1] < k, lambda c: (c[0] * x, c[1] + 1.0), (x, 0.0))[0]

    eqn = find_eqn(f, X, name="while")
    assert_params(eqn, "cond_jaxpr", "body_jaxpr", "cond_nconsts", "body_nconsts")
    p = eqn.params
    assert isinstance(p["cond_jaxpr"], ClosedJaxpr) and isinstance(p["body_jaxpr"], ClosedJaxpr)
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    ncarry = len(eqn.outvars)
    # operands: cond consts, body consts, carries
    assert len(eqn.invars) == cn + bn + ncarry
    assert len(p["cond_jaxpr"].jaxpr.invars) == cn + ncarry
    assert len(p["body_jaxpr"].jaxpr.invars) == bn + ncarry
    assert len(p["body_jaxpr"].jaxpr.outvars) == ncarry
    assert bn >= 1  # x is a body constant here


def test_scan_layout():
    def f(x, w):
        def body(c, v):
            return c * w + v, c * v

        return lax.scan(body, 0.0, x, reverse=True)

    eqn = find_eqn(f, X, np.float32(0.5), name="scan")
    assert_params(eqn, "jaxpr", "num_consts", "num_carry", "length", "reverse")
    p = eqn.params
    assert isinstance(p["jaxpr"], ClosedJaxpr)
    assert p["length"] == X.size and p["reverse"] is True
    nc, nk = p["num_consts"], p["num_carry"]
    assert (nc, nk) == (1, 1)
    # operands: consts, carries, xs (scanned along axis 0); outputs: carries, ys
    assert len(eqn.invars) == nc + nk + 1
    assert eqn.invars[nc + nk].aval.shape == (X.size,)
    assert len(eqn.outvars) == nk + 1
    assert eqn.outvars[nk].aval.shape == (X.size,)
    body = p["jaxpr"].jaxpr
    assert len(body.invars) == nc + nk + 1 and body.invars[-1].aval.shape == ()


def test_custom_linear_solve_layout():
    def f(b):
        return lax.custom_linear_solve(lambda v: 2.0 * v, b, lambda mv, r: r / 2.0)

    eqn = find_eqn(f, X, name="custom_linear_solve")
    assert_params(eqn, "const_lengths", "jaxprs")
    for field in ("matvec", "vecmat", "solve", "transpose_solve"):
        assert hasattr(eqn.params["const_lengths"], field)
        assert hasattr(eqn.params["jaxprs"], field)
    assert isinstance(eqn.params["jaxprs"].matvec, ClosedJaxpr)
    assert isinstance(eqn.params["jaxprs"].solve, ClosedJaxpr)


# -- indexing --------------------------------------------------------------------------
def test_gather_layout():
    idx = jnp.array([4, 0, 2])
    eqn = find_eqn(lambda x: x[idx], X, name="gather")
    assert_params(eqn, "dimension_numbers", "slice_sizes", "mode", "fill_value")
    dn = eqn.params["dimension_numbers"]
    for field in (
        "offset_dims",
        "collapsed_slice_dims",
        "start_index_map",
        "operand_batching_dims",
        "start_indices_batching_dims",
    ):
        assert _is_int_tuple(tuple(getattr(dn, field))), field
    assert isinstance(dn, lax.GatherDimensionNumbers)
    assert isinstance(eqn.params["mode"], lax.GatherScatterMode)
    assert _is_int_tuple(tuple(eqn.params["slice_sizes"]), 1)
    assert len(eqn.invars) == 2  # operand, indices


SCATTERS = {
    "scatter": lambda x, i, u: x.at[i].set(u),
    "scatter-add": lambda x, i, u: x.at[i].add(u),
    "scatter-mul": lambda x, i, u: x.at[i].multiply(u),
    "scatter-min": lambda x, i, u: x.at[i].min(u),
    "scatter-max": lambda x, i, u: x.at[i].max(u),
    "scatter-sub": lambda x, i, u: x.at[i].subtract(u),
}


@pytest.mark.parametrize("name", sorted(SCATTERS))
def test_scatter_layout(name):
    idx = jnp.array([1, 3])
    upd = np.ones(2, np.float32)
    eqn = find_eqn(lambda x, u: SCATTERS[name](x, idx, u), X, upd, name=name)
    assert_params(eqn, "dimension_numbers", "mode")
    dn = eqn.params["dimension_numbers"]
    for field in (
        "update_window_dims",
        "inserted_window_dims",
        "scatter_dims_to_operand_dims",
        "operand_batching_dims",
        "scatter_indices_batching_dims",
    ):
        assert _is_int_tuple(tuple(getattr(dn, field))), field
    assert isinstance(eqn.params["mode"], lax.GatherScatterMode)
    # operands: operand, indices, updates
    assert len(eqn.invars) == 3
    assert eqn.invars[0].aval.shape == X.shape and eqn.invars[2].aval.shape == (2,)
    assert np.issubdtype(eqn.invars[1].aval.dtype, np.integer)


def test_dynamic_slice_layout():
    eqn = find_eqn(
        lambda x, i: lax.dynamic_slice(x.reshape(2, 3), (i, 1), (1, 2)),
        X,
        np.int32(1),
        name="dynamic_slice",
    )
    assert_params(eqn, "slice_sizes")
    assert tuple(eqn.params["slice_sizes"]) == (1, 2)
    # operand, then one scalar start index per dimension
    assert len(eqn.invars) == 3
    assert all(v.aval.shape == () for v in eqn.invars[1:])


def test_dynamic_update_slice_layout():
    eqn = find_eqn(
        lambda x, u, i: lax.dynamic_update_slice(x, u, (i,)),
        X,
        np.ones(2, np.float32),
        np.int32(1),
        name="dynamic_update_slice",
    )
    # operand, update, then one scalar start index per dimension
    assert len(eqn.invars) == 3
    assert eqn.invars[1].aval.shape == (2,) and eqn.invars[2].aval.shape == ()


# -- contractions ------------------------------------------------------------------------
def test_conv_general_dilated_layout():
    def f(x, k):
        return lax.conv_general_dilated(
            x.reshape(1, 6, 1),
            k,
            window_strides=(2,),
            padding=[(1, 0)],
            lhs_dilation=(2,),
            rhs_dilation=(1,),
            dimension_numbers=("NHC", "HIO", "NHC"),
            feature_group_count=1,
        )

    eqn = find_eqn(f, X, np.ones((2, 1, 3), np.float32), name="conv_general_dilated")
    assert_params(
        eqn,
        "dimension_numbers",
        "feature_group_count",
        "batch_group_count",
        "lhs_dilation",
        "rhs_dilation",
        "padding",
        "window_strides",
    )
    lhs_spec, rhs_spec, out_spec = eqn.params["dimension_numbers"]
    assert tuple(lhs_spec) == (0, 2, 1)  # (batch, feature, spatial...) positions
    assert tuple(rhs_spec) == (2, 1, 0)  # (out feature, in feature, spatial...)
    assert tuple(out_spec) == (0, 2, 1)
    assert eqn.params["feature_group_count"] == 1 and eqn.params["batch_group_count"] == 1
    assert tuple(eqn.params["lhs_dilation"]) == (2,)
    assert tuple(eqn.params["rhs_dilation"]) == (1,)
    assert tuple(eqn.params["window_strides"]) == (2,)
    assert tuple(tuple(p) for p in eqn.params["padding"]) == ((1, 0),)


def test_dot_general_layout():
    a = np.ones((2, 3, 4), np.float32)
    b = np.ones((2, 4, 5), np.float32)
    eqn = find_eqn(lambda a, b: jnp.einsum("bij,bjk->bik", a, b), a, b, name="dot_general")
    assert_params(eqn, "dimension_numbers")
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    assert (tuple(lc), tuple(rc), tuple(lb), tuple(rb)) == ((2,), (1,), (0,), (0,))


# -- reductions and windows -----------------------------------------------------------------
WINDOW_KEYS = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")


@pytest.mark.parametrize(
    ("name", "f"),
    [
        ("reduce_window_sum", lambda x: lax.reduce_window(x, 0.0, lax.add, (2,), (2,), [(1, 0)])),
        (
            "reduce_window_max",
            lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (2,), (1,), [(1, 0)]),
        ),
        ("reduce_window", lambda x: lax.reduce_window(x, 1.0, lax.mul, (2,), (1,), "VALID")),
    ],
)
def test_reduce_window_layout(name, f):
    eqn = find_eqn(f, X, name=name)
    assert_params(eqn, *WINDOW_KEYS)
    for key in WINDOW_KEYS[:2] + WINDOW_KEYS[3:]:
        assert _is_int_tuple(tuple(eqn.params[key]), 1), key
    assert all(len(tuple(p)) == 2 for p in eqn.params["padding"])


def test_cumsum_layout():
    eqn = find_eqn(lambda x: lax.cumsum(x.reshape(2, 3), axis=1, reverse=True), X, name="cumsum")
    assert_params(eqn, "axis", "reverse")
    assert eqn.params["axis"] == 1 and eqn.params["reverse"] is True
    eqn = find_eqn(lambda x: jnp.cumsum(x), X, name="cumsum")
    assert eqn.params["axis"] == 0 and eqn.params["reverse"] is False


def test_sort_layout():
    eqn = find_eqn(lambda x: lax.sort((x, 2.0 * x), num_keys=1), X, name="sort")
    assert_params(eqn, "dimension", "num_keys")
    assert eqn.params["dimension"] == 0 and eqn.params["num_keys"] == 1
    assert eqn.primitive.multiple_results and len(eqn.invars) == len(eqn.outvars) == 2


def test_reduce_layouts():
    eqn = find_eqn(lambda x: jnp.sum(x.reshape(2, 3), axis=1), X, name="reduce_sum")
    assert_params(eqn, "axes")
    assert tuple(eqn.params["axes"]) == (1,)


# -- structural ---------------------------------------------------------------------------------
def test_pad_layout():
    eqn = find_eqn(lambda x: lax.pad(x, 0.0, [(1, -2, 1)]), X, name="pad")
    assert_params(eqn, "padding_config")
    assert tuple(tuple(c) for c in eqn.params["padding_config"]) == ((1, -2, 1),)
    assert len(eqn.invars) == 2  # operand, padding value


@pytest.mark.parametrize(
    ("name", "f", "keys"),
    [
        ("reshape", lambda x: x.reshape(2, 3), ("new_sizes", "dimensions")),
        (
            "broadcast_in_dim",
            lambda x: jnp.broadcast_to(x, (2, 6)),
            ("shape", "broadcast_dimensions"),
        ),
        ("transpose", lambda x: x.reshape(2, 3).T, ("permutation",)),
        ("slice", lambda x: x[1:5:2], ("start_indices", "limit_indices", "strides")),
        ("rev", lambda x: x[::-1], ("dimensions",)),
        ("concatenate", lambda x: jnp.concatenate([x, x]), ("dimension",)),
        ("squeeze", lambda x: x.reshape(1, 6)[0], ("dimensions",)),
        ("split", lambda x: jnp.split(x, 3)[1], ("sizes", "axis")),
        ("fft", lambda x: jnp.fft.fft(x).real, ("fft_lengths",)),
    ],
)
def test_structural_layouts(name, f, keys):
    eqn = find_eqn(f, X, name=name)
    assert_params(eqn, *keys)


# -- compat helpers ------------------------------------------------------------------------
def test_bind_eqn_custom_jvp_call():
    eqn = find_eqn(ste_round, X, name="custom_jvp_call")
    x = X * 3.0
    np.testing.assert_array_equal(compat.bind_eqn(eqn, x)[0], np.round(x))
    # differentiating the re-bound equation uses the custom rule (straight through)
    t = np.arange(X.size, dtype=np.float32)
    _, tangent = jax.jvp(lambda v: compat.bind_eqn(eqn, v)[0], (x,), (t,))
    np.testing.assert_array_equal(tangent, t)


def test_bind_eqn_custom_vjp_call():
    eqn = find_eqn(scaled, X, name="custom_vjp_call")
    np.testing.assert_allclose(compat.bind_eqn(eqn, X)[0], 2.0 * X)
    _, vjp = jax.vjp(lambda v: compat.bind_eqn(eqn, v)[0], X)
    np.testing.assert_allclose(vjp(np.ones_like(X))[0], 3.0 * np.ones_like(X))


def _run_with_bind_eqn(closed, *args):
    """A minimal interpreter that evaluates every top-level equation with bind_eqn."""
    env = {}

    def read(v):
        return compat.literal_value(v) if isinstance(v, Literal) else env[v]

    for var, val in zip(closed.jaxpr.constvars, closed.consts, strict=True):
        env[var] = val
    for var, val in zip(closed.jaxpr.invars, args, strict=True):
        env[var] = val
    for eqn in closed.jaxpr.eqns:
        with compat.eqn_context(eqn):
            out = compat.bind_eqn(eqn, *[read(v) for v in eqn.invars])
        outs = out if eqn.primitive.multiple_results else [out]
        for var, val in zip(eqn.outvars, outs, strict=True):
            env[var] = val
    return [read(v) for v in closed.jaxpr.outvars]


def test_bind_eqn_evaluates_every_kind_of_equation():
    idx = jnp.array([5, 0, 2])

    def f(x):
        x = jnp.asarray(x)
        a = jax.jit(jnp.sin)(x)
        b = ste_round(x * 4.0) + scaled(x)
        c = lax.cond(x[0] > 0, jnp.cos, jnp.exp, a)
        d = lax.while_loop(lambda s: s[1] < 3, lambda s: (s[0] * 0.5 + x, s[1] + 1), (x, 0))[0]
        e = lax.scan(lambda s, v: (s + v, s * v), 0.0, x)[1]
        g = jax.checkpoint(lambda v: v * v)(x)
        h = x.at[idx].add(a[:3])[idx] + lax.cumsum(x)[:3]
        k = lax.sort(x) + lax.pad(x, 0.0, [(1, -1, 0)])
        return jnp.concatenate([a, b, c, d, e, g, h, k])

    closed = jax.make_jaxpr(f)(X)
    top = {eqn.primitive.name for eqn in closed.jaxpr.eqns}
    kinds = {
        "jit",
        "custom_jvp_call",
        "custom_vjp_call",
        "cond",
        "while",
        "scan",
        "remat2",
        "scatter-add",
        "gather",
        "cumsum",
        "sort",
        "pad",
    }
    assert kinds <= top, kinds - top
    got = _run_with_bind_eqn(closed, X)[0]
    np.testing.assert_allclose(got, f(X), rtol=1e-6)


def test_literal_value_and_eqn_context():
    closed = jax.make_jaxpr(lambda x: x * 2.5)(X)
    (eqn,) = closed.jaxpr.eqns
    lit = [v for v in eqn.invars if isinstance(v, Literal)]
    assert len(lit) == 1
    assert float(np.asarray(compat.literal_value(lit[0]))) == 2.5
    with compat.eqn_context(eqn):
        pass


def test_extra_primitives():
    extra = compat.extra_primitives()
    assert all(isinstance(p, Primitive) and p.name == n for n, p in extra.items())
    for name in ("optimization_barrier", "pure_callback", "io_callback", "debug_callback"):
        assert name in extra, name


def test_apply_eqn_equals_binding_and_binds_calls_as_usual():
    eqn = find_eqn(jnp.sin, X, name="sin")
    np.testing.assert_array_equal(
        np.asarray(compat.apply_eqn(eqn, X)), np.asarray(compat.bind_eqn(eqn, X))
    )
    sort = find_eqn(lambda x: lax.sort((x, -x), num_keys=1), X, name="sort")
    got = compat.apply_eqn(sort, X, -X)
    assert isinstance(got, (list, tuple)) and len(got) == 2
    np.testing.assert_array_equal(np.asarray(got[0]), np.sort(X))
    call = find_eqn(lambda x: jax.jit(jnp.cos)(x), X, name="jit")
    np.testing.assert_array_equal(np.asarray(compat.apply_eqn(call, X)[0]), np.cos(X))


def test_trace_context_tells_configurations_apart():
    a = compat.trace_context()
    hash(a)
    with jax.enable_x64(True):
        b = compat.trace_context()
    assert a != b and compat.trace_context() == a


def test_contains_primitive_looks_into_every_nested_program_once():
    def inner(v):
        return jnp.sin(v) * 2.0

    def f(x, p):
        a = jax.jit(inner)(x) + jax.jit(inner)(x)  # the same program, called twice
        b = lax.cond(p, lambda v: v + 1.0, lambda v: lax.exp(v), x)  # a tuple of branches
        c = lax.scan(lambda carry, v: (carry + jnp.tanh(v), carry), 0.0, x)[0]
        return a + b + c

    jaxpr = jax.make_jaxpr(f)(jnp.ones(3), True).jaxpr
    for name in ("sin", "exp", "tanh", "add"):
        assert compat.contains_primitive(jaxpr, name)
    assert compat.contains_primitive(jaxpr, "cosh", "exp")
    assert not compat.contains_primitive(jaxpr, "cosh", "log")


# -- which outputs use a primitive; XLA's barrier pass ----------------------------------
def _uses_and_counts():
    def f(x, y):
        a = jnp.sin(x) * 2.0  # through an elementwise op
        c = y + 1.0  # none
        inner = jax.jit(lambda u: (jnp.exp(u), u * 3.0))(y)  # output by output
        loop = lax.fori_loop(0, 2, lambda i, v: jnp.cos(v), y)  # a loop that contains one
        plain = lax.fori_loop(0, 2, lambda i, v: v * 2.0, y)
        custom = ste_round(jnp.tanh(x))
        return a, c, inner[0], inner[1], loop, plain, custom, 1.0

    return jax.make_jaxpr(f)(X, X).jaxpr


def test_count_primitives_counts_nested_equations_once_each():
    jaxpr = _uses_and_counts()
    assert compat.count_primitives(jaxpr, "sin", "exp", "cos", "tanh") == 4
    assert compat.count_primitives(jaxpr, "sin", "exp", "cos", "tanh", stop_at=2) == 2
    assert compat.count_primitives(jaxpr, "log") == 0
    assert compat.contains_primitive(jaxpr, "exp") and not compat.contains_primitive(jaxpr, "log")
