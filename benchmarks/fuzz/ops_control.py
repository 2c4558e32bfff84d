"""Control flow, custom derivative rules, transformations inside ``f``, BCOO and Equinox."""

from __future__ import annotations

import math

import numpy as np

from . import draw
from .catalog import HAVE_EQUINOX, helper, op


def _b(name: str, var: str) -> str:
    return draw.BODIES[name].format(a=var)


def _lam(name: str) -> str:
    return f"lambda a: {_b(name, 'a')}"


def _bodies(k):
    def gen(rng, shapes):
        return {f"b{i}": draw.body(rng) for i in range(k)}

    return gen


def _with(gen, **extra):
    def g(rng, shapes):
        p = gen(rng, shapes)
        if p is None:
            return None
        for k, f in extra.items():
            p[k] = f(rng, shapes)
        return p

    return g


_int = lambda lo, hi: lambda rng, s: int(rng.integers(lo, hi))  # noqa: E731
_bool = lambda rng, s: bool(rng.random() < 0.5)  # noqa: E731

# -- branches ---------------------------------------------------------------------
op("cond_const", "control_flow", 1, _with(_bodies(2), pred=_bool),
   lambda p, n: f"lax.cond({p['pred']}, {_lam(p['b0'])}, {_lam(p['b1'])}, {n[0]})")  # fmt: skip
op(
    "cond_data",
    "control_flow",
    2,
    _bodies(2),
    lambda p, n: f"lax.cond(jnp.sum({n[1]}) > 0.0, {_lam(p['b0'])}, {_lam(p['b1'])}, {n[0]})",
)
op("switch_const", "control_flow", 1, _with(_bodies(3), i=_int(-1, 5)),
   lambda p, n: f"lax.switch({p['i']}, [{_lam(p['b0'])}, {_lam(p['b1'])}, {_lam(p['b2'])}], "
   f"{n[0]})")  # fmt: skip
op("switch_data", "control_flow", 2, _with(_bodies(3), k=_int(1, 6), off=_int(-1, 2)),
   lambda p, n: f"lax.switch(jnp.argmax({n[1]}) % {p['k']} + {p['off']}, [{_lam(p['b0'])}, "
   f"{_lam(p['b1'])}, {_lam(p['b2'])}], {n[0]})", tagger=lambda p: ["input_index"])  # fmt: skip

# -- loops ------------------------------------------------------------------------
op("while_counter", "control_flow", 1, _with(_bodies(1), k=_int(0, 5)),
   lambda p, n: f"lax.while_loop(lambda c: c[0] < {p['k']}, lambda c: (c[0] + 1, "
   f"{_b(p['b0'], 'c[1]')}), (0, {n[0]}))[1]", tagger=lambda p: ["loop"])  # fmt: skip
op("while_data", "control_flow", 1, _with(_bodies(1), k=_int(1, 6)),
   lambda p, n: f"lax.while_loop(lambda c: (c[0] < {p['k']}) & (jnp.max(jnp.abs(c[1])) < 2.0), "
   f"lambda c: (c[0] + 1, c[1] * 1.5 + 0.1 + 0.1 * {_b(p['b0'], 'c[1]')}), (0, {n[0]}))[1]",
   tagger=lambda p: ["loop"], bound=30.0)  # fmt: skip
op(
    "fori_static",
    "control_flow",
    1,
    _with(_bodies(1), k=_int(0, 5)),
    lambda p, n: f"lax.fori_loop(0, {p['k']}, lambda i, a: {_b(p['b0'], 'a')}, {n[0]})",
)
op("fori_dynamic", "control_flow", 2, _with(_bodies(1), k=_int(1, 5)),
   lambda p, n: f"lax.fori_loop(0, jnp.argmax({n[1]}) % {p['k']}, "
   f"lambda i, a: {_b(p['b0'], 'a')}, {n[0]})", tagger=lambda p: ["loop"])  # fmt: skip


def _scan(rng, shapes):
    if not shapes[0]:
        return None
    return {"rev": bool(rng.random() < 0.5), "out": int(rng.integers(2)),
            "body": str(rng.choice(["mul", "roll", "max"]))}  # fmt: skip


