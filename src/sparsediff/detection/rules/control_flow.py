"""Calls, custom derivative rules and control flow.

- ``jit``/``pjit``, ``closed_call``, ``remat``: recurse into the inner jaxpr.
- ``custom_jvp_call``: the pattern is that of the *JVP rule* (what JAX's AD
  computes), found by tracing ``jax.jvp`` of the bound equation and detecting
  the output tangents' dependence on the input tangents, with the primal inputs
  treated as unknown values. A straight-through estimator gets the identity.
- ``custom_vjp_call``: the pattern of the *backward rule*: trace ``jax.vjp`` of
  the bound equation, detect the input cotangents' dependence on the output
  cotangents (``Jᵀ``), and compose its transpose with the input patterns.
- ``cond``: the branch a known index selects, else the union of the branches.
- ``scan``: exact per-iteration propagation within the unroll budget
  (:class:`~sparsediff.detection.registry.DetectionOptions`), so stacked
  outputs keep per-step patterns and loop counters stay known values.
- ``while``: exact iteration while its condition is a known value (counters);
  otherwise, or past the budget, a fixed point over the carries.
- Fixed points are sound for any trip count. Rows that do not settle within a
  bounded number of rounds are widened to everything the loop can reach,
  which is closed under the body.
"""

from __future__ import annotations

import contextvars

import jax
import numpy as np
from jax.extend.core import primitives as P

from ..deps import Deps, aggregate, reduce_all, reduce_axes, row_range, take, union, vstack
from ..registry import register_rule
from ..values import Val, is_float_dtype
from .scan_summary import summarized_scan

__all__ = ["register", "FIXED_POINT_ROUNDS"]

#: rounds of fixed-point iteration before widening loop carries
FIXED_POINT_ROUNDS = 64


def _unknown(v: Val, deps=None) -> Val:
    return Val(v.shape, v.dtype, deps, None)


# -- calls ------------------------------------------------------------------
def pjit_rule(ctx, eqn, invals):
    return ctx.eval_closed(eqn.params["jaxpr"], invals)


def closed_call_rule(ctx, eqn, invals):
    return ctx.eval_closed(eqn.params["call_jaxpr"], invals)


def remat_rule(ctx, eqn, invals):
    return ctx.eval_jaxpr(eqn.params["jaxpr"], [], invals)


# -- custom derivative rules ------------------------------------------------
def _spec(v: Val):
    return jax.ShapeDtypeStruct(v.shape, v.dtype)


def _tangent_of(v: Val):
    return jax.ShapeDtypeStruct(v.shape, v.dtype if is_float_dtype(v.dtype) else jax.dtypes.float0)


#: custom JVP rules traced inside one another before inner calls count as primals
MAX_CUSTOM_JVP_DEPTH = 8
_CUSTOM_JVP_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar(
    "sparsediff_custom_jvp_depth", default=0
)


#: set while a custom VJP rule's backward function is evaluated for its pattern
_IN_CUSTOM_BWD: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sparsediff_in_custom_bwd", default=False
)


def _primal_pattern(ctx, eqn, invals):
    """A custom-derivative call evaluated by its primal function."""
    return [o.deps for o in ctx.eval_closed(eqn.params["call_jaxpr"], invals)]


def _refused(eqn, kind: str, err: Exception) -> ValueError:
    """The error for a custom rule (or its function) that refuses to be differentiated."""
    info = getattr(eqn.params["call_jaxpr"].jaxpr, "debug_info", None)
    name = str(getattr(info, "func_src_info", None) or f"a custom_{kind.lower()} function")
    return ValueError(
        f"f is not differentiable: the custom {kind} rule of {name} raised "
        f"{type(err).__name__}: {err}"
    )


