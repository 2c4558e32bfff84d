"""Fast numpy evaluation of integer and boolean known values.

Detection computes values that do not depend on the inputs (indices, loop
counters, masks) concretely. Binding a JAX primitive eagerly costs a dispatch
(a fraction of a millisecond), which dominates loops that are iterated exactly.
Integer and boolean arithmetic is evaluated here with numpy instead, following
lax semantics (wrapping arithmetic, division rounding toward zero, ``rem`` with
the sign of the dividend). Floating-point values always go through JAX, so
that known floats (and the zeros they contain) are exactly what JAX computes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["numpy_eval", "evaluate"]


def _is_int_or_bool(dtype: Any) -> bool:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return False
    return kind in "iub"


def _div(a, b):
    q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
    return np.where(b == 0, 0, np.sign(a) * np.sign(b) * q)  # XLA gives garbage on /0


def _rem(a, b):
    return np.fmod(a, np.where(b == 0, 1, b))


def _select_n(pred, *cases):
    which = np.asarray(pred).astype(np.int64)
    return np.choose(which, np.broadcast_arrays(*cases))


def _not(a):
    return np.logical_not(a) if a.dtype == np.bool_ else np.invert(a)


def _integer_pow(p, a):
    return np.power(a, p["y"])


def _iota(p):
    shape = tuple(p["shape"])
    dim = p["dimension"]
    view = [1] * len(shape)
    view[dim] = shape[dim]
    return np.broadcast_to(np.arange(shape[dim]).reshape(view), shape)


_BINARY: dict[str, Callable] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _div,
    "rem": _rem,
    "max": np.maximum,
    "min": np.minimum,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
}
_UNARY: dict[str, Callable] = {
    "neg": np.negative,
    "abs": np.abs,
    "sign": np.sign,
    "not": _not,
    "convert_element_type": lambda a: a,
    "copy": lambda a: a,
}


def numpy_eval(eqn, args: list[Any]):
    """Evaluate ``eqn`` with numpy when it is integer/boolean index arithmetic.

    Returns the list of outputs, or ``None`` when this evaluator does not apply
    (the caller then binds the primitive with JAX).
    """
    avals = [v.aval for v in eqn.outvars]
    name = eqn.primitive.name
    structural = _structural(name)
    if structural is not None and all(isinstance(a, np.ndarray | np.generic) for a in args):
        # value-moving operations are exact for every dtype
        res = structural(eqn, [np.asarray(a) for a in args])
        if all(r.shape == tuple(int(d) for d in v.shape) for r, v in zip(res, avals)):
            return [np.asarray(r).astype(v.dtype, copy=False) for r, v in zip(res, avals)]
        return None
    if len(avals) != 1 or not _is_int_or_bool(getattr(avals[0], "dtype", None)):
        return _uniform_eval(eqn, args, avals)
    if not all(_is_int_or_bool(getattr(a, "dtype", None)) for a in args):
        return _uniform_eval(eqn, args, avals)
    arrs = [np.asarray(a) for a in args]
    out_dtype = np.dtype(avals[0].dtype)
    shape = tuple(int(d) for d in avals[0].shape)
    with np.errstate(all="ignore"):
        if name in _BINARY and len(arrs) == 2:
            res = _BINARY[name](arrs[0], arrs[1])
        elif name in _UNARY and len(arrs) == 1:
            res = _UNARY[name](arrs[0])
        elif name == "select_n":
            res = _select_n(*arrs)
        elif name == "clamp":
            res = np.minimum(np.maximum(arrs[1], arrs[0]), arrs[2])
        elif name == "integer_pow":
            res = _integer_pow(eqn.params, arrs[0])
        elif name == "iota" and not arrs:
            res = _iota(eqn.params)
        else:
            return None
        res = np.asarray(res).astype(out_dtype, copy=False)
    if res.shape != shape:
        return None
    return [res]


def _structural(name: str):
    from .rules.structural import POSITION_EVALUATORS

    entry = POSITION_EVALUATORS.get(name)
    return None if entry is None else entry[0]


def _is_uniform(a: Any) -> bool:
    """A numpy array whose elements are all the same by construction (a broadcast)."""
    return isinstance(a, np.ndarray | np.generic) and (
        np.ndim(a) == 0 or np.size(a) <= 1 or all(s == 0 for s in np.asarray(a).strides)
    )


def _uniform_eval(eqn, args: list[Any], avals):
    """Elementwise operation on broadcast constants: compute one element with JAX
    and broadcast it (no full-size array is materialised)."""
    from . import compat
    from .rules.elementwise import DERIVATIVE_ARGS

    if eqn.primitive.name not in DERIVATIVE_ARGS or len(avals) != 1:
        return None
    if not args or not all(_is_uniform(a) for a in args):
        return None
    scalars = [np.asarray(a).reshape(-1)[0] if np.size(a) else None for a in args]
    if any(s is None for s in scalars):
        return None
    scalars = [np.asarray(s, dtype=np.asarray(a).dtype) for s, a in zip(scalars, args)]
    try:
        with compat.eqn_context(eqn):
            one = np.asarray(compat.bind_eqn(eqn, *scalars))
    except Exception:  # noqa: BLE001 - fall back to the full evaluation
        return None
    shape = tuple(int(d) for d in avals[0].shape)
    return [np.broadcast_to(one.astype(avals[0].dtype, copy=False), shape)]


def evaluate(eqn, args: list[Any]) -> list[Any] | None:
    """The outputs of ``eqn`` on concrete ``args`` (numpy where it applies, else
    JAX itself), or ``None`` when evaluating fails."""
    from . import compat

    fast = numpy_eval(eqn, args)
    if fast is not None:
        return fast
    try:
        with compat.eqn_context(eqn):
            res = compat.bind_eqn(eqn, *args)
    except Exception:  # noqa: BLE001 - any failure just means "no value"
        return None
    return list(res) if eqn.primitive.multiple_results else [res]
