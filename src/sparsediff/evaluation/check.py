"""Verification of prepared derivatives against JAX's own products.

``check_jacobian`` compares ``J @ v`` with ``jax.jvp`` and ``uᵀ J`` with
``jax.vjp`` for random ``u``, ``v``; for small problems it also compares the
whole matrix with ``jax.jacfwd``. A mismatch raises
:class:`VerificationError` naming the worst entry.

Where JAX has no forward mode through ``f`` (``jax.custom_vjp``), the products
are ``uᵀ J`` alone and the dense references ``jax.jacrev`` and
``jax.jacrev(jax.grad(f))``, as the prepared derivative computes them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .prepared import SparseDerivative

__all__ = ["VerificationError", "check_jacobian", "check_hessian"]

#: problems up to this many matrix entries are also compared densely
DENSE_CHECK_LIMIT = 4_000_000


class VerificationError(AssertionError):
    """A sparse derivative disagrees with JAX's dense products."""


def _default_tol(dtype) -> tuple[float, float]:
    return (1e-10, 1e-10) if np.dtype(dtype) == np.float64 else (2e-4, 2e-4)


def _tolerances(dtype, mat, rtol, atol) -> tuple[float, float, float]:
    """Relative and absolute tolerances (defaults by dtype) and the entry scale."""
    d_rtol, d_atol = _default_tol(dtype)
    scale = max(1.0, float(np.abs(mat.data).max(initial=0.0)))
    return (d_rtol if rtol is None else rtol), (d_atol if atol is None else atol), scale


def _values(prepared: SparseDerivative, args, kwargs):
    """The derivative as a scipy CSR matrix at ``args``."""
    import scipy.sparse as sp

    out = prepared._raw(args, prepared.plan.model.kw_dynamic(kwargs))
    res = out[len(out) - 1 if prepared.with_value else 0]
    fmt = prepared.output_format
    if fmt == "dense":
        values = np.asarray(res)[prepared.output_pattern.rows, prepared.output_pattern.cols]
    else:  # every other format: the raw nonzero values, in the pattern's row-major order
        values = prepared.plan.layout.pattern_values(res)
    p = prepared.output_pattern
    return sp.csr_array((values, np.asarray(p.indices), np.asarray(p.indptr)), shape=p.shape)


def _compare(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    err = np.abs(got - want)
    bound = atol + rtol * np.abs(want)
    if got.size and (err > bound).any():
        k = int(np.argmax(err - bound))
        index = tuple(int(i) for i in np.unravel_index(k, got.shape))
        where = str(index[0]) if len(index) == 1 else str(index)
        raise VerificationError(
            f"{name}: entry {where} is {_number(got.reshape(-1)[k])}, "
            f"JAX gives {_number(want.reshape(-1)[k])} (|error| {err.reshape(-1)[k]:.3g} > "
            f"{bound.reshape(-1)[k]:.3g})"
        )


def _number(value: Any) -> str:
    """A NumPy scalar as a plain number (``1.5``, not ``np.float32(1.5)``)."""
    item = np.asarray(value).item()
    if isinstance(item, float):
        return f"{item:.7g}"
    if isinstance(item, complex):
        return f"{item.real:.7g}{item.imag:+.7g}j"
    return str(item)


def check_jacobian(
    f,
    *args: Any,
    prepared: SparseDerivative,
    num_vectors: int = 3,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    **kwargs: Any,
) -> None:
    """Verify ``prepared`` (from :func:`sparsediff.jacobian`) at ``args``.

    Raises:
        VerificationError: with the worst disagreeing entry.
    """
    mat = _values(prepared, args, kwargs)
    g, x = prepared.plan.model.flat_function(f, args, kwargs)
    rtol, atol, scale = _tolerances(x.dtype, mat, rtol, atol)
    rng = np.random.default_rng(seed)
    y, vjp_fn, _ = jax.vjp(g, x, has_aux=True)
    forward = prepared.plan.facts.forward_ok
    for k in range(num_vectors):
        v = rng.normal(size=x.shape).astype(x.dtype)
        if forward:
            jv = np.asarray(jax.jvp(lambda z: g(z)[0], (x,), (jnp.asarray(v),))[1])
            _compare(f"J @ v (vector {k})", mat @ v, jv, rtol, atol * scale * np.sqrt(x.size))
        u = rng.normal(size=y.shape).astype(y.dtype)
        uj = np.asarray(vjp_fn(jnp.asarray(u))[0])
        _compare(f"u @ J (vector {k})", mat.T @ u, uj, rtol, atol * scale * np.sqrt(y.size))
    if mat.shape[0] * mat.shape[1] <= DENSE_CHECK_LIMIT:
        dense = np.asarray((jax.jacfwd if forward else jax.jacrev)(lambda z: g(z)[0])(x))
        _compare("dense Jacobian", mat.toarray(), dense, rtol, atol * scale)


def check_hessian(
    f,
    *args: Any,
    prepared: SparseDerivative,
    num_vectors: int = 3,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    **kwargs: Any,
) -> None:
    """Verify ``prepared`` (from :func:`sparsediff.hessian`) at ``args`` against
    Hessian-vector products (and the dense Hessian for small problems)."""
    mat = _values(prepared, args, kwargs)
    g, x = prepared.plan.model.flat_function(f, args, kwargs)

    def scalar(z):
        return g(z)[0].reshape(())

    if prepared.plan.tri_idx is not None:  # rebuild the full symmetric matrix
        full = mat + mat.T
        full.setdiag(mat.diagonal())
        mat = full
    rtol, atol, scale = _tolerances(x.dtype, mat, rtol, atol)
    rng = np.random.default_rng(seed)
    grad = jax.grad(scalar)
    forward = prepared.plan.facts.forward_ok
    pull = jax.vjp(grad, x)[1] if not forward else None  # one linearisation for all vectors
    for k in range(num_vectors):
        v = rng.normal(size=x.shape).astype(x.dtype)
        if forward:
            hv = np.asarray(jax.jvp(grad, (x,), (jnp.asarray(v),))[1])
            _compare(f"H @ v (vector {k})", mat @ v, hv, rtol, atol * scale * np.sqrt(x.size))
        else:  # reverse over reverse: vᵀ H
            assert pull is not None
            vh = np.asarray(pull(jnp.asarray(v))[0])
            _compare(f"v @ H (vector {k})", mat.T @ v, vh, rtol, atol * scale * np.sqrt(x.size))
    if x.size * x.size <= DENSE_CHECK_LIMIT:
        dense = jax.hessian(scalar) if forward else jax.jacrev(grad)
        _compare("dense Hessian", mat.toarray(), np.asarray(dense(x)), rtol, atol * scale)
