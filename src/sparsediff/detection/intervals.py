"""Interval bounds of integer values that depend on the input.

An index computed from the input (``x.astype(int)``, ``argmax``) is not a known
value, but its arithmetic often bounds it: ``clip(i, 2, 4)`` lies in ``[2, 4]``,
``argmax`` in ``[0, len - 1]``, ``i % 3`` in ``[-2, 2]``. Detection keeps one
interval ``(lo, hi)`` per integer variable (covering all its elements) and uses
it in two ways:

- a comparison whose outcome the intervals decide becomes a known value (so
  ``where(i < 0, i + n, i)`` index normalisation selects its branch);
- gathers and dynamic slices with a bounded index take the union over the
  positions the index can reach, instead of the whole indexed axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .values import Val

__all__ = ["bounds_of", "infer_bounds", "decide_comparison", "Interval"]

Interval = tuple[int, int]


def _int_dtype(dtype: Any) -> bool:
    try:
        return np.dtype(dtype).kind in "iu"
    except TypeError:
        return False


def bounds_of(v: Val) -> Interval | None:
    """The interval of an integer value: from its known value, its inferred bounds,
    or its dtype's range; ``None`` for non-integers or empty arrays."""
    if not _int_dtype(v.dtype):
        return None
    if v.known is not None:
        arr = np.asarray(v.known)
        if arr.size == 0:
            return None
        return int(arr.min()), int(arr.max())
    if v.bounds is not None:
        return v.bounds
    info = np.iinfo(np.dtype(v.dtype))
    return int(info.min), int(info.max)


def _hull(bs: Sequence[Interval | None]) -> Interval | None:
    bs = [b for b in bs if b is not None]
    if not bs:
        return None
    return min(b[0] for b in bs), max(b[1] for b in bs)


def _add(eqn, b):
    return b[0][0] + b[1][0], b[0][1] + b[1][1]


def _sub(eqn, b):
    return b[0][0] - b[1][1], b[0][1] - b[1][0]


def _mul(eqn, b):
    prods = [x * y for x in b[0] for y in b[1]]
    return min(prods), max(prods)


def _neg(eqn, b):
    return -b[0][1], -b[0][0]


def _max(eqn, b):
    return max(b[0][0], b[1][0]), max(b[0][1], b[1][1])


def _min(eqn, b):
    return min(b[0][0], b[1][0]), min(b[0][1], b[1][1])


def _clamp(eqn, b):
    lo, x, hi = b
    return _min(eqn, [_max(eqn, [x, lo]), hi])


def _rem(eqn, b):
    a, d = b
    if d[0] <= 0 <= d[1]:
        return None
    m = max(abs(d[0]), abs(d[1])) - 1
    lo = 0 if a[0] >= 0 else max(a[0], -m)
    hi = 0 if a[1] <= 0 else min(a[1], m)
    return lo, hi


def _div(eqn, b):
    a, d = b
    if d[0] <= 0 <= d[1]:
        return None
    qs = [int(np.trunc(x / y)) for x in a for y in d]
    return min(qs), max(qs)


def _same(eqn, b):
    return _hull(b)


def _argminmax(eqn, b):
    axes = eqn.params["axes"]
    shape = eqn.invars[0].aval.shape
    return 0, max(int(np.prod([shape[a] for a in axes])) - 1, 0)


def _select_n(eqn, b):
    return _hull(b[1:])


def _convert(eqn, b):
    out = np.dtype(eqn.outvars[0].aval.dtype)
    if b[0] is None or out.kind not in "iu":
        return None
    info = np.iinfo(out)
    if info.min <= b[0][0] and b[0][1] <= info.max:
        return b[0]
    return None


_RULES: dict[str, Callable] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "neg": _neg,
    "max": _max,
    "min": _min,
    "clamp": _clamp,
    "rem": _rem,
    "div": _div,
    "select_n": _select_n,
    "convert_element_type": _convert,
    "argmax": _argminmax,
    "argmin": _argminmax,
}
_STRUCTURAL = {
    "broadcast_in_dim", "reshape", "squeeze", "expand_dims", "slice", "rev", "transpose",
    "concatenate", "pad", "copy", "dynamic_slice", "gather", "sort", "reduce_max",
    "reduce_min", "cummax", "cummin", "tile", "stack", "split", "unstack",
    "optimization_barrier", "device_put",
}  # fmt: skip
_DATA_ARGS = {"dynamic_slice": 1, "gather": 1}  # only the first operand is data


def infer_bounds(eqn, invals: Sequence[Val]) -> Interval | None:
    """Bounds of the (single or each) integer output of ``eqn``."""
    name = eqn.primitive.name
    bs = [bounds_of(v) for v in invals]
    if name in _STRUCTURAL:
        k = _DATA_ARGS.get(name, len(bs))
        return _hull(bs[:k]) if all(b is not None for b in bs[:k]) else None
    rule = _RULES.get(name)
    if rule is None:
        return None
    if name in ("argmax", "argmin"):
        return rule(eqn, bs)
    if name == "select_n":
        cases = bs[1:]
        if invals[0].known is not None:  # only the cases the known predicate picks
            picked = np.unique(np.asarray(invals[0].known).astype(np.int64))
            cases = [cases[int(i)] for i in picked]
        return _hull(cases) if all(b is not None for b in cases) else None
    if any(b is None for b in bs):
        return None
    try:
        return rule(eqn, bs)
    except (OverflowError, ValueError):
        return None


_COMPARISONS: dict[str, Callable[[Interval, Interval], bool | None]] = {
    "lt": lambda a, b: True if a[1] < b[0] else False if a[0] >= b[1] else None,
    "le": lambda a, b: True if a[1] <= b[0] else False if a[0] > b[1] else None,
    "gt": lambda a, b: True if a[0] > b[1] else False if a[1] <= b[0] else None,
    "ge": lambda a, b: True if a[0] >= b[1] else False if a[1] < b[0] else None,
    "eq": lambda a, b: (
        False if a[1] < b[0] or b[1] < a[0] else True if a[0] == a[1] == b[0] == b[1] else None
    ),
    "ne": lambda a, b: (
        True if a[1] < b[0] or b[1] < a[0] else False if a[0] == a[1] == b[0] == b[1] else None
    ),
}


def decide_comparison(eqn, invals: Sequence[Val]) -> np.ndarray | None:
    """A comparison of bounded integers whose outcome is the same everywhere."""
    decide = _COMPARISONS.get(eqn.primitive.name)
    if decide is None or len(invals) != 2:
        return None
    a, b = bounds_of(invals[0]), bounds_of(invals[1])
    if a is None or b is None:
        return None
    outcome = decide(a, b)
    if outcome is None:
        return None
    shape = tuple(int(d) for d in eqn.outvars[0].aval.shape)
    return np.broadcast_to(np.asarray(outcome, dtype=bool), shape)


#: most candidate index values enumerated for a bounded index
MAX_CANDIDATES = 256


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