def custom_jvp_rule(ctx, eqn, invals):
    if _IN_CUSTOM_BWD.get():  # see custom_vjp_rule
        return _primal_pattern(ctx, eqn, invals)
    depth = _CUSTOM_JVP_DEPTH.get()
    if depth >= MAX_CUSTOM_JVP_DEPTH:
        # Rules nested this deep apply custom-JVP functions to tangents (a rule
        # may call its own function on its tangent, which would recurse without
        # end). JAX evaluates such inner calls by their primal, and a rule's
        # tangent map is linear, so the primal's pattern is the tangent map's.
        return _primal_pattern(ctx, eqn, invals)
    token = _CUSTOM_JVP_DEPTH.set(depth + 1)
    try:
        return _custom_jvp_pattern(ctx, eqn, invals)
    finally:
        _CUSTOM_JVP_DEPTH.reset(token)


def _custom_jvp_pattern(ctx, eqn, invals):
    from .. import compat

    # Only inputs with a pattern get a tangent; the others are closed over, so
    # their tangents are symbolic zeros, as in JAX's own AD (a rule that refuses
    # any tangent, like Equinox's ``nondifferentiable``, is then never called).
    diff = [i for i, v in enumerate(invals) if is_float_dtype(v.dtype) and v.deps is not None]

    def jvp_fn(primals, tangents):
        def bound(*d):
            args = list(primals)
            for i, a in zip(diff, d):
                args[i] = a
            return compat.bind_eqn(eqn, *args)

        _, t_out = jax.jvp(bound, tuple(primals[i] for i in diff), tuple(tangents))
        return t_out

    try:
        closed = jax.make_jaxpr(jvp_fn)(
            [_spec(v) for v in invals], [_spec(invals[i]) for i in diff]
        )
    except Exception as err:  # the user's rule refuses: so would jax.jacfwd
        raise _refused(eqn, "JVP", err) from err
    # primals: values known or unknown, no tracked dependence; tangents: the patterns
    primal_vals = [Val(v.shape, v.dtype, None, v.known) for v in invals]
    tangent_vals = [Val(invals[i].shape, invals[i].dtype, invals[i].deps) for i in diff]
    outs = ctx.eval_closed(closed, primal_vals + tangent_vals)
    return [o.deps for o in outs]


def custom_vjp_rule(ctx, eqn, invals):
    if _IN_CUSTOM_BWD.get():
        # Inside a backward function, which JAX evaluates and does not differentiate,
        # custom-derivative calls run their primal; the backward map is linear in the
        # cotangents, so the primal's pattern is exact there. Following their rules
        # instead recursed without end where a backward function calls its own
        # function (jax.experimental.ode.odeint integrates the adjoint with odeint).
        return _primal_pattern(ctx, eqn, invals)
    from .. import compat

    out_avals = [v.aval for v in eqn.outvars]
    # Only inputs with a pattern are differentiated; the others are constants here, as
    # in JAX's own AD (which refuses any cotangent for a custom_vjp function's hoisted
    # constants, such as the Runge-Kutta tableau of jax.experimental.ode.odeint).
    float_in = [i for i, v in enumerate(invals) if is_float_dtype(v.dtype) and v.deps is not None]
    float_out = [j for j, a in enumerate(out_avals) if is_float_dtype(a.dtype)]

    def bwd_fn(primals, cts):
        def f(*d):
            args = list(primals)
            for i, a in zip(float_in, d):
                args[i] = a
            return compat.bind_eqn(eqn, *args)

        out, vjp = jax.vjp(f, *(primals[i] for i in float_in))
        full = []
        it = iter(cts)
        for j, o in enumerate(out):
            full.append(next(it) if j in float_out else np.zeros(o.shape, jax.dtypes.float0))
        return list(vjp(type(out)(full) if isinstance(out, (tuple, list)) else full[0]))

    out_specs = [jax.ShapeDtypeStruct(tuple(a.shape), a.dtype) for a in out_avals]
    try:
        closed = jax.make_jaxpr(bwd_fn)(
            [_spec(v) for v in invals], [out_specs[j] for j in float_out]
        )
    except Exception as err:  # the function or its rule refuses: so would jax.jacrev
        raise _refused(eqn, "VJP", err) from err
    # Seed every output-cotangent element with its own local index.
    sizes = [int(np.prod(out_specs[j].shape, dtype=np.int64)) for j in float_out]
    n_local = int(sum(sizes))
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    primal_vals = [Val(v.shape, v.dtype, None, v.known) for v in invals]
    ct_vals = [
        Val(out_specs[j].shape, out_specs[j].dtype, Deps.identity(sizes[k], int(offs[k]), n_local))
        for k, j in enumerate(float_out)
    ]
    sub = type(ctx)(n_local, ctx.options)
    token = _IN_CUSTOM_BWD.set(True)
    try:
        in_cts = sub.eval_closed(closed, primal_vals + ct_vals)
    finally:
        _IN_CUSTOM_BWD.reset(token)
    # in_cts[k] rows: elements of input float_in[k]; columns: output elements -> Jᵀ blocks.
    results: list = [None] * len(out_avals)
    for k_out, j in enumerate(float_out):
        parts = []
        for k_in, i in enumerate(float_in):
            jt = in_cts[k_in].deps
            if jt is None or invals[i].deps is None:
                continue
            # entries (input elem r, output elem c) with c in this output's block
            rows = jt.row_ids().astype(np.int64)
            cols = jt.indices.astype(np.int64)
            sel = (cols >= offs[k_out]) & (cols < offs[k_out + 1])
            parts.append(
                aggregate(invals[i].deps, cols[sel] - offs[k_out], rows[sel], sizes[k_out])
            )
        results[j] = union(*parts)
    return results


