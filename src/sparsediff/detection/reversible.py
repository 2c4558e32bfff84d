"""Reverse-mode stand-ins for while loops, for Hessian detection only.

The Hessian pattern is the Jacobian pattern of the gradient, but JAX has no
reverse mode through ``while_loop`` (nor ``fori_loop`` with traced bounds), so
the gradient of a program with one cannot be traced. :func:`reversible` returns
the same function with every while loop wrapped in a ``custom_vjp`` whose
backward rule is a *stand-in*: a loop of undecided trip count that carries the
state, the state's cotangent and the body constants' cotangent together, and
applies the body's VJP at each state.

Detection meets the stand-in with its fixed point over the carries: the state
covers every state the real loop reaches, and the cotangents every product of
body VJPs taken at such states, for every trip count. The true reverse pass is
one of those products, so the detected pattern of the gradient covers the true
one, while an elementwise loop body keeps its diagonal structure (forward mode
over the identity would not: zeros of tangents are not tracked inside loops).

The stand-in is traced, never run for its numbers: evaluation takes the
gradient forward over forward instead (:mod:`sparsediff.evaluation.products`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import compat
from .values import is_float_dtype

__all__ = ["reversible"]


def _is_dynamic(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) or isinstance(x, jax.core.Tracer)


def reversible(fun: Callable) -> Callable:
    """``fun`` with every while loop given a reverse-mode stand-in (see the module)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
        dynamic = [i for i, leaf in enumerate(leaves) if _is_dynamic(leaf)]

        def flat_fun(*dyn):
            full = list(leaves)
            for i, d in zip(dynamic, dyn):
                full[i] = d
            a, k = jax.tree_util.tree_unflatten(treedef, full)
            return fun(*a, **k)

        dyn_args = [leaves[i] for i in dynamic]
        closed, out_shape = jax.make_jaxpr(flat_fun, return_shape=True)(*dyn_args)
        closed = compat.discharge_state(closed)
        outs = _eval_closed(closed, dyn_args)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(out_shape), outs)

    return wrapped


# -- a jaxpr evaluator that swaps while loops ----------------------------------------
def _has_loop(eqn) -> bool:
    if eqn.primitive.name == "while":
        return True
    from jax.extend.core import jaxprs_in_params

    return any(compat.contains_primitive(j, "while") for j in jaxprs_in_params(eqn.params))


def _eval_closed(closed, args: Sequence[Any]) -> list[Any]:
    return _eval(closed.jaxpr, closed.consts, args)


def _eval(jaxpr, consts: Sequence[Any], args: Sequence[Any]) -> list[Any]:
    env: dict[Any, Any] = {}

    def read(v):
        return compat.literal_value(v) if isinstance(v, compat.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        handler = _HANDLERS.get(eqn.primitive.name) if _has_loop(eqn) else None
        if handler is not None:
            outs = handler(eqn, ins)
        else:
            with compat.eqn_context(eqn):
                res = compat.bind_eqn(eqn, *ins)
            outs = list(res) if eqn.primitive.multiple_results else [res]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def _call(key: str, closed: bool):
    def handler(eqn, ins):
        inner = eqn.params[key]
        return _eval_closed(inner, ins) if closed else _eval(inner, [], ins)

    return handler


def _cond(eqn, ins):
    branches = [partial(_eval_branch, b) for b in eqn.params["branches"]]
    return list(lax.switch(ins[0], branches, *ins[1:]))


def _eval_branch(closed, *ops):
    return _eval_closed(closed, ops)


def _scan(eqn, ins):
    p = eqn.params
    nc, ncar = p["num_consts"], p["num_carry"]
    consts, init, xs = ins[:nc], ins[nc : nc + ncar], ins[nc + ncar :]

    def body(carry, x):
        outs = _eval_closed(p["jaxpr"], [*consts, *carry, *x])
        return outs[:ncar], outs[ncar:]

    carry, ys = lax.scan(
        body, list(init), list(xs), length=p["length"], reverse=p["reverse"], unroll=p["unroll"]
    )
    return [*carry, *ys]


# -- the while loop and its stand-in -------------------------------------------------
def _floats(values: Sequence[Any]) -> list[int]:
    return [i for i, v in enumerate(values) if is_float_dtype(jnp.result_type(v))]


def _merge(values: Sequence[Any], picks: list[int], new: Sequence[Any]) -> list[Any]:
    out = list(values)
    for i, v in zip(picks, new):
        out[i] = v
    return out


def _while(eqn, ins):
    p = eqn.params
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    n_cc, n_bc = cn, bn

    def cond(cc, c):
        return _eval_closed(p["cond_jaxpr"], [*cc, *c])[0]

    def body(bc, c):
        return _eval_closed(p["body_jaxpr"], [*bc, *c])

    def run(cc, bc, c):
        return list(lax.while_loop(lambda s: cond(cc, s), lambda s: body(bc, s), list(c)))

    @jax.custom_vjp
    def loop(cc, bc, c):
        return run(cc, bc, c)

    def fwd(cc, bc, c):
        return run(cc, bc, c), (cc, bc, c)

    def bwd(res, ct_out):
        cc, bc, c0 = res
        fb, fc = _floats(bc), _floats(c0)

        def step(state):
            c, ct_c, ct_bc, flag = state

            def local(bcf, cf):
                outs = body(_merge(bc, fb, bcf), _merge(c, fc, cf))
                return [outs[i] for i in fc]

            out_c = body(bc, c)
            _, pull = jax.vjp(local, [bc[i] for i in fb], [c[i] for i in fc])
            g_bc, g_c = pull(ct_c)
            return out_c, list(g_c), [a + b for a, b in zip(ct_bc, g_bc)], flag

        # Undecided for detection (a float test of an input), so its fixed point runs.
        probes = [jnp.all(jnp.isfinite(v)) for v in [*[bc[i] for i in fb], *[c0[i] for i in fc]]]
        flag = jnp.all(jnp.stack(probes)) if probes else jnp.asarray(True)
        state = (
            list(c0),
            [ct_out[i] for i in fc],
            [jnp.zeros_like(bc[i]) for i in fb],
            flag,
        )
        _, ct_c, ct_bc, _ = lax.while_loop(lambda s: s[3] & cond(cc, s[0]), step, state)
        cts_bc = _merge([None] * n_bc, fb, ct_bc)
        cts_c = _merge([None] * len(c0), fc, ct_c)
        return [None] * n_cc, cts_bc, cts_c

    loop.defvjp(fwd, bwd)
    return loop(list(ins[:cn]), list(ins[cn : cn + bn]), list(ins[cn + bn :]))


_HANDLERS: dict[str, Callable[[Any, list[Any]], list[Any]]] = {
    "while": _while,
    "jit": _call("jaxpr", closed=True),
    "pjit": _call("jaxpr", closed=True),
    "closed_call": _call("call_jaxpr", closed=True),
    "remat": _call("jaxpr", closed=False),
    "checkpoint": _call("jaxpr", closed=False),
    "cond": _cond,
    "scan": _scan,
}