SCAN_BODIES = {
    "mul": "lambda c, r: (jnp.tanh(c * 0.5 + r), c * r)",
    "roll": "lambda c, r: (jnp.roll(c, 1) + jnp.sin(r), c - r)",
    "max": "lambda c, r: (jnp.maximum(c, r), jnp.floor(c) + r)",
}
op("scan", "control_flow", 1, _scan,
   lambda p, n: f"lax.scan({SCAN_BODIES[p['body']]}, jnp.tanh({n[0]}[0]), {n[0]}, "
   f"reverse={p['rev']})[1]" if p["out"] else
   f"jnp.broadcast_to(lax.scan({SCAN_BODIES[p['body']]}, jnp.tanh({n[0]}[0]), {n[0]}, "
   f"reverse={p['rev']})[0], {n[0]}.shape)", bound=10.0)  # fmt: skip

op(
    "scan_closure",
    "control_flow",
    2,
    _scan,
    lambda p, n: (
        f"lax.scan(lambda c, r: (jnp.tanh(c * jnp.sum({n[1]}) + r), c + r * {n[1]}.ravel()"
        f"[0]), jnp.zeros_like({n[0]}[0]), {n[0]}, reverse={p['rev']})[{p['out']}]"
    ),
    bound=10.0,
)
# -- custom derivative rules ------------------------------------------------------
helper(
    "_ste_round",
    '''
@jax.custom_jvp
def _ste_round(x):
    """Straight-through estimator: rounds, differentiated as the identity."""
    return jnp.round(x)


@_ste_round.defjvp
def _ste_round_jvp(primals, tangents):
    return _ste_round(primals[0]), tangents[0]''',
)
helper(
    "_dense_jvp",
    '''
@jax.custom_jvp
def _dense_jvp(x):
    """Elementwise primal, JVP rule denser than it (it mixes all tangents)."""
    return 2.0 * x


@_dense_jvp.defjvp
def _dense_jvp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _dense_jvp(x), 2.0 * t + 0.1 * jnp.sum(t)''',
)
helper(
    "_lin_jvp",
    '''
@jax.custom_jvp
def _lin_jvp(x):
    """A linear function whose JVP rule calls the function itself on the tangent."""
    return 3.0 * jnp.flip(x)


@_lin_jvp.defjvp
def _lin_jvp_jvp(primals, tangents):
    return _lin_jvp(primals[0]), _lin_jvp(tangents[0])''',
)
helper(
    "_roll_vjp",
    '''
@jax.custom_vjp
def _roll_vjp(x):
    """Identity primal whose backward rule is denser (a cotangent and its roll). It
    multiplies by a constant array, which JAX passes to the call as an input of its own."""
    return x * np.ones(np.shape(x), x.dtype)


def _roll_vjp_fwd(x):
    return x * np.ones(np.shape(x), x.dtype), None


def _roll_vjp_bwd(res, g):
    return (g + jnp.roll(g, 1),)


_roll_vjp.defvjp(_roll_vjp_fwd, _roll_vjp_bwd)''',
)
helper(
    "_ste_vjp",
    '''
@jax.custom_vjp
def _ste_vjp(x):
    """Straight-through estimator as a custom_vjp: floors, backward is the identity. Its
    forward rule calls the function itself, so a gradient through it still holds the
    custom_vjp call: JAX has no forward mode through that gradient, and its Hessian is
    reverse over reverse."""
    return jnp.floor(x)


def _ste_vjp_fwd(x):
    return _ste_vjp(x), None


def _ste_vjp_bwd(res, g):
    return (g,)


_ste_vjp.defvjp(_ste_vjp_fwd, _ste_vjp_bwd)''',
)

for _h in ("_ste_round", "_dense_jvp", "_lin_jvp", "_roll_vjp", "_ste_vjp"):
    op(_h.strip("_"), "custom", 1, lambda rng, s: {}, _h + "({0})", helpers=(_h,),
       bound="size" if _h == "_dense_jvp" else None)  # fmt: skip

# -- transformations inside f -----------------------------------------------------
op("checkpoint", "transform", 1, _bodies(1),
   lambda p, n: f"jax.checkpoint({_lam(p['b0'])})({n[0]})")  # fmt: skip
