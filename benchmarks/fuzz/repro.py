"""Standalone Python source reproducing a failure of a (shrunk) program."""

from __future__ import annotations

import numpy as np

from .check import Outcome
from .oracle import POINT_KINDS, points
from .program import Program, literal

__all__ = ["repro_source"]


def _value_src(x) -> str:
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_value_src(v)}" for k, v in x.items()) + "}"
    return f"jnp.asarray({literal(np.asarray(x, np.float32))})"


def repro_source(p: Program, outcome: Outcome | None = None) -> str:
    """``p``'s source followed by the arguments at the failing point and the check."""
    k = 0 if outcome is None or outcome.point is None else outcome.point
    args, kwargs = points(p)[k]
    lines = [p.source().rstrip(), "", "",
             f"# arguments at the oracle's point {k} ({POINT_KINDS[k]!r})"]  # fmt: skip
    lines.append("args = (" + "".join(_value_src(a) + ", " for a in args) + ")")
    kw = ", ".join(
        f"{name}={_value_src(v) if name == 'w' else repr(v)}" for name, v in kwargs.items()
    )
    lines.append(f"kwargs = dict({kw})")
    lines.append(f"argnums = {p.argnums!r}")
    lines.append(f"has_aux = {p.has_aux!r}")
    kind = "hessian" if p.hessian else "jacobian"
    dense = (
        "jax.hessian  # jax.jacfwd(jax.jacfwd) through while_loop"
        if p.hessian
        else "jax.jacfwd  # jax.jacrev through custom_vjp"
    )
    out = "jnp.reshape(out, ())" if p.hessian else "ravel_pytree(out)[0]"
    lines += [
        "",
        "import sparsediff as sd",
        "from jax.flatten_util import ravel_pytree",
        "",
        "sel = (argnums,) if isinstance(argnums, int) else argnums",
        "x, unravel = ravel_pytree(tuple(args[i] for i in sel))",
        "",
        "",
        "def g(x):",
        "    full = list(args)",
        "    for i, v in zip(sel, unravel(x)):",
        "        full[i] = v",
        "    out = f(*full, **kwargs)",
        "    out = out[0] if has_aux else out",
        f"    return {out}",
        "",
        "",
        f"pattern = sd.{kind}_sparsity(f, *args, argnums=argnums, has_aux=has_aux, "
        "**kwargs).todense()",
        f"derivative = {dense}",
        "dense = np.asarray(derivative(g)(x))",
        "print('missing entries:', np.argwhere((dense != 0) & ~np.isnan(dense) & ~pattern))",
        f"values = sd.{kind}(f, *args, argnums=argnums, has_aux=has_aux, output_format='dense', "
        "**kwargs)",
        "got = values(*args, **kwargs)",
        "got = got[0] if has_aux else got",
        "print('max value error:', np.nanmax(np.abs(np.asarray(got) - dense)))",
    ]
    if outcome is not None:
        lines.insert(0, f"# fuzz seed {p.seed}: {outcome.kind.upper()}: {outcome.detail}")
    return "\n".join(lines) + "\n"
