"""Structural primitives: each output element copies at most one input element.

One rule serves the family: the primitive is *run on positions*. Every data
operand is replaced by an integer array holding each element's flat position
(operands offset one after the other, ``-1`` where no element is copied, e.g.
padding); the result says, for every output element, which input element it
copies. The output pattern is a row gather of the stacked operand patterns.

The position evaluators here are numpy mirrors of the lax semantics (no XLA
compilation per shape); :mod:`.indexing` binds JAX itself for the gathers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..deps import row_range, take, vstack
from ..registry import register_rule
from .elementwise import primitives_by_name

__all__ = ["positional_rule", "POSITION_EVALUATORS", "register"]

PosFn = Callable[..., Sequence[np.ndarray]]


def positional_rule(pos_fn: PosFn, data_args: Callable[[int], Sequence[int]] | None = None):
    """Make a rule from a position evaluator.

    ``pos_fn(eqn, args)`` receives the equation and its arguments, in which
    every data operand is an int64 position array and every other operand is
    its known value; it returns one position array per output. An index
    operand that is not known makes the rule return ``NotImplemented`` from
    ``pos_fn``, and the caller falls back.
    """

    def rule(ctx, eqn, invals):
        nargs = len(invals)
        data = list(range(nargs)) if data_args is None else list(data_args(nargs))
        args: list = []
        offset = 0
        for i, v in enumerate(invals):
            if i in data:
                args.append(np.arange(offset, offset + v.size, dtype=np.int64).reshape(v.shape))
                offset += v.size
            else:
                args.append(v.known_np() if v.known is not None else None)
        outs = pos_fn(eqn, args)
        stacked = vstack([invals[i].deps for i in data], [invals[i].size for i in data], ctx.n)
        return [take(stacked, o) for o in outs]

    return rule


def _shape(aval) -> tuple[int, ...]:
    return tuple(int(d) for d in aval.shape)


def _reshape(eqn, args):
    x = args[0]
    dims = eqn.params.get("dimensions")
    if dims is not None:
        x = np.transpose(x, dims)
    return [x.reshape(_shape(eqn.outvars[0].aval))]


def _broadcast_in_dim(eqn, args):
    x = args[0]
    shape = _shape(eqn.outvars[0].aval)
    bdims = eqn.params["broadcast_dimensions"]
    expanded = [1] * len(shape)
    for src, dst in enumerate(bdims):
        expanded[dst] = x.shape[src]
    return [np.broadcast_to(x.reshape(expanded), shape)]


def _transpose(eqn, args):
    return [np.transpose(args[0], eqn.params["permutation"])]


def _squeeze(eqn, args):
    return [args[0].reshape(_shape(eqn.outvars[0].aval))]


def _expand_dims(eqn, args):
    return [args[0].reshape(_shape(eqn.outvars[0].aval))]


def _slice(eqn, args):
    start = eqn.params["start_indices"]
    limit = eqn.params["limit_indices"]
    strides = eqn.params["strides"] or (1,) * len(start)
    return [args[0][tuple(slice(s, e, k) for s, e, k in zip(start, limit, strides))]]


def _rev(eqn, args):
    return [np.flip(args[0], axis=tuple(eqn.params["dimensions"]))]


def pad_positions(x: np.ndarray, fill: np.ndarray | int, config) -> np.ndarray:
    """``lax.pad`` on positions, one axis at a time.

    Output index ``j`` of an axis reads position ``j - lo`` of the input spread out by its
    interior padding (every ``interior + 1``-th place holds an element); anything else is
    the fill. Negative edges simply move that window, so a crop larger than the input eats
    into the padding of the other edge, as XLA does.
    """
    fill_val = np.asarray(fill).reshape(-1)[0] if np.size(fill) else -1
    out = x
    for axis, (lo, hi, interior) in enumerate(config):
        n = out.shape[axis]
        spread = n + max(n - 1, 0) * interior
        length = max(lo + spread + hi, 0)
        p = np.arange(length) - lo
        valid = (p >= 0) & (p < spread) & (p % (interior + 1) == 0)
        shape = list(out.shape)
        shape[axis] = length
        if n == 0:
            out = np.full(shape, fill_val, dtype=out.dtype)
            continue
        taken = np.take(out, np.where(valid, p // (interior + 1), 0), axis=axis)
        mask_shape = [1] * out.ndim
        mask_shape[axis] = length
        out = np.where(valid.reshape(mask_shape), taken, np.asarray(fill_val, out.dtype))
    return out


def _pad(eqn, args):
    return [pad_positions(args[0], args[1], eqn.params["padding_config"])]


def _concatenate(eqn, args):
    return [np.concatenate(args, axis=eqn.params["dimension"])]


def _split(eqn, args):
    sizes = eqn.params["sizes"]
    axis = eqn.params["axis"]
    cuts = np.cumsum(sizes)[:-1]
    return np.split(args[0], cuts, axis=axis)


def _stack(eqn, args):
    return [np.stack(args, axis=eqn.params["axis"])]


def _unstack(eqn, args):
    axis = eqn.params["axis"]
    return [np.take(args[0], i, axis=axis) for i in range(args[0].shape[axis])]


def _tile(eqn, args):
    return [np.tile(args[0], eqn.params["reps"])]


def _identity(eqn, args):
    return [args[i] for i in range(len(eqn.outvars))]


#: position evaluators by primitive name, and which operands carry data
POSITION_EVALUATORS: dict[str, tuple[PosFn, Callable[[int], Sequence[int]] | None]] = {
    "reshape": (_reshape, lambda n: [0]),
    "broadcast_in_dim": (_broadcast_in_dim, lambda n: [0]),
    "transpose": (_transpose, None),
    "squeeze": (_squeeze, None),
    "expand_dims": (_expand_dims, None),
    "slice": (_slice, None),
    "rev": (_rev, None),
    "pad": (_pad, None),
    "concatenate": (_concatenate, None),
    "split": (_split, None),
    "stack": (_stack, None),
    "unstack": (_unstack, None),
    "tile": (_tile, None),
    # value-preserving, possibly multi-operand: output i copies operand i
    "device_put": (_identity, None),
    "optimization_barrier": (_identity, None),
    "sharding_constraint": (_identity, None),
    "name": (_identity, None),
    "reshard": (_identity, None),
    "layout_constraint": (_identity, None),
    "stage": (_identity, None),
}


def _keeps_order(general):
    """Rule of an operation that keeps the elements' C order (a squeeze, an
    expand_dims, a plain reshape): the pattern is the operand's, unchanged."""

    def rule(ctx, eqn, invals):
        if eqn.params.get("dimensions") is not None and eqn.primitive.name == "reshape":
            return general(ctx, eqn, invals)
        return [invals[0].deps]

    return rule


