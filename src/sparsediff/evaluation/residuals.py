"""Residuals of a linearisation, computed once for all the products.

The compressed products (:mod:`.products`) share one linearisation of ``f``: its
residuals (``cos(x)`` for a ``sin(x)``, ``exp(x)`` for an ``exp(x)``, ...) are
values of the primal computation that every product reads. XLA fuses the
producer of a residual into the loop of each consumer and so computes a
transcendental function once per product and element instead of once per
element: with several products that is most of the evaluation's time (the
LUKVLE1 Hessian with 10^3 variables and three colors: 180 µs, against 85 µs with
the residuals kept; the cart-pole Jacobian, six colors: 290 against 210 µs, on
the 2-core benchmark machine).

:func:`linearized` keeps those residuals materialised behind an optimization
barrier, and each transcendental function of the linearisation's top level as
well: XLA would otherwise fuse ``sin(theta)`` into each residual that is computed
from it (thirteen in the cart-pole Jacobian). XLA honours the barrier on the CPU
only when its pass :data:`~sparsediff.detection.compat.BARRIER_EXPANDER` is off,
which :data:`COMPILER_OPTIONS` asks for in the compilation of the evaluation. JAX
takes compiler options only from the outermost ``jax.jit``, so an evaluation traced
into a caller's jit keeps nothing: there XLA would drop the barriers, and a
vmapped program whose barriers XLA dropped was found to compute wrong values (fuzz
campaign 4242, program 458, a regression test).

Kept only where it paid in measurements: ``f`` applies transcendental functions
in at least :data:`KEEP_MIN_TRANSCENDENTALS` places (a single ``tanh`` after a
convolution, nine colors, was 5-20% slower with its residual kept at 128^2 and
256^2 pixels: XLA computes it once there already), there are at least
:data:`KEEP_MIN_PRODUCTS` products in one batch, and the kept residuals take at
most :data:`KEEP_MAX_BYTES` (LUKVLE1's Jacobian with 10^6 variables, 8 MB a
residual, went from 31 to 37 ms with them kept; its Hessian from 80 to 57 ms).
With two products (the cart-pole Hessian) keeping paid only once the
transcendentals were computed once too: 1.48 against 1.20 ms at N = 16,000,
parity at N = 1,000.

Measured on the 2-core machine, each call waiting for its result (interleaved,
median of per-round bests, µs), plain / residuals kept / kept with each
transcendental once:

- cart-pole Jacobian, N = 1,000: 257 / 152 / 184
- cart-pole Jacobian, N = 16,000: 2,493 / 1,917 / 1,373
- cart-pole Hessian, N = 1,000: 260 / 291 / 238
- cart-pole Hessian, N = 16,000: 1,478 / 1,976 / 1,202
- LUKVLE1 Hessian, n = 1,000: 247 / 153 / 144
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.extend.core import jaxpr_as_fun

from ..detection import compat

__all__ = [
    "TRANSCENDENTAL",
    "KEEP_MIN_TRANSCENDENTALS",
    "KEEP_MIN_PRODUCTS",
    "KEEP_MAX_BYTES",
    "COMPILER_OPTIONS",
    "keeps",
    "linearized",
]

#: primitives whose values are worth computing once (transcendental functions)
TRANSCENDENTAL = (
    "exp", "exp2", "log", "log1p", "expm1", "sin", "cos", "tan", "asin", "acos", "atan",
    "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "logistic", "pow", "erf",
    "erfc", "erf_inv", "lgamma", "digamma", "igamma", "igammac", "bessel_i0e", "bessel_i1e",
    "cbrt", "polygamma", "zeta", "random_gamma_grad",
)  # fmt: skip

#: residuals are kept when ``f`` applies transcendental functions in this many places
KEEP_MIN_TRANSCENDENTALS = 2
#: ... for a batch of at least this many products
KEEP_MIN_PRODUCTS = 2
#: ... and when the kept residuals take at most this many bytes in all
KEEP_MAX_BYTES = 16 << 20
#: how the evaluation is compiled when it keeps residuals
COMPILER_OPTIONS = {"xla_disable_hlo_passes": compat.BARRIER_EXPANDER}


def keeps(transcendentals: int, products: int, chunk_size: int | None, split: bool) -> bool:
    """Whether a batch of ``products`` products keeps the residuals of ``f``, whose
    program applies ``transcendentals`` transcendental functions. Not for chunked
    batches (``jax.lax.map``) or ones split over devices (``split``)."""
    if transcendentals < KEEP_MIN_TRANSCENDENTALS or split or products < KEEP_MIN_PRODUCTS:
        return False
    return chunk_size is None or chunk_size >= products


def linearized(build: Callable[[Any], tuple], x: Any, keep: bool) -> tuple:
    """``build(x)``: a linearisation ``(values, linear function, aux)``; with
    ``keep``, the linear function's residuals that are computed with a
    transcendental function come out of an optimization barrier (computed once).

    ``build`` is traced once either way: its program is read for the residuals'
    origin and then evaluated in the caller's trace.
    """
    if not keep:
        return build(x)
    shapes: list = []

    def flat(z):
        parts = [jax.tree_util.tree_flatten(part) for part in build(z)]
        shapes.append(parts)
        return [leaf for leaves, _ in parts for leaf in leaves]

    closed = jax.make_jaxpr(flat)(x)
    parts = shapes[0]
    uses = compat.outputs_using(closed.jaxpr, *TRANSCENDENTAL)
    first = len(parts[0][0])  # the linear function's leaves follow the values'
    picked = [i for i in range(first, first + len(parts[1][0])) if uses[i]]
    avals = closed.out_avals
    size = sum(avals[i].size * avals[i].dtype.itemsize for i in picked)
    if not picked or size > KEEP_MAX_BYTES:
        leaves = list(jaxpr_as_fun(closed)(x))
    else:
        leaves = _evaluate_once(closed, x)
        kept = jax.lax.optimization_barrier([leaves[i] for i in picked])
        for i, value in zip(picked, kept, strict=True):
            leaves[i] = value
    out, start = [], 0
    for part_leaves, tree in parts:
        out.append(jax.tree_util.tree_unflatten(tree, leaves[start : start + len(part_leaves)]))
        start += len(part_leaves)
    return tuple(out)


def _evaluate_once(closed: Any, x: Any) -> list:
    """``closed``'s outputs at ``x``, each transcendental function of its top level
    computed once: its result comes out of an optimization barrier. Without one,
    XLA fuses ``sin(theta)`` into the loop of every residual that reads it and so
    computes it once per residual (the cart-pole Jacobian: 13 residuals from one
    ``sin`` and one ``cos``). Nested programs are evaluated as they are."""
    env: dict[Any, Any] = dict(zip(closed.jaxpr.constvars, closed.consts, strict=True))
    env.update(zip(closed.jaxpr.invars, [x], strict=True))

    def read(v: Any) -> Any:
        return compat.literal_value(v) if isinstance(v, compat.Literal) else env[v]

    for eqn in closed.jaxpr.eqns:
        out = compat.bind_eqn(eqn, *map(read, eqn.invars))
        if eqn.primitive.name in _ONCE:
            out = jax.lax.optimization_barrier(out)
        outs = out if eqn.primitive.multiple_results else [out]
        env.update(zip(eqn.outvars, outs, strict=True))
    return [read(v) for v in closed.jaxpr.outvars]


_ONCE = frozenset(TRANSCENDENTAL)
