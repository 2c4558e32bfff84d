"""Elementwise primitives, driven by a data table.

``DERIVATIVE_ARGS[name]`` says which arguments of the primitive may have a
non-zero first derivative: ``ALL`` (every argument), a tuple of argument
positions, or ``()`` (zero derivative everywhere: the output's pattern is
empty). One generic rule reads the table; ``tests/detection/test_elementwise_table.py``
checks every entry numerically against ``jax.jacfwd``.

Operands of shape ``()`` broadcast against the others, as lax allows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from jax.extend.core import Primitive
from jax.extend.core import primitives as P

from ..deps import broadcast_rows, take, union
from ..registry import register_rule
from ..values import aval_shape_dtype

__all__ = ["DERIVATIVE_ARGS", "ZERO_DERIVATIVE_WHEN", "ALL", "register"]

ALL = "all"

#: which arguments have a non-zero derivative, by primitive name
DERIVATIVE_ARGS: dict[str, str | tuple[int, ...]] = {}

_ALL_ARGS = [
    "add", "sub", "mul", "div", "max", "min", "pow", "atan2", "rem", "complex",
    "add_any", "clamp", "igamma", "igammac", "igamma_grad_a",
    "zeta", "polygamma", "regularized_incomplete_beta", "nextafter",
]  # fmt: skip
_FIRST_ARG = [
    "neg", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
    "acosh", "atanh", "exp", "exp2", "log", "log1p", "expm1", "sqrt", "rsqrt", "cbrt",
    "logistic", "erf", "erfc", "erf_inv", "lgamma", "digamma", "abs", "integer_pow",
    "square", "real", "imag", "conj", "reduce_precision", "copy",
    "convert_element_type", "bessel_i0e", "bessel_i1e",
]  # fmt: skip
_NO_ARGS = [
    "sign", "floor", "ceil", "round", "is_finite", "eq", "ne", "lt", "le", "gt", "ge",
    "eq_to", "le_to", "lt_to", "and", "or", "not", "xor", "shift_left",
    "shift_right_arithmetic", "shift_right_logical", "population_count", "clz",
    "stop_gradient",
]  # fmt: skip

for _name in _ALL_ARGS:
    DERIVATIVE_ARGS[_name] = ALL
for _name in _FIRST_ARG:
    DERIVATIVE_ARGS[_name] = (0,)
for _name in _NO_ARGS:
    DERIVATIVE_ARGS[_name] = ()
# select_n(pred, *cases): the predicate is piecewise constant.
DERIVATIVE_ARGS["select_n"] = "cases"

#: parameters that make a primitive's derivative vanish everywhere (``x ** 0``)
ZERO_DERIVATIVE_WHEN: dict[str, Callable[[dict], bool]] = {
    "integer_pow": lambda params: params["y"] == 0
}


def _out_shape(eqn) -> tuple[int, ...]:
    return aval_shape_dtype(eqn.outvars[0].aval)[0]


def elementwise_rule(ctx, eqn, invals):
    """Union of the (broadcast) patterns of the arguments with non-zero derivative."""
    spec = DERIVATIVE_ARGS[eqn.primitive.name]
    shape = _out_shape(eqn)
    vanishes = ZERO_DERIVATIVE_WHEN.get(eqn.primitive.name)
    if vanishes is not None and vanishes(eqn.params):
        return [None]
    if spec == ALL:
        args = range(len(invals))
    elif spec == "cases":
        return [_select_n(ctx, invals, shape)]
    else:
        args = spec
    parts = []
    for i in args:
        v = invals[i]
        if v.deps is None:
            continue
        d = v.deps
        name = eqn.primitive.name
        if name == "mul" or (name == "div" and i == 1):
            # x * c, c * x, and c / x: zero where the known c is zero
            d = _drop_known_zeros(d, v.shape, invals[1 - i])
        parts.append(broadcast_rows(d, v.shape, shape))
    return [union(*parts)]


def _drop_known_zeros(d, shape, other, out_shape=None):
    """In ``x * c`` (or ``c / x``) with known ``c``, entries where ``c == 0`` have
    zero derivative with respect to ``x``."""
    if other.known is None or d is None:
        return d
    known = other.known_np()
    if known.ndim == 0:
        return d if known != 0 else None
    nonzero = known != 0
    if nonzero.all():
        return d
    if not nonzero.any():
        return None
    shape = tuple(shape)
    if shape and np.broadcast_shapes(nonzero.shape, shape) == shape:
        keep = np.broadcast_to(nonzero, shape).reshape(-1)
        return take(d, np.where(keep, np.arange(keep.size), -1))
    return d


def _select_n(ctx, invals, shape):
    pred, cases = invals[0], invals[1:]
    if pred.known is not None:
        from ..deps import take, vstack

        which = np.broadcast_to(np.asarray(pred.known_np(), dtype=np.int64), shape).reshape(-1)
        sizes = [c.size for c in cases]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        pos = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
        src = []
        for c in cases:  # a case may be a scalar broadcast against the predicate
            src.append(np.broadcast_to(np.arange(c.size).reshape(c.shape), shape).reshape(-1))
        rows = np.choose(which, [s + o for s, o in zip(src, offsets)]) if cases else pos
        stacked = vstack([c.deps for c in cases], sizes, ctx.n)
        return take(stacked, rows)
    return union(*[broadcast_rows(c.deps, c.shape, shape) for c in cases])


def primitives_by_name() -> dict[str, Primitive]:
    """Every primitive JAX defines that detection knows of, keyed by name."""
    from .. import compat

    out = dict(compat.extra_primitives())
    for attr in dir(P):
        prim = getattr(P, attr)
        if attr.endswith("_p") and hasattr(prim, "name"):
            out[prim.name] = prim
    return out


def register() -> None:
    by_name = primitives_by_name()
    for name in DERIVATIVE_ARGS:
        if name in by_name:
            register_rule(by_name[name], elementwise_rule)
