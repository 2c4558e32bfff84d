"""Correctness checks of the benchmarks against JAX's own AD, at every size.

Where the dense derivative fits in memory (``m * n`` elements up to a limit), it is computed
with ``jax.jacfwd`` / ``jax.hessian`` and compared in full.  Above that, random *probes* stand
in for it: products of the derivative with a few vectors, computed with ``jax.jvp`` (for
Hessians a Hessian-vector product, forward over ``jax.grad``), one product at a time.

* :func:`pattern_missing` checks a detected sparsity pattern: every nonzero of the numeric
  derivative at a random point must be in the pattern.  The probes are unit vectors ``e_j``
  of a few random columns ``j`` (plus the first and the last), so each probed column is
  checked entry by entry.
* :func:`product_error` checks a computed sparse derivative ``M``: ``M @ v`` against the JVP
  (HVP) ``J v`` for a few random normal ``v``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DENSE_CHECK_ELEMENTS", "PROBES", "pattern_missing", "product_error"]

#: the dense derivative is computed for the checks up to this many elements (100 MB float32)
DENSE_CHECK_ELEMENTS = 25 * 10**6
#: number of random probe vectors (random columns for patterns, random vectors for products)
PROBES = 4


def _product(fn: Callable, kind: str) -> Callable:
    """``(x, t) -> J t`` (``H t`` for ``kind == "hessian"``), flat, jitted."""
    inner = jax.grad(fn) if kind == "hessian" else fn

    @jax.jit
    def prod(x, t):
        return jnp.ravel(jax.jvp(inner, (x,), (t,))[1])

    return prod


def _dense(fn: Callable, kind: str, x: Any, n: int) -> np.ndarray:
    mat = (jax.hessian(fn) if kind == "hessian" else jax.jacfwd(fn))(x)
    return np.asarray(mat).reshape(-1, n)


def pattern_missing(
    fn: Callable,
    kind: str,
    x: Any,
    rows: Any,
    cols: Any,
    m: int,
    *,
    dense_limit: float = DENSE_CHECK_ELEMENTS,
    probes: int = PROBES,
    seed: int = 0,
) -> dict[str, Any]:
    """Nonzeros of the derivative of ``fn`` at ``x`` missing from the pattern ``(rows, cols)``.

    Returns ``{"check": "dense" | "probe", "columns": number checked, "missing": count,
    "example": (row, col) of a missing entry or None}``.
    """
    x = jnp.asarray(x)
    n = int(x.size)
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    if float(m) * n <= dense_limit:
        found_r, found_c = np.nonzero(_dense(fn, kind, x, n))
        check, probed = "dense", n
        pat = r * n + c
    else:
        rng = np.random.default_rng(seed)
        picked = {0, n - 1, *rng.choice(n, size=min(probes, n), replace=False).tolist()}
        picked_cols = np.array(sorted(picked), dtype=np.int64)
        prod = _product(fn, kind)
        found = []
        for j in picked_cols:
            e = jnp.zeros(n, x.dtype).at[j].set(1).reshape(x.shape)
            found.append(np.flatnonzero(np.asarray(prod(x, e))))
        found_r = np.concatenate(found)
        found_c = np.repeat(picked_cols, [f.size for f in found])
        check, probed = "probe", picked_cols.size
        keep = np.isin(c, picked_cols)
        pat = r[keep] * n + c[keep]
    numeric = np.asarray(found_r, dtype=np.int64) * n + np.asarray(found_c, dtype=np.int64)
    missing = np.setdiff1d(numeric, pat)
    example = None if missing.size == 0 else tuple(int(v) for v in divmod(int(missing[0]), n))
    return {
        "check": check,
        "columns": int(probed),
        "missing": int(missing.size),
        "example": example,
    }


def product_error(
    matrix: Any, fn: Callable, kind: str, x: Any, *, probes: int = PROBES, seed: int = 0
) -> float:
    """``max |M v - J v| / max |J v|`` over ``probes`` random normal ``v`` (``H v`` for Hessians).

    ``matrix`` is the computed derivative as a flat ``(m, n)`` matrix: a BCOO array or anything
    with ``@``.
    """
    x = jnp.asarray(x)
    prod = _product(fn, kind)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(probes):
        v = rng.standard_normal(x.size).astype(x.dtype)
        ref = np.asarray(prod(x, jnp.asarray(v).reshape(x.shape)), dtype=np.float64)
        got = np.asarray(matrix @ jnp.asarray(v), dtype=np.float64).ravel()
        if got.shape != ref.shape:
            return float("nan")
        scale = max(float(np.max(np.abs(ref), initial=0.0)), 1e-30)
        err = float(np.max(np.abs(got - ref), initial=0.0)) / scale
        if not np.isfinite(err):
            return float("nan")
        worst = max(worst, err)
    return worst
