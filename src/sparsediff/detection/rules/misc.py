"""Host callbacks and other opaque operations: sound dense fallback, no warning.

``pure_callback`` / ``io_callback`` run arbitrary host code whose dependence on
its inputs cannot be read: every output element is assumed to depend on every
input element (conservative). ``debug_callback`` / ``debug_print`` have no
outputs and need no rule.
"""

from __future__ import annotations

from ..deps import broadcast_rows
from ..interpreter import dense_fallback
from ..registry import register_rule

__all__ = ["register", "OPAQUE"]

OPAQUE = ("pure_callback", "io_callback")


def opaque_rule(ctx, eqn, invals):
    return dense_fallback([v.aval for v in eqn.outvars], invals, eqn.primitive.name)


def zero_rule(ctx, eqn, invals):
    """Outputs with zero derivative (``bitcast_convert_type``: JAX defines none;
    ``zeros_like``: a constant)."""
    return [None] * len(eqn.outvars)


def random_gamma_rule(ctx, eqn, invals):
    """``random_gamma(key, a)``: each sample depends on its own shape parameter
    (JAX differentiates it by implicit reparameterisation)."""
    a = invals[1]
    shape = tuple(int(d) for d in eqn.outvars[0].aval.shape)
    return [broadcast_rows(a.deps, a.shape, shape)]


def composite_rule(ctx, eqn, invals):
    """``composite``: a named decomposition; its jaxpr defines the semantics."""
    return ctx.eval_closed(eqn.params["jaxpr"], invals)


def register() -> None:
    from .elementwise import primitives_by_name

    by_name = primitives_by_name()
    table = {name: opaque_rule for name in OPAQUE}
    table.update(
        bitcast_convert_type=zero_rule,
        zeros_like=zero_rule,
        random_gamma=random_gamma_rule,
        composite=composite_rule,
    )
    for name, rule in table.items():
        if name in by_name:
            register_rule(by_name[name], rule)
