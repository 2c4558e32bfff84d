"""Output formats of a sparse derivative, built from its nonzero values.

Values arrive in the pattern's row-major order, or, for ``"bcoo"`` and
``"dense"``, in any fixed order given at preparation (the order in which direct
decompression reads the compressed products, so that no permutation runs at
evaluation); every format is built from them and static index arrays, with no
dense ``m × n`` intermediate except for ``"dense"`` itself (scattered directly).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ..patterns import SparsityPattern

__all__ = [
    "OUTPUT_FORMATS",
    "HOST_FORMATS",
    "build_output",
    "check_format",
    "output_arrays",
]

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


def output_arrays(
    pattern: SparsityPattern, output_format: str, order: np.ndarray | None = None
) -> dict[str, Any]:
    """Device index arrays of a JAX output format, built once per prepared derivative.

    ``order``: the values arrive as ``values[order]`` of the pattern's row-major
    values (``"bcoo"`` and ``"dense"`` only; see :func:`build_output`).
    """
    m, n = pattern.shape
    rows = np.asarray(pattern.rows)
    cols = np.asarray(pattern.cols)
    if order is not None:
        if output_format not in ("bcoo", "dense"):
            raise ValueError(f"{output_format!r} needs its values in the pattern's order")
        rows, cols = rows[order], cols[order]
    if output_format == "bcoo":
        dt = np.int32 if max(m, n) < 2**31 else np.int64
        return {"indices": jnp.asarray(np.stack([rows, cols], axis=1).astype(dt))}
    if output_format == "bcsr":
        dt = np.int32 if max(pattern.nnz, m, n) < 2**31 else np.int64
        return {
            "indices": jnp.asarray(cols.astype(dt)),
            "indptr": jnp.asarray(np.asarray(pattern.indptr).astype(dt)),
        }
    if output_format == "dense":
        # flat positions row * n + col: one 1-D scatter into the raveled matrix
        dt = np.int32 if m * n < 2**31 else np.int64
        return {"flat": jnp.asarray(rows.astype(dt) * np.asarray(n, dt) + cols.astype(dt))}
    return {}


def build_output(
    values: Any,
    pattern: SparsityPattern,
    output_format: str,
    arrays: dict[str, Any] | None = None,
    *,
    indices_sorted: bool = True,
) -> Any:
    """Assemble the derivative in ``output_format`` from its nonzero values (JAX formats).

    ``arrays``: the format's index arrays from :func:`output_arrays` (built here
    when omitted); ``indices_sorted=False`` when they were built with an
    ``order`` (values in evaluation order rather than row-major).
    """
    m, n = pattern.shape
    if arrays is None:
        arrays = output_arrays(pattern, output_format)
    if output_format == "bcoo":
        from jax.experimental import sparse

        return sparse.BCOO(
            (values, arrays["indices"]),
            shape=(m, n),
            indices_sorted=indices_sorted,
            unique_indices=True,
        )
    if output_format == "bcsr":
        from jax.experimental import sparse

        return sparse.BCSR((values, arrays["indices"], arrays["indptr"]), shape=(m, n))
    if output_format == "dense":
        from .jax_plan import scatter

        return scatter(jnp.zeros(m * n, values.dtype), arrays["flat"], values).reshape(m, n)
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
