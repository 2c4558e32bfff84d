"""Interval bounds of integer values that depend on the input.

An index computed from the input (``x.astype(int)``, ``argmax``) is not a known
value, but its arithmetic often bounds it: ``clip(i, 2, 4)`` lies in ``[2, 4]``,
``argmax`` in ``[0, len - 1]``, ``i % 3`` in ``[-2, 2]``. Detection keeps, per
integer variable, an interval ``(lo, hi)`` *per element*: two int64 arrays that
broadcast to the variable's shape (0-d arrays when every element shares one
interval, as most do). Per-element bounds keep ``jnp.array([0, 1]) + i`` apart
from ``jnp.array([1, 0]) + i``, and the two components of an index vector
``x[i, j]`` apart from each other.

Detection uses them in two ways:

- a comparison whose outcome the bounds decide at every element becomes a
  known value (so ``where(i < 0, i + n, i)`` index normalisation selects its
  branch);
- gathers, scatters and dynamic slices with a bounded index take the union over
  the positions the index can reach, instead of the whole indexed axis.

Results that could leave the output dtype's range (where the program wraps
around) get no bounds: the dtype's own range then holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .known_eval import evaluate
from .values import Val

__all__ = [
    "bounds_of",
    "elem_bounds",
    "infer_bounds",
    "decide_comparison",
    "candidates",
    "Interval",
    "MAX_CANDIDATES",
]

#: per-element bounds: two int64 arrays broadcastable to the variable's shape
Interval = tuple[np.ndarray, np.ndarray]

#: most candidate index values enumerated for a bounded index
MAX_CANDIDATES = 256
#: larger variables keep one interval for all their elements
_ELEMENTWISE_LIMIT = 1_000_000
#: arithmetic on bounds wider than this could overflow int64: no bounds
_ARITH_LIMIT = 2**31


def _int_kind(dtype: Any) -> str | None:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return None
    return kind if kind in "iub" else None


def _dtype_range(dtype: Any) -> tuple[int, int]:
    if _int_kind(dtype) == "b":
        return 0, 1
    info = np.iinfo(np.dtype(dtype))
    return int(info.min), int(info.max)


def _pair(lo: Any, hi: Any) -> Interval:
    return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)


def elem_bounds(v: Val) -> Interval | None:
    """Per-element bounds of an integer (or boolean) value: from its known value,
    its inferred bounds, or its dtype's range; ``None`` for other dtypes and for
    empty arrays."""
    if _int_kind(v.dtype) is None or v.size == 0:
        return None
    if v.known is not None:
        k = np.asarray(v.known).astype(np.int64)
        return k, k
    if v.bounds is not None:
        return v.bounds
    return _pair(*_dtype_range(v.dtype))


def bounds_of(v: Val) -> tuple[int, int] | None:
    """One interval ``(lo, hi)`` holding every element of an integer value."""
    if _int_kind(v.dtype) in (None, "b"):
        return None
    b = elem_bounds(v)
    if b is None:
        return None
    return int(b[0].min()), int(b[1].max())


# -- elementwise arithmetic -------------------------------------------------------
def _small(*bs: Interval) -> bool:
    return all(
        int(np.abs(b[0]).max()) <= _ARITH_LIMIT and int(np.abs(b[1]).max()) <= _ARITH_LIMIT
        for b in bs
    )


def _add(eqn, b):
    (a0, a1), (b0, b1) = b
    return (a0 + b0, a1 + b1) if _small(*b) else None


def _sub(eqn, b):
    (a0, a1), (b0, b1) = b
    return (a0 - b1, a1 - b0) if _small(*b) else None


def _mul(eqn, b):
    if not _small(*b):
        return None
    (a0, a1), (b0, b1) = b
    prods = np.stack(np.broadcast_arrays(a0 * b0, a0 * b1, a1 * b0, a1 * b1))
    return prods.min(axis=0), prods.max(axis=0)


def _neg(eqn, b):
    return (-b[0][1], -b[0][0]) if _small(*b) else None


def _abs(eqn, b):
    if not _small(*b):
        return None
    lo, hi = b[0]
    mag = np.maximum(np.abs(lo), np.abs(hi))
    return np.where((lo <= 0) & (hi >= 0), 0, np.minimum(np.abs(lo), np.abs(hi))), mag


def _sign(eqn, b):
    lo, hi = b[0]
    return np.sign(lo), np.sign(hi)


def _max(eqn, b):
    return np.maximum(b[0][0], b[1][0]), np.maximum(b[0][1], b[1][1])


def _min(eqn, b):
    return np.minimum(b[0][0], b[1][0]), np.minimum(b[0][1], b[1][1])


def _clamp(eqn, b):
    lo, x, hi = b
    return _min(eqn, [_max(eqn, [x, lo]), hi])


def _rem(eqn, b):
    """``a rem d``: the sign of ``a``, magnitude below ``|d|`` and at most ``|a|``."""
    (a0, a1), (d0, d1) = b
    if np.any((d0 <= 0) & (d1 >= 0)):
        return None
    m = np.maximum(np.abs(d0), np.abs(d1)) - 1
    lo = np.where(a0 >= 0, 0, np.maximum(a0, -m))
    hi = np.where(a1 <= 0, 0, np.minimum(a1, m))
    return lo, hi


def _div(eqn, b):
    """Division rounding toward zero is monotone in each argument on either side of
    zero: the extremes are among the corner quotients."""
    (a0, a1), (d0, d1) = b
    if np.any((d0 <= 0) & (d1 >= 0)):
        return None
    qs = [
        np.trunc(np.divide(x, y, dtype=np.float64)).astype(np.int64)
        for x in (a0, a1)
        for y in (d0, d1)
    ]
    q = np.stack(np.broadcast_arrays(*qs))
    return q.min(axis=0), q.max(axis=0)


def _integer_pow(eqn, b):
    y = int(eqn.params["y"])
    lo, hi = b[0]
    if y < 0:
        return None
    if y == 0:
        return _pair(1, 1)
    if max(abs(int(lo.min())), abs(int(hi.max()))) ** y > 2**62:
        return None
    plo, phi = lo**y, hi**y
    if y % 2:
        return plo, phi
    straddles = (lo <= 0) & (hi >= 0)
    return np.where(straddles, 0, np.minimum(plo, phi)), np.maximum(plo, phi)


def _argminmax(eqn, b):
    axes = eqn.params["axes"]
    shape = eqn.invars[0].aval.shape
    return _pair(0, max(int(np.prod([shape[a] for a in axes])) - 1, 0))


def _convert(eqn, b):
    out = np.dtype(eqn.outvars[0].aval.dtype)
    if b[0] is None or out.kind not in "iu":
        return None
    return b[0]


_ELEMENTWISE: dict[str, Callable] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "neg": _neg,
    "abs": _abs,
    "sign": _sign,
    "max": _max,
    "min": _min,
    "clamp": _clamp,
    "rem": _rem,
    "div": _div,
    "integer_pow": _integer_pow,
    "convert_element_type": _convert,
}


def _select_n(eqn, invals, bs):
    cases = bs[1:]
    if any(c is None for c in cases):
        return None
    pred = invals[0].known
    if pred is not None:  # the case the known predicate picks, element by element
        which = np.asarray(pred).astype(np.int64)
        shape = np.broadcast_shapes(which.shape, *(np.shape(c[0]) for c in cases))
        which = np.broadcast_to(which, shape)
        lo = np.choose(which, [np.broadcast_to(c[0], shape) for c in cases])
        hi = np.choose(which, [np.broadcast_to(c[1], shape) for c in cases])
        return lo, hi
    lo = cases[0][0]
    hi = cases[0][1]
    for c in cases[1:]:
        lo, hi = np.minimum(lo, c[0]), np.maximum(hi, c[1])
    return lo, hi


# -- value-moving and monotone operations -------------------------------------------
#: data operands of value-moving primitives outside the position evaluators
_INDEXED_DATA = {"dynamic_slice": [0], "gather": [0]}
#: non-decreasing in every element of every operand: bounds map to bounds
_MONOTONE = {
    "reduce_max", "reduce_min", "cummax", "cummin", "sort", "copy", "copy_p", "unvmap_max",
}  # fmt: skip


def _data_args(name: str, nargs: int) -> list[int] | None:
    from .rules.structural import POSITION_EVALUATORS

    if name in POSITION_EVALUATORS:
        data = POSITION_EVALUATORS[name][1]
        return list(range(nargs)) if data is None else list(data(nargs))
    if name in _INDEXED_DATA:
        return _INDEXED_DATA[name]
    if name in _MONOTONE:
        return list(range(nargs))
    return None


def _moved(eqn, invals, bs, data: list[int]) -> list[Interval | None] | None:
    """Bounds of a value-moving or monotone primitive: the primitive itself run on
    the lower and on the upper bounds (its other operands known), or the hull."""
    nout = len(eqn.outvars)
    if any(bs[i] is None for i in data):
        return None
    name = eqn.primitive.name
    if name == "sort" and len(invals) > 1:
        data_known = False  # sorting by keys moves the other operands non-monotonically
    else:
        data_known = all(v.known is not None for i, v in enumerate(invals) if i not in data)
    hull = (
        min(int(bs[i][0].min()) for i in data),
        max(int(bs[i][1].max()) for i in data),
    )
    if name == "gather" and _gather_fills(eqn):
        fill = eqn.params.get("fill_value")
        dt = eqn.outvars[0].aval.dtype
        fill = _dtype_range(dt)[0 if np.dtype(dt).kind == "i" else 1] if fill is None else fill
        hull = (min(hull[0], int(fill)), max(hull[1], int(fill)))
    uniform = all(np.ndim(bs[i][0]) == 0 and np.ndim(bs[i][1]) == 0 for i in data)
    if uniform and name in ("reshape", "broadcast_in_dim", "transpose", "squeeze", "copy"):
        return [_pair(*hull)] * nout
    big = any(math_prod(v.aval.shape) > _ELEMENTWISE_LIMIT for v in eqn.outvars)
    if not data_known or big:
        return [_pair(*hull)] * nout
    outs = []
    for side in (0, 1):
        args = []
        for i, v in enumerate(invals):
            if i in data:
                arr = np.broadcast_to(bs[i][side], v.shape).astype(v.dtype, copy=False)
                args.append(arr)
            else:
                args.append(np.asarray(v.known))
        res = evaluate(eqn, args)
        if res is None:
            return [_pair(*hull)] * nout
        outs.append(res)
    return [_pair(lo, hi) for lo, hi in zip(*outs)]


def _gather_fills(eqn) -> bool:
    from jax import lax

    return eqn.params.get("mode") == lax.GatherScatterMode.FILL_OR_DROP


def math_prod(shape: Sequence[Any]) -> int:
    return int(np.prod([int(d) for d in shape], dtype=np.int64))


def _checked(eqn, out: Interval | None, aval) -> Interval | None:
    """Keep bounds that fit the output dtype (else the program may wrap around)."""
    if out is None or _int_kind(aval.dtype) not in ("i", "u"):
        return None
    lo, hi = np.asarray(out[0], dtype=np.int64), np.asarray(out[1], dtype=np.int64)
    dmin, dmax = _dtype_range(aval.dtype)
    if lo.size == 0 or int(lo.min()) < dmin or int(hi.max()) > dmax:
        return None
    shape = tuple(int(d) for d in aval.shape)
    try:
        np.broadcast_shapes(lo.shape, shape)
        np.broadcast_shapes(hi.shape, shape)
    except ValueError:
        return None
    if math_prod(shape) > _ELEMENTWISE_LIMIT and (lo.ndim or hi.ndim):
        return _pair(lo.min(), hi.max())
    return lo, hi


def infer_bounds(eqn, invals: Sequence[Val]) -> list[Interval | None]:
    """Bounds of each integer output of ``eqn`` (``None`` where none are inferred)."""
    name = eqn.primitive.name
    nout = len(eqn.outvars)
    bs = [elem_bounds(v) for v in invals]
    data = _data_args(name, len(invals))
    outs: list[Interval | None] | None
    if data is not None:
        outs = _moved(eqn, invals, bs, data)
    elif name == "select_n":
        outs = [_select_n(eqn, invals, bs)]
    elif name in ("argmax", "argmin"):
        outs = [_argminmax(eqn, bs)]
    elif name in _ELEMENTWISE and nout == 1 and all(b is not None for b in bs):
        try:
            with np.errstate(all="ignore"):
                outs = [_ELEMENTWISE[name](eqn, bs)]
        except (OverflowError, ValueError):
            outs = None
    else:
        outs = None
    if outs is None:
        return [None] * nout
    return [_checked(eqn, o, v.aval) for o, v in zip(outs, eqn.outvars)]


_COMPARISONS: dict[str, Callable[[Interval, Interval], tuple[np.ndarray, np.ndarray]]] = {
    # (where certainly true, where certainly false)
    "lt": lambda a, b: (a[1] < b[0], a[0] >= b[1]),
    "le": lambda a, b: (a[1] <= b[0], a[0] > b[1]),
    "gt": lambda a, b: (a[0] > b[1], a[1] <= b[0]),
    "ge": lambda a, b: (a[0] >= b[1], a[1] < b[0]),
    "eq": lambda a, b: (
        (a[0] == a[1]) & (b[0] == b[1]) & (a[0] == b[0]),
        (a[1] < b[0]) | (b[1] < a[0]),
    ),
    "ne": lambda a, b: (
        (a[1] < b[0]) | (b[1] < a[0]),
        (a[0] == a[1]) & (b[0] == b[1]) & (a[0] == b[0]),
    ),
}


def _decide_logic(eqn, invals: Sequence[Val]) -> np.ndarray | None:
    """``and`` / ``or`` of booleans that one known operand decides alone
    (``False and ?``, ``True or ?``)."""
    absorbing = {"and": False, "or": True}[eqn.primitive.name]
    for v in invals:
        if v.known is not None and np.all(np.asarray(v.known) == absorbing):
            shape = tuple(int(d) for d in eqn.outvars[0].aval.shape)
            return np.broadcast_to(np.asarray(absorbing), shape)
    return None


def decide_comparison(eqn, invals: Sequence[Val]) -> np.ndarray | None:
    """A comparison of bounded integers whose outcome the bounds decide at every
    element, or a boolean ``and``/``or`` a known operand decides, as a known
    boolean array; ``None`` otherwise."""
    if eqn.primitive.name in ("and", "or") and np.dtype(eqn.outvars[0].aval.dtype) == bool:
        return _decide_logic(eqn, invals)
    decide = _COMPARISONS.get(eqn.primitive.name)
    if decide is None or len(invals) != 2:
        return None
    if any(_int_kind(v.dtype) in (None, "b") for v in invals):
        return None
    a, b = elem_bounds(invals[0]), elem_bounds(invals[1])
    if a is None or b is None:
        return None
    true, false = decide(a, b)
    if not np.all(true | false):
        return None
    shape = tuple(int(d) for d in eqn.outvars[0].aval.shape)
    return np.broadcast_to(np.asarray(true, dtype=bool), shape)


def candidates(v: Val, lo_clamp: int, hi_clamp: int) -> np.ndarray | None:
    """The values an integer scalar/array may take, clamped to ``[lo_clamp, hi_clamp]``,
    when there are at most :data:`MAX_CANDIDATES` of them; else ``None``."""
    b = bounds_of(v)
    if b is None:
        return None
    lo = min(max(b[0], lo_clamp), hi_clamp)
    hi = min(max(b[1], lo_clamp), hi_clamp)
    if hi - lo + 1 > MAX_CANDIDATES:
        return None
    return np.arange(lo, hi + 1, dtype=np.int64)


def index_candidates(indices: Val, upper: Sequence[int]) -> list[np.ndarray] | None:
    """Index arrays that together take every value bounded indices can take.

    ``indices`` holds index vectors along its last axis (the gather/scatter
    convention); component ``k`` behaves alike for every value below ``0`` and
    for every value above ``upper[k]``. Each element ranges over its own
    interval, and each component independently of the others, so the union of
    results over the returned arrays covers every run. ``None`` when more than
    :data:`MAX_CANDIDATES` arrays would be needed.
    """
    b = elem_bounds(indices)
    if b is None or not indices.shape:
        return None
    shape = indices.shape
    ub = np.asarray(upper, dtype=np.int64)
    lo = np.clip(np.broadcast_to(b[0], shape), -1, ub)
    hi = np.clip(np.broadcast_to(b[1], shape), -1, ub)
    k = shape[-1]
    width = (hi - lo).reshape(-1, k).max(axis=0) if lo.size else np.zeros(k, np.int64)
    if int(np.prod(width + 1, dtype=np.float64)) > MAX_CANDIDATES:
        return None
    import itertools

    out = []
    for step in itertools.product(*(range(int(w) + 1) for w in width)):
        out.append(np.minimum(lo + np.asarray(step, dtype=np.int64), hi).astype(np.int32))
    return out
