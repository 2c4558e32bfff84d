"""Reductions, cumulative reductions, sorting and pooling.

All are *aggregations*: each output element is the union of a group of input
elements' patterns, computed as one sparse product of a 0/1 grouping matrix
with the input pattern.
"""

from __future__ import annotations

import numpy as np
from jax.extend.core import primitives as P

from ..deps import aggregate, broadcast_rows, reduce_axes, take, union
from ..registry import register_rule
from .windows import window_positions

__all__ = ["register"]


def _out_shape(eqn, i: int = 0) -> tuple[int, ...]:
    return tuple(int(d) for d in eqn.outvars[i].aval.shape)


def reduce_rule(ctx, eqn, invals):
    """reduce_sum / max / min / prod over ``axes``."""
    x = invals[0]
    axes = tuple(eqn.params["axes"])
    red = reduce_axes(x.deps, x.shape, axes)
    return [red]  # reduced shape with ones has the output's size and order


def generic_reduce_rule(ctx, eqn, invals):
    """``reduce`` with a user reducer over several operands: every output is the
    union of every operand reduced over ``dimensions`` (sound, conservative
    across operands)."""
    k = len(eqn.outvars)
    operands, inits = invals[:k], invals[k:]
    axes = tuple(eqn.params["dimensions"])
    parts = [reduce_axes(v.deps, v.shape, axes) for v in operands]
    parts += [take(v.deps, np.zeros(eqn.outvars[0].aval.size or 0, dtype=np.int64)) for v in inits]
    merged = union(*parts)
    return [merged] * k


def cumulative_rule(ctx, eqn, invals):
    """cumsum / cumprod / cummax / cummin / cumlogsumexp: prefix unions along ``axis``."""
    x = invals[0]
    if x.deps is None:
        return [None]
    shape = x.shape
    axis = eqn.params["axis"] % len(shape)
    reverse = eqn.params.get("reverse", False)
    n_axis = shape[axis]
    before = int(np.prod(shape[:axis], dtype=np.int64))
    after = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    i, j = np.tril_indices(n_axis)  # output i reads input j <= i
    if reverse:
        i, j = n_axis - 1 - i, n_axis - 1 - j
    a = np.arange(before, dtype=np.int64)[:, None, None]
    b = np.arange(after, dtype=np.int64)[None, None, :]
    out_rows = (a * n_axis + i[None, :, None]) * after + b
    in_rows = (a * n_axis + j[None, :, None]) * after + b
    return [aggregate(x.deps, out_rows, in_rows, x.size)]


def _dense_along(v, axis: int, out_shape):
    red = reduce_axes(v.deps, v.shape, (axis,))
    red_shape = tuple(1 if i == axis else s for i, s in enumerate(v.shape))
    return broadcast_rows(red, red_shape, out_shape)


def sort_rule(ctx, eqn, invals):
    """Each sorted operand is a permutation of itself along ``dimension`` that
    depends on the keys only through a piecewise constant choice."""
    dim = eqn.params["dimension"]
    return [_dense_along(v, dim % len(v.shape), v.shape) for v in invals]


def top_k_rule(ctx, eqn, invals):
    x = invals[0]
    return [_dense_along(x, len(x.shape) - 1, _out_shape(eqn, 0)), None]


def _window_args(eqn, shape):
    p = eqn.params
    nd = len(shape)
    return (
        tuple(p["window_dimensions"]),
        tuple(p["window_strides"]),
        tuple(tuple(x) for x in p["padding"]),
        tuple(p.get("base_dilation") or (1,) * nd),
        tuple(p.get("window_dilation") or (1,) * nd),
    )


def _window_union(deps, shape, eqn, out_size):
    if deps is None:
        return None
    table = window_positions(shape, *_window_args(eqn, shape))
    out_rows = np.broadcast_to(np.arange(out_size, dtype=np.int64)[:, None], table.shape)
    return aggregate(deps, out_rows, table, out_size)


def reduce_window_rule(ctx, eqn, invals):
    """reduce_window_{sum,max,min}: union over each window."""
    x = invals[0]
    out_size = int(np.prod(_out_shape(eqn), dtype=np.int64))
    return [_window_union(x.deps, x.shape, eqn, out_size)]


def generic_reduce_window_rule(ctx, eqn, invals):
    """``reduce_window`` with a user reducer: union over windows of all operands
    (sound, conservative across operands), plus the init values."""
    k = len(eqn.outvars)
    operands, inits = invals[:k], invals[k:]
    out_size = int(np.prod(_out_shape(eqn), dtype=np.int64))
    parts = [_window_union(v.deps, v.shape, eqn, out_size) for v in operands]
    parts += [take(v.deps, np.zeros(out_size, dtype=np.int64)) for v in inits]
    merged = union(*parts)
    return [merged] * k


def select_and_gather_add_rule(ctx, eqn, invals):
    """Forward derivative of max pooling: the tangent at the selected tap of
    each window (any tap of the window may be selected)."""
    tangents = invals[0]
    out_size = int(np.prod(_out_shape(eqn), dtype=np.int64))
    return [_window_union(tangents.deps, tangents.shape, eqn, out_size)]


def select_and_scatter_add_rule(ctx, eqn, invals):
    """Reverse derivative of max pooling: each window's source value goes to one
    of its taps, so an operand element receives the windows that contain it."""
    source, operand = invals[0], invals[1]
    if source.deps is None:
        return [None]
    table = window_positions(operand.shape, *_window_args(eqn, operand.shape))
    src_rows = np.broadcast_to(np.arange(table.shape[0], dtype=np.int64)[:, None], table.shape)
    return [aggregate(source.deps, table, src_rows, operand.size)]


def register() -> None:
    for prim in (P.reduce_sum_p, P.reduce_max_p, P.reduce_min_p, P.reduce_prod_p):
        register_rule(prim, reduce_rule)
    register_rule(P.reduce_p, generic_reduce_rule)
    for prim in (P.cumsum_p, P.cumprod_p, P.cummax_p, P.cummin_p, P.cumlogsumexp_p):
        register_rule(prim, cumulative_rule)
    register_rule(P.sort_p, sort_rule)
    register_rule(P.top_k_p, top_k_rule)
    register_rule(P.approx_top_k_p, top_k_rule)
    for prim in (P.reduce_window_sum_p, P.reduce_window_max_p, P.reduce_window_min_p):
        register_rule(prim, reduce_window_rule)
    register_rule(P.reduce_window_p, generic_reduce_window_rule)
    register_rule(P.select_and_gather_add_p, select_and_gather_add_rule)
    register_rule(P.select_and_scatter_add_p, select_and_scatter_add_rule)
