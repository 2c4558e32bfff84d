"""The one place that touches JAX internals which may move between versions.

Contract tests in ``tests/detection/test_compat.py`` pin the jaxpr layouts
relied on here.
"""

from __future__ import annotations

from typing import Any

from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal

__all__ = [
    "bind_eqn",
    "apply_eqn",
    "ClosedJaxpr",
    "Jaxpr",
    "JaxprEqn",
    "Literal",
    "literal_value",
    "eqn_context",
    "trace_context",
    "count_primitives",
]


def bind_eqn(eqn: JaxprEqn, *args: Any) -> Any:
    """Evaluate ``eqn`` on concrete (or traced) arguments, as ``jax.core.eval_jaxpr`` does."""
    res = eqn.primitive.get_bind_params(eqn.params)
    if isinstance(res, tuple):  # older JAX: (subfuns, params)
        subfuns, params = res
        return eqn.primitive.bind(*subfuns, *args, **params)
    return eqn.primitive.bind(*args, **res)


def apply_eqn(eqn: JaxprEqn, *args: Any) -> Any:
    """``bind_eqn`` on concrete arguments, through the compiled single-primitive
    executable that JAX's eager dispatch caches (the same executable, without the
    tracing machinery around it). Primitives whose eager implementation is
    something else (calls, custom rules, device transfers) are bound as usual."""
    prim = eqn.primitive
    params = prim.get_bind_params(eqn.params)
    if isinstance(params, tuple) or not _dispatches_by_primitive(prim):
        return bind_eqn(eqn, *args)
    from jax._src import dispatch

    try:
        fun = dispatch.xla_primitive_callable(prim, **params)
    except TypeError:  # unhashable parameters
        return bind_eqn(eqn, *args)
    return fun(*args)


_DISPATCHES: dict[Any, bool] = {}


def _dispatches_by_primitive(prim: Any) -> bool:
    """Whether ``prim``'s eager implementation is JAX's compile-one-primitive dispatch."""
    out = _DISPATCHES.get(prim)
    if out is None:
        from jax._src import dispatch

        impl = getattr(prim, "impl", None)
        out = getattr(impl, "func", None) is dispatch.apply_primitive and getattr(
            impl, "args", ()
        ) == (prim,)
        _DISPATCHES[prim] = out
    return out


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


_PRIMITIVE_MODULES = (
    "jax._src.lax.lax",
    "jax._src.lax.slicing",
    "jax._src.lax.control_flow",
    "jax._src.lax.windowed_reductions",
    "jax._src.lax.convolution",
    "jax._src.lax.linalg",
    "jax._src.lax.fft",
    "jax._src.lax.special",
    "jax._src.lax.parallel",
    "jax._src.callback",
    "jax._src.debugging",
    "jax._src.ad_checkpoint",
    "jax._src.ad_util",
    "jax._src.custom_derivatives",
    "jax._src.pjit",
    "jax._src.prng",
    "jax._src.dispatch",
)


def extra_primitives() -> dict[str, Any]:
    """Primitives real programs emit, found in JAX's own modules, keyed by name.

    ``jax.extend.core.primitives`` does not list all of them (e.g. ``stack``,
    ``tile``, ``optimization_barrier``, ``pure_callback``). Modules that moved
    are skipped; the registry test notices a primitive that went missing.
    """
    import importlib

    from jax.extend.core import Primitive

    found: dict[str, Any] = {}
    for module in _PRIMITIVE_MODULES:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for attr in dir(mod):
            if not attr.endswith("_p"):
                continue
            prim = getattr(mod, attr, None)
            if isinstance(prim, Primitive):
                found.setdefault(prim.name, prim)
    return found


_STATE_PRIMITIVES = {"new_ref", "get", "swap", "addupdate", "freeze", "ref_get", "ref_swap"}


def contains_primitive(jaxpr: Jaxpr, *names: str) -> bool:
    """Whether ``jaxpr`` or any jaxpr nested in its equations uses a primitive named so."""
    return count_primitives(jaxpr, *names, stop_at=1) > 0


def count_primitives(jaxpr: Jaxpr, *names: str, stop_at: int | None = None) -> int:
    """How many equations of ``jaxpr`` and of the jaxprs nested in it apply a
    primitive named so (a nested function called several times counts once);
    counting stops at ``stop_at``."""
    from jax.extend.core import ClosedJaxpr as closed_type
    from jax.extend.core import Jaxpr as jaxpr_type

    wanted = frozenset(names)
    seen: set[int] = set()
    stack = [jaxpr]
    count = 0
    while stack:
        current = stack.pop()
        if id(current) in seen:  # a function called several times is looked at once
            continue
        seen.add(id(current))
        for eqn in current.eqns:
            if eqn.primitive.name in wanted:
                count += 1
                if stop_at is not None and count >= stop_at:
                    return count
            params = eqn.params
            if not params:
                continue
            for val in params.values():
                for v in val if isinstance(val, tuple) else (val,):
                    if isinstance(v, jaxpr_type):
                        stack.append(v)
                    elif isinstance(v, closed_type):
                        stack.append(v.jaxpr)
    return count


def _uses_state(jaxpr: Jaxpr) -> bool:
    return contains_primitive(jaxpr, *_STATE_PRIMITIVES)


def discharge_state(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Rewrite a program with mutable references (``jax.new_ref``) into a pure one.

    Detection propagates values through SSA variables; reference reads and
    writes are turned into ordinary array operations by JAX's own discharge
    pass. Programs without references are returned unchanged.
    """
    if not _uses_state(closed.jaxpr):
        return closed
    from jax._src.state import discharge

    return discharge.discharge_state(closed)


def trace_context() -> Any:
    """The configuration JAX keys its own trace caches on (x64, promotion rules,
    the axis environment, ...): a trace reused under a different one could differ."""
    from jax._src import config as _config

    return _config.trace_context()
