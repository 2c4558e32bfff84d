"""A cheap check of a user's ``sparsity=`` or ``coloring=`` on the first call.

A pattern detected for another function of the same shape would silently drop
entries: compressed AD cannot tell a missing entry from a zero. On the first
concrete call, one random product ``J @ v`` (``H @ v`` for Hessians) from
JAX's own AD is compared with the sparse result times ``v`` (``vᵀ J`` where JAX
has no forward mode through ``f``: ``jax.custom_vjp``); a mismatch raises
a clear error. ``verify=False`` skips it. Only entries where both products are
finite are compared.

A Hessian from a symmetric (star or acyclic) coloring can also differ because
JAX's own "Hessian" of ``f`` is not symmetric: custom derivative rules that
disagree with ``f`` make it so. Before the pattern is blamed, a second product
tests ``u·(H v) = v·(H u)``, and an asymmetric Hessian gets a message of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from ..detection.api import lacks_reverse_mode

if TYPE_CHECKING:
    from .prepared import SparseDerivative

__all__ = ["PatternMismatchError", "verify_user_pattern"]


class PatternMismatchError(ValueError):
    """A user-supplied pattern or coloring does not give ``f``'s derivative.

    Raised on the first call of a derivative prepared with ``sparsity=`` or
    ``coloring=`` (unless ``verify=False``): the pattern misses non-zero entries,
    or a symmetric coloring was given for a Hessian that JAX's own AD makes
    non-symmetric (custom derivative rules that disagree with ``f``).
    """


def _nonzero_values(d: SparseDerivative, raw: Any) -> np.ndarray:
    """The derivative's nonzeros in the output pattern's row-major order."""
    p = d.output_pattern
    if d.output_format == "dense":
        return np.asarray(raw)[np.asarray(p.rows), np.asarray(p.cols)]
    return d.plan.layout.pattern_values(raw)


def verify_user_pattern(d: SparseDerivative, args: tuple, kwargs: dict, raw: Any) -> None:
    model = d.plan.model
    g, x = model.flat_function(d.f, args, kwargs)
    rng = np.random.default_rng(0)
    p = d.output_pattern
    # M v, or vᵀ M where JAX has no forward mode through f (jax.custom_vjp)
    by_rows = not d.plan.facts.forward_ok
    v = rng.standard_normal(p.shape[0] if by_rows else p.shape[1]).astype(x.dtype)
    fn = (
        jax.grad(lambda z: g(z)[0].reshape(()), holomorphic=model.holomorphic)
        if d.kind == "hessian"
        else (lambda z: g(z)[0].reshape(-1))
    )

    def product(w: np.ndarray) -> np.ndarray:
        if by_rows:
            return np.asarray(jax.vjp(fn, x)[1](w.astype(x.dtype))[0])
        return np.asarray(jax.jvp(fn, (x,), (w,))[1])

    try:
        want = product(v)
    except (TypeError, ValueError, NotImplementedError) as err:  # no forward or reverse mode
        if not isinstance(err, TypeError) and not lacks_reverse_mode(err):
            raise
        return
    rows, cols = np.asarray(p.rows), np.asarray(p.cols)
    if by_rows:
        rows, cols = cols, rows
    vals = _nonzero_values(d, raw)
    got = np.zeros(want.shape[0], dtype=np.result_type(vals.dtype, v.dtype))
    np.add.at(got, rows, vals * v[cols])
    if d.plan.tri_idx is not None:  # one triangle: add the mirrored strict part back
        strict = rows != cols
        np.add.at(got, cols[strict], vals[strict] * v[rows[strict]])
    # entries where either product is not finite tell nothing: at a point where the
    # derivative is infinite or NaN (sqrt at 0, eigh of a repeated eigenvalue) the
    # two products meet their infinities along different directions
    finite = np.isfinite(want) & np.isfinite(got)
    want, got = want[finite], got[finite]
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    tol = 1e-3 if np.finfo(np.dtype(vals.dtype)).bits < 64 else 1e-8
    diff = float(np.abs(got - want).max(initial=0.0))
    if diff <= tol * scale:
        return
    if d.mode in ("star", "acyclic"):
        u = rng.standard_normal(v.size).astype(x.dtype)
        gap = _asymmetry(u, v, product(u), product(v), tol)
        if gap is not None:
            raise PatternMismatchError(
                f"JAX's own Hessian of f is not symmetric at this point (u·Hv and v·Hu differ "
                f"by {gap:.3g} for random u, v), so the symmetric ({d.mode}) coloring cannot "
                "recover it. This comes from custom derivative rules (jax.custom_jvp or "
                "jax.custom_vjp) that disagree with f. Pass "
                + (
                    "mode='dense', which reads every entry as jax.jacrev(jax.grad(f)) does"
                    if by_rows
                    else "mode='column' (or a column coloring), which reads every entry as "
                    "jax.hessian does"
                )
                + ", or fix the rules."
            )
    raise PatternMismatchError(
        f"the pattern given with sparsity=/coloring= does not cover f's {d.kind}: the "
        f"sparse product differs from JAX's by {diff:.3g} (scale {scale:.3g}) at a random "
        f"direction, so entries outside the pattern are non-zero. Pass a pattern detected "
        f"for this function (sparsediff.{d.kind}_sparsity), or verify=False to skip this "
        "check."
    )


def _asymmetry(
    u: np.ndarray, v: np.ndarray, hu: np.ndarray, hv: np.ndarray, tol: float
) -> float | None:
    """``|u·(H v) - v·(H u)|`` when it shows that ``H`` is not symmetric (beyond the
    rounding of the two dot products), else ``None``."""
    a, b = u * hv, v * hu
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    gap = abs(float(a.sum() - b.sum()))
    return gap if gap > tol * max(1.0, float(np.abs(a).sum() + np.abs(b).sum())) else None
