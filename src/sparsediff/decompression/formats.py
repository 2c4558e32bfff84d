"""Output formats of a sparse derivative, built from its nonzero values.

Values arrive in the pattern's row-major order; every format is built from
them and the pattern's static index arrays, with no dense ``m × n``
intermediate except for ``"dense"`` itself (scattered directly).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ..patterns import SparsityPattern

__all__ = ["OUTPUT_FORMATS", "HOST_FORMATS", "build_output", "check_format"]

#: formats built inside JAX (jit-able)
JAX_FORMATS = ("bcoo", "bcsr", "dense", "compressed")
#: formats built on the host from the values (not jit-able)
HOST_FORMATS = ("scipy_csr", "scipy_csc", "scipy_coo", "numpy")
OUTPUT_FORMATS = JAX_FORMATS + HOST_FORMATS


def check_format(output_format: str) -> str:
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}; got {output_format!r}"
        )
    return output_format


def triangle(pattern: SparsityPattern, which: str | None) -> np.ndarray | None:
    """Positions (in the pattern's order) of the lower or upper triangle, or None."""
    if which is None:
        return None
    rows = np.asarray(pattern.rows)
    cols = np.asarray(pattern.cols)
    if which == "lower":
        return np.flatnonzero(rows >= cols)
    if which == "upper":
        return np.flatnonzero(rows <= cols)
    raise ValueError(f"triangle must be 'lower', 'upper' or None; got {which!r}")


def build_output(values: Any, pattern: SparsityPattern, output_format: str) -> Any:
    """Assemble the derivative in ``output_format`` from its nonzero values (JAX formats)."""
    m, n = pattern.shape
    rows = np.asarray(pattern.rows)
    cols = np.asarray(pattern.cols)
    if output_format == "bcoo":
        from jax.experimental import sparse

        indices = np.stack([rows, cols], axis=1).astype(np.int32 if max(m, n) < 2**31 else np.int64)
        return sparse.BCOO(
            (values, jnp.asarray(indices)),
            shape=(m, n),
            indices_sorted=True,
            unique_indices=True,
        )
    if output_format == "bcsr":
        from jax.experimental import sparse

        indptr = np.asarray(pattern.indptr)
        dt = np.int32 if max(pattern.nnz, m, n) < 2**31 else np.int64
        return sparse.BCSR(
            (values, jnp.asarray(cols.astype(dt)), jnp.asarray(indptr.astype(dt))), shape=(m, n)
        )
    if output_format == "dense":
        return jnp.zeros((m, n), values.dtype).at[rows, cols].set(values, unique_indices=True)
    raise ValueError(f"{output_format!r} is not built inside JAX")


def host_output(values: Any, pattern: SparsityPattern, output_format: str) -> Any:
    """Host formats (scipy.sparse arrays, dense numpy) from concrete values."""
    import scipy.sparse as sp

    vals = np.asarray(values)
    m, n = pattern.shape
    rows = np.asarray(pattern.rows)
    cols = np.asarray(pattern.cols)
    if output_format == "numpy":
        out = np.zeros((m, n), vals.dtype)
        out[rows, cols] = vals
        return out
    if output_format == "scipy_coo":
        return sp.coo_array((vals, (rows, cols)), shape=(m, n))
    csr = sp.csr_array(
        (vals, np.asarray(pattern.indices), np.asarray(pattern.indptr)), shape=(m, n)
    )
    if output_format == "scipy_csr":
        return csr
    if output_format == "scipy_csc":
        return csr.tocsc()
    raise ValueError(f"unknown host format {output_format!r}")
