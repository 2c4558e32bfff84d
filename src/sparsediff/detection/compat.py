"""The one place that touches JAX internals which may move between versions.

Contract tests in ``tests/detection/test_compat.py`` pin the jaxpr layouts
relied on here.
"""

from __future__ import annotations

from typing import Any

from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal

__all__ = ["bind_eqn", "ClosedJaxpr", "Jaxpr", "JaxprEqn", "Literal", "literal_value", "eqn_context"]


def bind_eqn(eqn: JaxprEqn, *args: Any) -> Any:
    """Evaluate ``eqn`` on concrete (or traced) arguments, as ``jax.core.eval_jaxpr`` does."""
    res = eqn.primitive.get_bind_params(eqn.params)
    if isinstance(res, tuple):  # older JAX: (subfuns, params)
        subfuns, params = res
        return eqn.primitive.bind(*subfuns, *args, **params)
    return eqn.primitive.bind(*args, **res)


def literal_value(lit: Literal) -> Any:
    return lit.val


def eqn_context(eqn: JaxprEqn):
    """The context manager JAX enters while binding ``eqn`` (e.g. x64 / mesh settings)."""
    ctx = getattr(eqn, "ctx", None)
    manager = getattr(ctx, "manager", None)
    if manager is None:
        import contextlib

        return contextlib.nullcontext()
    return manager


def extra_primitives() -> dict[str, Any]:
    """Primitives real programs emit that ``jax.extend.core.primitives`` does not list.

    Looked up defensively: a missing one is skipped, and the rule tests notice.
    """
    found: dict[str, Any] = {}
    candidates = [
        ("jax._src.lax.control_flow", "optimization_barrier_p"),
        ("jax._src.callback", "pure_callback_p"),
        ("jax._src.callback", "io_callback_p"),
        ("jax._src.debugging", "debug_callback_p"),
        ("jax._src.debugging", "debug_print_p"),
        ("jax._src.debugging", "inspect_sharding_p"),
        ("jax._src.ad_checkpoint", "name_p"),
    ]
    import importlib

    for module, attr in candidates:
        try:
            prim = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        found[prim.name] = prim
    return found