# -- branches ---------------------------------------------------------------
def cond_rule(ctx, eqn, invals):
    branches = eqn.params["branches"]
    index, ops = invals[0], invals[1:]
    if index.known is not None:
        i = int(np.clip(int(np.asarray(index.known).reshape(())), 0, len(branches) - 1))
        return ctx.eval_closed(branches[i], ops)
    results = [ctx.eval_closed(b, ops) for b in branches]
    return [union(*[r[k].deps for r in results]) for k in range(len(eqn.outvars))]


# -- loops ------------------------------------------------------------------
def _same(a: Deps | None, b: Deps | None) -> bool:
    if a is None or b is None:
        return (a is None or a.nnz == 0) and (b is None or b.nnz == 0)
    return (
        a.nnz == b.nnz
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
    )


def _fixed_point(ctx, body, carries: list[Val], extra_reach: list[Deps | None]) -> list[Val]:
    """Iterate ``carry <- carry ∪ body(carry)`` to a fixed point (sound for any trip count).

    ``body(carries) -> new carries``. After ``FIXED_POINT_ROUNDS`` rounds without
    convergence, every float carry element is widened to the union of all that
    the loop can reach, which ``body`` cannot grow.
    """
    cur = [_unknown(c, c.deps) for c in carries]
    for _ in range(FIXED_POINT_ROUNDS):
        new = body(cur)
        nxt = [_unknown(c, union(c.deps, nv.deps)) for c, nv in zip(cur, new)]
        if all(_same(a.deps, b.deps) for a, b in zip(cur, nxt)):
            return nxt
        cur = nxt
    everything = union(*[reduce_all(c.deps) for c in cur], *[reduce_all(d) for d in extra_reach])
    widened = [
        _unknown(c, take(everything, np.zeros(c.size, dtype=np.int64)) if everything else None)
        for c in cur
    ]
    check = body(widened)
    for w, nv in zip(widened, check):  # the widening is closed; assert it cheaply
        if nv.deps is not None and w.deps is None and nv.deps.nnz:
            raise AssertionError("loop widening is not closed")  # pragma: no cover
    return widened


def _body_cost(closed) -> int:
    return max(1, len(closed.jaxpr.eqns))


