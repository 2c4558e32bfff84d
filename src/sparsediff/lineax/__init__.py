"""A sparse direct linear solver for lineax, optimistix and diffrax.

:class:`SparseLU` is a ``lineax.AbstractLinearSolver``. Given the linear
operator a Newton-type method hands it (a ``JacobianLinearOperator``, a
``FunctionLinearOperator`` from ``jax.linearize``, ``I - γ J`` from an implicit
ODE step, or any other lineax operator with a matrix-vector product), it

1. detects the sparsity pattern of the operator's matrix-vector product with
   respect to its input (the operator's own numbers, every floating-point or
   traced constant of that product, are made arguments first, so the pattern
   is valid at every linearisation point, not only at the one traced; constant
   integer arrays such as indices stay known and are part of the cache key);
2. colors its columns (cached: detection and coloring run once per operator
   computation and structure, whatever the numbers);
3. computes the matrix's nonzeros with one matrix-vector product per color
   (products of a linear map are its JVPs), inside the caller's ``jax.jit``;
4. solves with a sparse LU factorisation that runs inside ``jax.jit`` on CPU as
   an XLA custom call (no host callback): KLU through ``sparsax``, or, for large
   operators where ``pardiso-mkl-jax`` is installed, oneMKL Pardiso
   (``SparseLU(backend=...)``); both analyse each pattern once.

Transposed solves (needed to differentiate through a solve in reverse mode)
swap the pattern's rows and columns: same values, no new detection.

Requirements: ``pip install "sparsediff[lineax]"`` (lineax and sparsax), and
``"sparsediff[pardiso]"`` for the Pardiso backend (MKL, x86-64); both work in
float64, so ``jax_enable_x64`` must be on.

Usage::

    solver = sparsediff.lineax.SparseLU()
    optimistix.root_find(fn, optimistix.Newton(rtol, atol, linear_solver=solver), y0)
    diffrax.Kvaerno5(root_finder=diffrax.VeryChord(rtol, atol, linear_solver=solver))
"""

from __future__ import annotations

try:
    import lineax as _lineax  # noqa: F401  (a clear message when it is missing)
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'sparsediff.lineax needs lineax and sparsax: pip install "sparsediff[lineax]"'
    ) from err

from .operator import (
    PARDISO_MIN_BANDWIDTH,
    PARDISO_MIN_SIZE,
    auto_picks_pardiso,
    clear_cache,
    sparse_matrix,
)
from .solver import SparseLU

__all__ = [
    "SparseLU",
    "sparse_matrix",
    "clear_cache",
    "PARDISO_MIN_SIZE",
    "PARDISO_MIN_BANDWIDTH",
    "auto_picks_pardiso",
]
