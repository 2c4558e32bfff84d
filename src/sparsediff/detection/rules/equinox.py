"""Rules for Equinox's primitives, registered by name (Equinox is not imported).

- ``select_if_vmap(pred, x, y)``: ``where(pred, x, y)`` (under ``vmap``; ``x``
  otherwise): the union of ``x`` and ``y``, or the case a known ``pred`` picks.
- ``nondifferentiable_backward(x)``: the identity in forward mode (only its
  transpose refuses).
- ``unvmap_any`` / ``unvmap_all`` / ``unvmap_max``: boolean and integer
  reductions without derivatives; ``unvmap_max`` keeps interval bounds (see
  :mod:`~sparsediff.detection.intervals`).
- ``nondifferentiable``, ``error_if``: custom JVP calls, handled by the generic
  rule of :mod:`.control_flow`.
"""

from __future__ import annotations

import numpy as np

from ..deps import broadcast_rows, union
from ..registry import register_rule_by_name

__all__ = ["register"]


def select_if_vmap_rule(ctx, eqn, invals):
    pred, x, y = invals
    shape = tuple(int(d) for d in eqn.outvars[0].aval.shape)
    if pred.known is not None:
        picks_x = np.broadcast_to(np.asarray(pred.known, dtype=bool), shape).reshape(-1)
        if picks_x.all():
            return [broadcast_rows(x.deps, x.shape, shape)]
        if not picks_x.any():
            return [broadcast_rows(y.deps, y.shape, shape)]
    return [union(broadcast_rows(x.deps, x.shape, shape), broadcast_rows(y.deps, y.shape, shape))]


def identity_rule(ctx, eqn, invals):
    return [v.deps for v in invals[: len(eqn.outvars)]]


def no_derivative_rule(ctx, eqn, invals):
    return [None for _ in eqn.outvars]


def register() -> None:
    register_rule_by_name("select_if_vmap", select_if_vmap_rule)
    register_rule_by_name("nondifferentiable_backward", identity_rule)
    for name in ("unvmap_any", "unvmap_all", "unvmap_max"):
        register_rule_by_name(name, no_derivative_rule)
