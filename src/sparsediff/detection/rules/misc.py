"""Host callbacks and other opaque operations: sound dense fallback, no warning.

``pure_callback`` / ``io_callback`` run arbitrary host code whose dependence on
its inputs cannot be read: every output element is assumed to depend on every
input element (conservative). ``debug_callback`` / ``debug_print`` have no
outputs and need no rule.
"""

from __future__ import annotations

from ..interpreter import dense_fallback
from ..registry import register_rule

__all__ = ["register", "OPAQUE"]

OPAQUE = ("pure_callback", "io_callback")


def opaque_rule(ctx, eqn, invals):
    return dense_fallback([v.aval for v in eqn.outvars], invals)


def register() -> None:
    from .. import compat

    extra = compat.extra_primitives()
    for name in OPAQUE:
        if name in extra:
            register_rule(extra[name], opaque_rule)