def _leading_slice(general):
    """Rule of ``slice``: a slice that cuts only the leading axis (unit stride) is a
    contiguous block of rows, taken as a view; any other goes through positions."""

    def rule(ctx, eqn, invals):
        v = invals[0]
        start, limit = eqn.params["start_indices"], eqn.params["limit_indices"]
        strides = eqn.params["strides"]
        shape = v.shape
        if (
            shape
            and (strides is None or all(k == 1 for k in strides))
            and all(a == 0 and b == n for a, b, n in zip(start[1:], limit[1:], shape[1:]))
        ):
            inner = math.prod(shape[1:])
            lo, hi = start[0] * inner, limit[0] * inner
            memo = getattr(ctx, "rule_memo", None)
            if memo is None or v.deps is None:
                return [row_range(v.deps, lo, hi)]
            key = ("rows", id(v.deps), lo, hi)
            hit = memo.get(key)  # holds v.deps, so its id is not reused meanwhile
            if hit is None:
                hit = memo[key] = (v.deps, row_range(v.deps, lo, hi))
            return [hit[1]]
        return general(ctx, eqn, invals)

    return rule


_SPECIALISED = {
    "squeeze": _keeps_order,
    "expand_dims": _keeps_order,
    "reshape": _keeps_order,
    "slice": _leading_slice,
}


def register() -> None:
    by_name = primitives_by_name()
    for name, (fn, data) in POSITION_EVALUATORS.items():
        if name in by_name:
            rule = positional_rule(fn, data)
            special = _SPECIALISED.get(name)
            register_rule(by_name[name], rule if special is None else special(rule))