def while_rule(ctx, eqn, invals):
    """Exact iteration while the condition is a known value (loop counters,
    constants); from the first state whose condition is unknown, or once the
    unroll budget is spent, a fixed point over the carries."""
    p = eqn.params
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    cond_consts = list(invals[:cn])
    body_consts = list(invals[cn : cn + bn])
    carry = list(invals[cn + bn :])
    cost = _body_cost(p["body_jaxpr"]) + _body_cost(p["cond_jaxpr"])
    budget = ctx.options.unroll_budget
    spent = 0
    while spent + cost <= budget:
        pred = ctx.eval_closed(p["cond_jaxpr"], cond_consts + carry)[0]
        if pred.known is None:
            break
        if not bool(np.asarray(pred.known)):
            return carry
        carry = ctx.eval_closed(p["body_jaxpr"], body_consts + carry)
        spent += cost

    def body(carries):
        return ctx.eval_closed(p["body_jaxpr"], body_consts + list(carries))

    final = _fixed_point(ctx, body, carry, [c.deps for c in body_consts])
    return [c.deps for c in final]


def _slice_step(x: Val, t: int) -> Val:
    """Iteration ``t``'s slice ``x[t]`` of a scanned input."""
    shape = x.shape[1:]
    inner = int(np.prod(shape, dtype=np.int64))
    deps = row_range(x.deps, t * inner, (t + 1) * inner)
    known = None if x.known is None else x.known[t]
    return Val(shape, x.dtype, deps, known)


def _stack_steps(steps: list[Val], length: int, n: int) -> Val:
    first = steps[0]
    shape = (length, *first.shape)
    deps = vstack([s.deps for s in steps], [s.size for s in steps], n)
    known = None
    if all(s.known is not None for s in steps):
        known = np.stack([np.asarray(s.known) for s in steps])
    return Val(shape, first.dtype, deps, known)


def scan_rule(ctx, eqn, invals):
    """Exact per-iteration propagation (stacked outputs keep per-step patterns,
    loop counters stay known) within the unroll budget; a fixed point over the
    carries beyond it."""
    p = eqn.params
    nc, nk = p["num_consts"], p["num_carry"]
    consts = list(invals[:nc])
    init = list(invals[nc : nc + nk])
    xs = list(invals[nc + nk :])
    length = p["length"]
    body = p["jaxpr"]
    summary = summarized_scan(ctx, eqn, consts, init, xs)
    if summary is not None:
        return summary
    if length * _body_cost(body) <= ctx.options.unroll_budget:
        return _scan_steps(ctx, eqn, consts, init, xs)
    return _scan_fixed_point(ctx, eqn, consts, init, xs)


def _scan_steps(ctx, eqn, consts, init, xs):
    """Step-by-step propagation; once the carries hold no known values any more
    (e.g. after a known initial state), the remaining steps are summarised."""
    p = eqn.params
    nk, length, body, reverse = p["num_carry"], p["length"], p["jaxpr"], p["reverse"]
    ny = len(body.jaxpr.outvars) - nk
    if length == 0:
        ys = [
            Val((0, *(int(d) for d in v.aval.shape)), v.aval.dtype) for v in body.jaxpr.outvars[nk:]
        ]
        return list(init) + ys
    order = list(range(length - 1, -1, -1)) if reverse else list(range(length))
    carry = list(init)
    per_step: dict[int, list[Val]] = {}
    summary_block = None  # (first step index, stacked ys) of the summarised steps
    for idx, t in enumerate(order):
        rest = order[idx:]
        if idx > 0 and len(rest) >= 2:
            lo, hi = min(rest), max(rest)
            sub_xs = [_slice_range(x, lo, hi + 1) for x in xs]
            res = summarized_scan(ctx, eqn, consts, carry, sub_xs, length=len(rest))
            if res is not None:
                carry = res[:nk]
                summary_block = (lo, hi + 1, res[nk:])
                break
        outs = ctx.eval_closed(body, consts + carry + [_slice_step(x, t) for x in xs])
        carry = outs[:nk]
        per_step[t] = outs[nk:]
    ys = []
    for k in range(ny):
        pieces: list[Val] = []
        t = 0
        while t < length:
            if summary_block is not None and t == summary_block[0]:
                pieces.append(summary_block[2][k])
                t = summary_block[1]
                continue
            pieces.append(_stack_steps([per_step[t][k]], 1, ctx.n))
            t += 1
        ys.append(_concat_blocks(pieces, ctx.n))
    return list(carry) + ys


