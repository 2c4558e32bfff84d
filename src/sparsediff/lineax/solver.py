"""The sparse LU solver for lineax (see :mod:`sparsediff.lineax`): KLU or Pardiso."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import lineax as lx

from . import pardiso
from .operator import (
    Prepared,
    Static,
    operator_values,
    prepare,
    ravel,
    unravel,
    wide,
)

__all__ = ["SparseLU", "BACKENDS"]

BACKENDS = ("auto", "klu", "pardiso")


def sparsax_module():
    try:
        import sparsax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'SparseLU solves with sparsax (KLU): pip install "sparsediff[lineax]"'
        ) from err
    return sparsax


class SparseLU(lx.AbstractLinearSolver):
    """Sparse LU of a colored, compressed operator matrix.

    ``backend``: ``"klu"`` (KLU through sparsax, partial pivoting), ``"pardiso"``
    (oneMKL Pardiso through ``pardiso-mkl-jax``, ``pip install
    "sparsediff[pardiso]"``: supernodal and multithreaded, many times faster on
    the matrices of 2D and 3D PDEs, static pivoting with a residual check that
    hands inaccurate solves to KLU, see :mod:`sparsediff._pardiso`) or
    ``"auto"`` (the default: Pardiso where it is installed, the operator has at
    least :data:`PARDISO_MIN_SIZE` unknowns and its bandwidth after a reverse
    Cuthill–McKee ordering is at least :data:`PARDISO_MIN_BANDWIDTH`, else KLU).
    Pardiso factorises matrices with much fill (2D and 3D PDEs) far faster, but
    each of its solves costs more than KLU's and it is slower on nearly banded
    matrices: in diffrax's Kvaerno5 on the 2D Brusselator (one factorisation and
    about 20 solves per step) KLU is faster on the smallest grid and Pardiso on
    the larger ones, and KLU is faster on the tridiagonal Broyden system (Newton);
    ``python -m benchmarks.solvers --parts diffrax newton`` measures both backends,
    its figures are in ``benchmarks/results.md``.

    Square operators are factorised directly. Tall ones (more outputs than
    inputs, as the damped systems of Levenberg–Marquardt) are solved in the
    least-squares sense through the normal equations ``AᵀA x = Aᵀb``, and wide
    ones in the least-norm sense (``x = Aᵀ (AAᵀ)⁻¹ b``), as lineax defines
    solves of non-square operators; the pattern of the product and the pairing
    of nonzeros behind it are computed once. The normal equations square the
    condition number: fine for damped or well-conditioned systems. See the
    module documentation.
    """

    backend: str = "auto"

    def __check_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(
                f"SparseLU: unknown backend {self.backend!r}; choose one of {BACKENDS}"
            )

    def _use_pardiso(self, prep: Prepared) -> bool:
        if self.backend == "klu":
            return False
        if self.backend == "auto" and not wide(prep.pattern.shape[0], prep.bandwidth):
            return False
        if pardiso.available():
            return True
        if self.backend == "pardiso":
            raise ImportError(
                'SparseLU(backend="pardiso") needs pardiso-mkl-jax: '
                'pip install "sparsediff[pardiso]"'
            )
        return False

    def init(self, operator, options: dict[str, Any]):
        del options
        m, n = operator.out_size(), operator.in_size()
        if not jax.config.read("jax_enable_x64"):
            raise RuntimeError(
                "SparseLU factorises in float64 (sparsax/KLU): enable it with "
                'jax.config.update("jax_enable_x64", True)'
            )
        sparsax_module()
        prep, converted, consts = prepare(operator)
        values = operator_values(prep, converted, consts).astype(jnp.float64)
        out_struct, in_struct = operator.out_structure(), operator.in_structure()
        if prep.normal is None:
            rows, cols = jnp.asarray(prep.rows), jnp.asarray(prep.cols)
            if prep.pattern.nnz and self._use_pardiso(prep):
                # (CSR row pointers, factorisation token); rows and cols stay A's
                indptr = jnp.asarray(prep.pattern.indptr, jnp.int32)
                lu = (indptr, pardiso.factor(indptr, cols, values))
                static = (in_struct, out_struct, m, n, False)
                return (rows, cols, values, lu, Static(static + ("pardiso",)))
            static = (in_struct, out_struct, m, n, False)
            return (rows, cols, values, None, Static(static))
        t_rows, t_cols, perm, ata_rows, ata_cols, p, q, dest = (jnp.asarray(a) for a in prep.normal)
        if m < n:  # wide: store its transpose A (tall); solving with it is A's transposed solve
            values = values[perm]
            static = (out_struct, in_struct, n, m, True)
        else:
            static = (in_struct, out_struct, m, n, False)
        ata_values = jax.ops.segment_sum(values[p] * values[q], dest, ata_rows.size)
        return (t_rows, t_cols, values, (ata_rows, ata_cols, ata_values), Static(static))

    def compute(self, state, vector, options: dict[str, Any]):
        del options
        rows, cols, values, normal, static = state
        a_in, a_out, m, n, transposed = static.value[:5]
        b = ravel(vector).astype(jnp.float64)
        if static.value[-1] == "pardiso":
            indptr, token = normal
            x = pardiso.solve(token, indptr, cols, rows, cols, values, b, transposed)
            return unravel(x, a_out if transposed else a_in), lx.RESULTS.successful, {}
        lu_solve = sparsax_module().lu_solve
        if normal is None:
            x = lu_solve(rows, cols, values, b)
        elif not transposed:  # least squares with tall A: (AᵀA) x = Aᵀ b
            atb = jax.ops.segment_sum(values * b[rows], cols, n)
            x = lu_solve(*normal, atb)
        else:  # least norm of Aᵀ y = b: y = A (AᵀA)⁻¹ b
            z = lu_solve(*normal, b)
            x = jax.ops.segment_sum(values * z[cols], rows, m)
        return unravel(x, a_out if transposed else a_in), lx.RESULTS.successful, {}

    def transpose(self, state, options: dict[str, Any]):
        rows, cols, values, normal, static = state
        a_in, a_out, m, n, transposed = static.value[:5]
        if static.value[-1] == "pardiso":  # the same factorisation, solved transposed
            flipped = (a_in, a_out, m, n, not transposed, "pardiso")
            return (rows, cols, values, normal, Static(flipped)), {}
        if normal is None:  # square: the transposed matrix
            return (cols, rows, values, None, Static((a_out, a_in, n, m, False))), {}
        return (rows, cols, values, normal, Static((a_in, a_out, m, n, not transposed))), {}

    def conj(self, state, options: dict[str, Any]):
        rows, cols, values, normal, static = state
        if static.value[-1] == "pardiso":  # real matrices only (float64)
            return state, {}
        if normal is not None:
            normal = (normal[0], normal[1], jnp.conj(normal[2]))
        return (rows, cols, jnp.conj(values), normal, static), {}

    def assume_full_rank(self) -> bool:
        return True
