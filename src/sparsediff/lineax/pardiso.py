"""oneMKL Pardiso backend of :class:`sparsediff.lineax.SparseLU` (``pardiso-mkl-jax``).

Pardiso is a supernodal, multithreaded sparse LU. On the matrices of 2D PDEs it
factorises far faster than KLU, which has no dense (BLAS) kernels (measured by
``python -m benchmarks.solvers --parts diffrax``; figures in
``benchmarks/results.md``).

How it is used here:

* the analysis (fill-reducing ordering, symbolic factorisation) depends on the
  pattern only: scaling and weighted matching, the two value-dependent parts of
  Pardiso's analysis, are switched off, and the analysis is run on a matrix of
  ones. ``pardiso-mkl-jax`` caches it by content, so a Newton or ODE loop
  analyses once and factorises once per new matrix;
* the numeric factorisation runs in the solver's ``init``; each solve reuses
  it (its token is threaded as data, so XLA orders factorisation before solve);
* Pardiso pivots within supernodes and perturbs tiny pivots (static pivoting)
  instead of partial pivoting across the whole matrix. Every solve therefore
  checks its residual, and a solve whose backward error exceeds
  :data:`BACKWARD_ERROR_MAX` is redone by KLU (partial pivoting): a fast answer
  or a correct one, never a silently inaccurate one;
* under ``jax.vmap`` over the matrix values, every solve factorises its own
  matrix (Pardiso's combined factor-and-solve phase), as the stored
  factorisation is per matrix.
"""

from __future__ import annotations

import functools
import importlib

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["available", "factor", "solve", "BACKWARD_ERROR_MAX"]

#: a solve whose ``max|b - A x| / (‖A‖∞ max|x| + max|b|)`` exceeds this is redone by KLU
BACKWARD_ERROR_MAX = 1e-10


@functools.cache
def _module():
    """``(primitive module, matrix type, options)``, or None where the package is missing."""
    try:
        pm = importlib.import_module("pardiso_mkl_jax")
        pr = importlib.import_module("pardiso_mkl_jax.primitive")
    except Exception:  # noqa: BLE001 - missing package or MKL that fails to load
        return None
    options = {pm.PardisoOption.SCALING: 0, pm.PardisoOption.WEIGHTED_MATCHING: 0}
    return pr, pm.MatrixType.REAL_NONSYMMETRIC, options


def available() -> bool:
    """Whether ``pardiso-mkl-jax`` (and MKL) can be loaded."""
    return _module() is not None


def _analysis(indptr, indices, nnz: int):
    """The pattern's analysis token (content-addressed: computed once per pattern)."""
    pr, mtype, options = _module()
    ones = jnp.ones(nnz, jnp.float64)
    token, _ = pr.analyze(indptr, indices, ones, matrix_type=mtype, options=options)
    return token


def _witness(x) -> jax.Array:
    """A zero that depends on ``x`` (``0.0 * x`` is not folded: NaN stays NaN)."""
    return (0.0 * jnp.ravel(x)[0]).astype(jnp.uint64)


@jax.custom_batching.custom_vmap
def _factor(indptr, indices, values):
    pr, mtype, options = _module()
    token = _analysis(indptr, indices, values.shape[-1])
    # phase 23 (factorise, then solve a zero right-hand side) keeps the analysis
    # under its token and stores the factorisation with it; the returned id
    # depends on that call, so the solves that read it run after it
    zero = jnp.zeros((1, indptr.shape[0] - 1), jnp.float64)
    x, _, _ = pr.factor_and_solve_stateful(
        token, indptr, indices, values, zero, matrix_type=mtype, options=options
    )
    return token.id + _witness(x)


@_factor.def_vmap
def _factor_vmap(axis_size, in_batched, indptr, indices, values):
    del axis_size
    if in_batched[0] or in_batched[1]:
        raise NotImplementedError("SparseLU (Pardiso): one sparsity pattern per batch")
    # one matrix per batch element: every solve factorises its own (see solve_vmap)
    return _analysis(indptr, indices, values.shape[-1]).id, False


def factor(indptr, indices, values) -> jax.Array:
    """Numeric factorisation of the CSR matrix; returns the id its solves take."""
    return _factor(indptr, indices, values)


@functools.cache
def _solver(transpose: bool):
    pr, mtype, options = _module()

    def call(phase, token_id, indptr, indices, values, rhs):
        """``phase`` (solve, or factorise and solve) on right-hand sides ``(k, n)``."""
        token = pr.FactorizationToken(token_id, jnp.zeros((), jnp.int32))
        x, _, _ = phase(
            token,
            indptr,
            indices,
            values,
            rhs,
            matrix_type=mtype,
            transpose=transpose,
            options=options,
        )
        return x

    @jax.custom_batching.custom_vmap
    def solve_one(token_id, indptr, indices, values, b):
        return call(pr.solve_stateful, token_id, indptr, indices, values, b[None, :])[0]

    @solve_one.def_vmap
    def solve_vmap(axis_size, in_batched, token_id, indptr, indices, values, b):
        tok_b, ip_b, ix_b, val_b, b_b = in_batched
        if tok_b or ip_b or ix_b:
            raise NotImplementedError("SparseLU (Pardiso): one sparsity pattern per batch")
        if not b_b:
            b = jnp.broadcast_to(b, (axis_size, *b.shape))
        if not val_b:  # one factorisation, many right-hand sides
            return call(pr.solve_stateful, token_id, indptr, indices, values, b), True

        def refactor_solve(v, rhs):
            phase = pr.factor_and_solve_stateful
            return call(phase, token_id, indptr, indices, v, rhs[None, :])[0]

        return jax.vmap(refactor_solve)(values, b), True

    return solve_one


def solve(token_id, indptr, indices, rows, cols, values, b, transpose: bool) -> jax.Array:
    """``A x = b`` (or ``Aᵀ x = b``) with the factorisation of :func:`factor`.

    ``indptr``/``indices`` (CSR) and ``rows``/``cols`` (COO, the same order)
    describe ``A``; the residual check falls back to KLU (see the module
    documentation).
    """
    n = b.shape[0]
    x = _solver(bool(transpose))(token_id, indptr, indices, values, b)
    out_idx, in_idx = (cols, rows) if transpose else (rows, cols)
    residual = b - jax.ops.segment_sum(values * x[in_idx], out_idx, n)
    norm_a = jnp.max(jax.ops.segment_sum(jnp.abs(values), out_idx, n))
    scale = norm_a * jnp.max(jnp.abs(x)) + jnp.max(jnp.abs(b))
    err = jnp.max(jnp.abs(residual))
    ok = jnp.isfinite(err) & (err <= BACKWARD_ERROR_MAX * scale)

    def klu(_):
        import sparsax

        return sparsax.lu_solve(out_idx, in_idx, values, b)

    return lax.cond(ok, lambda _: x, klu, None)