def _slice_range(x: Val, lo: int, hi: int) -> Val:
    inner = int(np.prod(x.shape[1:], dtype=np.int64))
    deps = row_range(x.deps, lo * inner, hi * inner)
    known = None if x.known is None else x.known[lo:hi]
    return Val((hi - lo, *x.shape[1:]), x.dtype, deps, known)


def _concat_blocks(blocks: list[Val], n: int) -> Val:
    """Stack blocks of steps (each ``(steps, ...)``) along the leading axis."""
    first = blocks[0]
    steps = sum(b.shape[0] for b in blocks)
    deps = vstack([b.deps for b in blocks], [b.size for b in blocks], n)
    known = None
    if all(b.known is not None for b in blocks):
        known = np.concatenate([np.asarray(b.known) for b in blocks])
    return Val((steps, *first.shape[1:]), first.dtype, deps, known)


def _scan_fixed_point(ctx, eqn, consts, init, xs):
    p = eqn.params
    nk = p["num_carry"]
    # every iteration sees some slice of xs: use the union over the scanned axis
    x_slices = []
    for x in xs:
        red = reduce_axes(x.deps, x.shape, (0,))
        x_slices.append(Val(x.shape[1:], x.dtype, red, None))

    def body(carries):
        return ctx.eval_closed(p["jaxpr"], list(consts) + list(carries) + x_slices)[:nk]

    final = _fixed_point(
        ctx, body, list(init), [x.deps for x in x_slices] + [c.deps for c in consts]
    )
    outs = ctx.eval_closed(p["jaxpr"], list(consts) + final + x_slices)
    results = [c.deps for c in final]
    length = p["length"]
    for y in outs[nk:]:
        results.append(take(y.deps, np.tile(np.arange(y.size, dtype=np.int64), length)))
    return results


def linear_solve_rule(ctx, eqn, invals):
    """``custom_linear_solve``: ``x = A⁻¹ b`` with ``A`` given by ``matvec``.

    JAX differentiates it implicitly: ``ẋ = solve(ḃ - (∂matvec/∂consts)(x))``,
    where the ``solve`` function's own constants carry no derivative. So the
    pattern of ``x`` is the ``solve`` jaxpr's pattern applied to the union of
    ``b``'s pattern and the dependence of ``matvec(x)`` on its constants.
    """
    p = eqn.params
    lengths = p["const_lengths"]
    jaxprs = p["jaxprs"]
    n_mv, n_vm, n_s = lengths.matvec, lengths.vecmat, lengths.solve
    n_consts = n_mv + n_vm + n_s + lengths.transpose_solve
    mv_consts = list(invals[:n_mv])
    s_consts = [
        Val(v.shape, v.dtype, None, v.known) for v in invals[n_mv + n_vm : n_mv + n_vm + n_s]
    ]
    b = invals[n_consts:]
    x_unknown = [Val(v.shape, v.dtype) for v in b]
    through_a = ctx.eval_closed(jaxprs.matvec, mv_consts + x_unknown)
    rhs = [Val(v.shape, v.dtype, union(v.deps, t.deps)) for v, t in zip(b, through_a)]
    return [o.deps for o in ctx.eval_closed(jaxprs.solve, s_consts + rhs)]


# Call-like rules return the inner jaxpr's values, so integer outputs keep
# their known values and bounds through them.
for _rule in (pjit_rule, closed_call_rule, remat_rule):
    _rule.passes_values = True  # type: ignore[attr-defined]


def register() -> None:
    register_rule(P.jit_p, pjit_rule)
    register_rule(P.closed_call_p, closed_call_rule)
    register_rule(P.remat_p, remat_rule)
    register_rule(P.custom_jvp_call_p, custom_jvp_rule)
    register_rule(P.custom_vjp_call_p, custom_vjp_rule)
    register_rule(P.cond_p, cond_rule)
    register_rule(P.while_p, while_rule)
    register_rule(P.scan_p, scan_rule)
    register_rule(P.linear_solve_p, linear_solve_rule)
