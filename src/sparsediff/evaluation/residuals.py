"""Transcendental functions of a linearisation, computed once for all the products.

The compressed products (:mod:`.products`) share one linearisation of ``f``. Its
residuals (``cos(x)`` for a ``sin(x)``, ``exp(x)`` for an ``exp(x)``, ...) and the
values computed from them are read by every product, and XLA fuses the producer
of such a value into the loop of each consumer: it then computes a
transcendental function once per product, and once per residual read from it,
instead of once per element. With several products that is most of the
evaluation's time.

:func:`linearized` computes each transcendental function of the linearisation's
top level inside a ``lax.cond`` whose two branches are that function: XLA does
not fuse across a conditional, so its value is computed once and read by the
consumers. The predicate (``x[0] == x[0]``) is opaque to XLA and either branch
gives the same value, so nothing depends on it. Unlike an optimization barrier,
which XLA's CPU pipeline removes before fusion unless the compilation turns that
pass off (an option JAX takes only from the outermost ``jax.jit``), the
conditional holds inside a caller's ``jax.jit`` too. Under ``jax.vmap`` the
predicate is batched and the conditional becomes a select of two equal values,
which XLA folds: the values stay right, the saving is lost.

Kept only where it paid in measurements: ``f`` applies transcendental functions
in at least :data:`KEEP_MIN_TRANSCENDENTALS` places (a single ``tanh`` after a
convolution, nine colors, was 5-20% slower with its value kept at 128^2 and 256^2
pixels: XLA computes it once there already), there are at least
:data:`KEEP_MIN_PRODUCTS` products in one batch, and the kept values take at most
:data:`KEEP_MAX_BYTES` (an earlier form that kept residuals behind barriers made
LUKVLE1's Jacobian with 10^6 variables slower, 31 against 37 ms, with 8 MB a
value).

Measured on the 2-core machine (float64 where named NLP problems, float32 for the
arrowhead; each call waiting for its result; interleaved, median of per-round
bests, µs): plain / residuals behind barriers, with options / conditionals, each
called directly and inside a caller's ``jax.jit``:

- cart-pole Jacobian, N = 1,000: 258 / 217 / 188; in a jit 242 / 242 / 174
- cart-pole Jacobian, N = 16,000: 2,632 / 1,496 / 1,462; in a jit 2,627 / 2,596 / 1,461
- cart-pole Hessian, N = 16,000: 1,598 / 1,390 / 1,306; in a jit 1,412 / 1,343 / 1,118
- LUKVLE1 Hessian, n = 1,000: 235 / 125 / 122; in a jit 162 / 161 / 62
- arrowhead Hessian, n = 10^6: 7,864 / 5,738 / 5,802; in a jit 8,021 / 8,099 / 5,701
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

#: values are kept when ``f`` applies transcendental functions in this many places
KEEP_MIN_TRANSCENDENTALS = 2
#: ... for a batch of at least this many products
KEEP_MIN_PRODUCTS = 2
#: ... and when the kept values take at most this many bytes in all
KEEP_MAX_BYTES = 16 << 20

_ONCE = frozenset(TRANSCENDENTAL)


def keeps(transcendentals: int, products: int, chunk_size: int | None, split: bool) -> bool:
    """Whether a batch of ``products`` products keeps the transcendental values of
    ``f``, whose program applies ``transcendentals`` transcendental functions. Not
    for chunked batches (``jax.lax.map``) or ones split over devices (``split``)."""
    if transcendentals < KEEP_MIN_TRANSCENDENTALS or split or products < KEEP_MIN_PRODUCTS:
        return False
    return chunk_size is None or chunk_size >= products


def linearized(build: Callable[[Any], tuple], x: Any, keep: bool) -> tuple:
    """``build(x)``: a linearisation ``(values, linear function, aux)``; with
    ``keep``, each transcendental function of its top level computed once (inside
    a conditional, see the module docstring).

    ``build`` is traced once either way: its program is read and then evaluated
    in the caller's trace.
    """
    if not keep or x.size == 0:
        return build(x)
    shapes: list = []

    def flat(z):
        parts = [jax.tree_util.tree_flatten(part) for part in build(z)]
        shapes.append(parts)
        return [leaf for leaves, _ in parts for leaf in leaves]

    closed = jax.make_jaxpr(flat)(x)
    once = [e for e in closed.jaxpr.eqns if e.primitive.name in _ONCE]
    size = sum(v.aval.size * v.aval.dtype.itemsize for e in once for v in e.outvars)
    if not once or size > KEEP_MAX_BYTES:
        leaves = list(jaxpr_as_fun(closed)(x))
    else:
        leaves = _evaluate_once(closed, x)
    out, start = [], 0
    for part_leaves, tree in shapes[0]:
        out.append(jax.tree_util.tree_unflatten(tree, leaves[start : start + len(part_leaves)]))
        start += len(part_leaves)
    return tuple(out)


def _evaluate_once(closed: Any, x: Any) -> list:
    """``closed``'s outputs at ``x``, each transcendental function of its top level
    computed inside a conditional on ``x[0] == x[0]`` whose branches both apply
    it. Nested programs are evaluated as they are."""
    env: dict[Any, Any] = dict(zip(closed.jaxpr.constvars, closed.consts, strict=True))
    env.update(zip(closed.jaxpr.invars, [x], strict=True))
    key = x.ravel()[0]
    pred = key == key  # False only for NaN, where the other branch is the same

    def read(v: Any) -> Any:
        return compat.literal_value(v) if isinstance(v, compat.Literal) else env[v]

    for eqn in closed.jaxpr.eqns:
        args = [read(v) for v in eqn.invars]
        if eqn.primitive.name in _ONCE:
            branch = _applying(eqn)
            out = jax.lax.cond(pred, branch, branch, *args)
        else:
            out = compat.bind_eqn(eqn, *args)
        outs = out if eqn.primitive.multiple_results else [out]
        env.update(zip(eqn.outvars, outs, strict=True))
    return [read(v) for v in closed.jaxpr.outvars]


def _applying(eqn: Any) -> Callable:
    return lambda *args: compat.bind_eqn(eqn, *args)