op("nested_jit", "transform", 1, _bodies(1), lambda p, n: f"jax.jit({_lam(p['b0'])})({n[0]})")
op(
    "vmap",
    "transform",
    1,
    lambda rng, s: {"b0": draw.body(rng), "ax": draw.axis(rng, s[0])} if s[0] else None,
    lambda p, n: f"jax.vmap({_lam(p['b0'])}, in_axes={p['ax']}, out_axes={p['ax']})({n[0]})",
)
op(
    "vmap_pair",
    "transform",
    2,
    lambda rng, s: {} if s[0] and s[0] == s[1] else None,
    lambda p, n: f"jax.vmap(lambda r, q: jnp.cumsum(r) * jnp.tanh(q[0]))({n[0]}, {n[1]})",
)

# -- BCOO -------------------------------------------------------------------------
helper("sparse", "from jax.experimental import sparse")


def _bcoo_const(rng, shapes):
    n = math.prod(shapes[0])
    m = int(rng.integers(1, 6))
    k = int(rng.integers(1, min(n, 6) + 1))
    c = draw.const(rng, (m, k))
    return {"c": c, "k": k, "nse": max(int(np.count_nonzero(c)), 1)}


def _bcoo_data(rng, shapes):
    a, b = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    nse = int(rng.integers(1, 7))
    idx = np.stack([rng.integers(0, a, nse), rng.integers(0, b, nse)], axis=1).astype(np.int32)
    return {"idx": idx, "nse": nse, "shape": (a, b)}


def _bcoo_fromdense(rng, shapes):
    a, b = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    return {"shape": (a, b), "nse": int(rng.integers(1, a * b + 1))}


def _bcoo_matvec(rng, shapes):
    p = _bcoo_data(rng, shapes)
    return {**p, "k": p["shape"][1]}


op("bcoo_const_matvec", "sparse", 1, _bcoo_const,
   "sparse.BCOO.fromdense({c}, nse={nse}) @ jnp.resize({0}, ({k},))", helpers=("sparse",),
   bound="size")  # fmt: skip
op("bcoo_data_todense", "sparse", 1, _bcoo_data,
   "sparse.BCOO((jnp.resize({0}, ({nse},)), {idx}), shape={shape}).todense()",
   helpers=("sparse",), bound="size")  # fmt: skip
op("bcoo_fromdense", "sparse", 1, _bcoo_fromdense,
   "sparse.BCOO.fromdense(jnp.resize({0}, {shape}), nse={nse}).T.todense()",
   helpers=("sparse",))  # fmt: skip
op("bcoo_matvec", "sparse", 2, _bcoo_matvec,
   "sparse.BCOO((jnp.tanh(jnp.resize({0}, ({nse},))), {idx}), shape={shape}) "
   "@ jnp.resize({1}, ({k},))", helpers=("sparse",), bound="size")  # fmt: skip
op("bcoo_spdot", "sparse", 2, _bcoo_matvec,
   "(sparse.BCOO((jnp.tanh(jnp.resize({0}, ({nse},))), {idx}), shape={shape}) @ "
   "sparse.BCOO.fromdense(jnp.resize({1}, ({k}, 2)), nse={k} * 2)).todense()",
   helpers=("sparse",),
   bound="size")  # fmt: skip

# -- Equinox ----------------------------------------------------------------------
if HAVE_EQUINOX:
    helper("eqx", "import equinox as eqx\nimport equinox.internal as eqxi")
    EQX = {
        "error_if": "eqx.error_if({0}, jnp.any(jnp.isnan({0})), 'nan')",
        "branched_error_if": "eqxi.branched_error_if({0}, jnp.any({0} > 1e6), "
        "jnp.argmax({0}) % 2, ['a', 'b'])",
        "nondiff_backward": "eqxi.nondifferentiable_backward({0})",
        "nondiff_stopped": "eqxi.nondifferentiable(lax.stop_gradient({0})) + {0}",
    }
    op("equinox", "equinox", 1, lambda rng, s: {"fn": str(rng.choice(sorted(EQX)))},
       lambda p, n: EQX[p["fn"]].format(*n), helpers=("eqx",),
       tagger=lambda p: [p["fn"]])  # fmt: skip
    # unvmap_any sees the whole batch under vmap: the oracle must loop over its points
    op("equinox_unvmap", "equinox", 1, lambda rng, s: {},
       "jnp.where(eqxi.unvmap_any({0} > 100.0), 0.0, {0})", helpers=("eqx",),
       no_vmap=True)  # fmt: skip
