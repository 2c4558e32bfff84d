"""The immutable :class:`SparsityPattern` type."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from .canonical import (
    as_index_array,
    check_range,
    check_shape,
    index_dtype,
    nonzero_positions,
    readonly,
    sort_unique,
)
from .io import MARKER_VALUE, parts_from_arrays, write_parts
from .npzfile import fail, read_npz
from .structure import Structure

__all__ = ["SparsityPattern", "save_pattern", "load_pattern", "pattern_from_arrays"]


class SparsityPattern:
    """Boolean sparsity structure of an ``(m, n)`` Jacobian or Hessian.

    The pattern stores only *where* the nonzeros are, as COO indices sorted
    row-major without duplicates.  Instances are immutable: attributes cannot
    be reassigned and the index arrays are read-only.

    Args:
        rows: 1-D integer array-like of row indices (COO), of the same length
            as ``cols``. Duplicates are removed and the entries are sorted by
            row, then column.
        cols: 1-D integer array-like of column indices (COO).
        shape: ``(m, n)``.
        input_structure: layout of the ``n`` columns (defaults to
            ``Structure.flat(n)``).
        output_structure: layout of the ``m`` rows (defaults to
            ``Structure.flat(m)``).
        canonical: the caller promises that ``rows``/``cols`` are already
            sorted row-major without duplicates; the sort is then skipped and
            only an O(nnz) range check is done.  Wrong promises give a corrupt
            pattern.

    Index arrays have dtype ``int32`` when ``max(m, n) < 2**31 - 1`` and
    ``int64`` otherwise.

    Equality compares only the shape and the nonzero positions; the input and
    output structures are *not* compared.  Patterns are hashable, consistently
    with ``==`` (the hash covers the shape and a digest of the indices).
    """

    __slots__ = (
        "_shape",
        "_rows",
        "_cols",
        "_input_structure",
        "_output_structure",
        "_indptr",
        "_col_order",
        "_col_indptr",
        "_col_indices",
        "_row_counts",
        "_col_counts",
        "_hash",
        "_frozen",
    )
    _shape: tuple[int, int]
    _rows: np.ndarray
    _cols: np.ndarray
    _input_structure: Structure
    _output_structure: Structure
    # caches, None until first use (Any: mypy cannot see that _cache fills them)
    _indptr: Any
    _col_order: Any
    _col_indptr: Any
    _col_indices: Any
    _row_counts: Any
    _col_counts: Any
    _hash: Any
    _frozen: bool

    def __init__(
        self,
        rows: Any,
        cols: Any,
        shape: Any,
        *,
        input_structure: Structure | None = None,
        output_structure: Structure | None = None,
        canonical: bool = False,
    ) -> None:
        m, n = check_shape(shape)
        r = as_index_array(rows, "rows")
        c = as_index_array(cols, "cols")
        if r.size != c.size:
            raise ValueError(f"rows and cols must have the same length, got {r.size} and {c.size}")
        check_range(r, m, "row", (m, n))
        check_range(c, n, "column", (m, n))
        dtype = index_dtype(m, n)
        if not canonical:
            r, c = sort_unique(r, c, (m, n))
            r, c = r.astype(dtype, copy=False), c.astype(dtype, copy=False)
        else:
            # Copy unless we are handed arrays that are already frozen.
            r = r.astype(dtype, copy=r.dtype != dtype or r.flags.writeable)
            c = c.astype(dtype, copy=c.dtype != dtype or c.flags.writeable)
            if not r.flags.writeable:
                r = r.view()
            if not c.flags.writeable:
                c = c.view()
        set_ = object.__setattr__
        set_(self, "_shape", (m, n))
        set_(self, "_rows", readonly(r))
        set_(self, "_cols", readonly(c))
        set_(self, "_input_structure", self._resolve(input_structure, n, "input", "n"))
        set_(self, "_output_structure", self._resolve(output_structure, m, "output", "m"))
        for name in (
            "_indptr",
            "_col_order",
            "_col_indptr",
            "_col_indices",
            "_row_counts",
            "_col_counts",
            "_hash",
        ):
            set_(self, name, None)
        set_(self, "_frozen", True)

    @staticmethod
    def _resolve(structure: Structure | None, size: int, side: str, dim: str) -> Structure:
        if structure is None:
            return Structure.flat(size)
        if not isinstance(structure, Structure):
            raise TypeError(
                f"{side}_structure must be a Structure or None, got {type(structure).__name__}"
            )
        if structure.size != size:
            raise ValueError(
                f"{side}_structure has size {structure.size} but the pattern has {dim}={size}"
            )
        return structure

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"SparsityPattern is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SparsityPattern is immutable; cannot delete {name!r}")

    def _cache(self, name: str, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            readonly(value)
        object.__setattr__(self, name, value)
        return value

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (
            _rebuild,
            (self._rows, self._cols, self._shape, self._input_structure, self._output_structure),
        )

    # ------------------------------------------------------------------ basic properties
    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def m(self) -> int:
        """Number of rows (flat output size)."""
        return self._shape[0]

    @property
    def n(self) -> int:
        """Number of columns (flat input size)."""
        return self._shape[1]

    @property
    def nnz(self) -> int:
        return int(self._rows.size)

    @property
    def density(self) -> float:
        """``nnz / (m * n)``; ``0.0`` for an empty shape."""
        total = self._shape[0] * self._shape[1]
        return self.nnz / total if total else 0.0

    @property
    def rows(self) -> np.ndarray:
        """Row indices of the nonzeros, sorted row-major (read-only)."""
        return self._rows

    @property
    def cols(self) -> np.ndarray:
        """Column indices of the nonzeros, sorted row-major (read-only)."""
        return self._cols

    @property
    def input_structure(self) -> Structure:
        return self._input_structure

    @property
    def output_structure(self) -> Structure:
        return self._output_structure

    # ------------------------------------------------------------------ CSR / CSC views
    @property
    def row_counts(self) -> np.ndarray:
        """Number of nonzeros in each row, ``int64`` of length ``m``."""
        if self._row_counts is None:
            counts = np.bincount(self._rows, minlength=self.m).astype(np.int64, copy=False)
            self._cache("_row_counts", counts)
        return self._row_counts

    @property
    def col_counts(self) -> np.ndarray:
        """Number of nonzeros in each column, ``int64`` of length ``n``."""
        if self._col_counts is None:
            counts = np.bincount(self._cols, minlength=self.n).astype(np.int64, copy=False)
            self._cache("_col_counts", counts)
        return self._col_counts

    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointer (``int64``, length ``m + 1``)."""
        if self._indptr is None:
            ptr = np.zeros(self.m + 1, dtype=np.int64)
            np.cumsum(self.row_counts, out=ptr[1:])
            self._cache("_indptr", ptr)
        return self._indptr

    @property
    def indices(self) -> np.ndarray:
        """CSR column indices (the same array as :attr:`cols`)."""
        return self._cols

    def _column_order(self) -> np.ndarray:
        if self._col_order is None:
            self._cache("_col_order", np.argsort(self._cols, kind="stable"))
        return self._col_order

    @property
    def col_indptr(self) -> np.ndarray:
        """CSC column pointer (``int64``, length ``n + 1``)."""
        if self._col_indptr is None:
            ptr = np.zeros(self.n + 1, dtype=np.int64)
            np.cumsum(self.col_counts, out=ptr[1:])
            self._cache("_col_indptr", ptr)
        return self._col_indptr

    @property
    def col_indices(self) -> np.ndarray:
        """CSC row indices, sorted within each column."""
        if self._col_indices is None:
            self._cache("_col_indices", self._rows[self._column_order()])
        return self._col_indices

    # ------------------------------------------------------------------ conversions
    def todense(self) -> np.ndarray:
        """Dense ``bool`` array of shape ``(m, n)``."""
        out = np.zeros(self._shape, dtype=bool)
        out[self._rows, self._cols] = True
        return out

    def to_scipy(self, format: str = "csr") -> Any:
        """Convert to a ``scipy.sparse`` array (``csr``, ``csc`` or ``coo``) of ``True``."""
        import scipy.sparse as sp

        data = np.ones(self.nnz, dtype=bool)
        if format == "csr":
            return sp.csr_array((data, self._cols.copy(), self.indptr.copy()), shape=self._shape)
        if format == "csc":
            return sp.csc_array(
                (data, self.col_indices.copy(), self.col_indptr.copy()), shape=self._shape
            )
        if format == "coo":
            return sp.coo_array((data, (self._rows.copy(), self._cols.copy())), shape=self._shape)
        raise ValueError(f"unsupported format {format!r}; expected 'csr', 'csc' or 'coo'")

    def to_bcoo(self) -> Any:
        """Convert to a ``jax.experimental.sparse.BCOO`` with ``True`` data.

        The indices are sorted and unique.  JAX cannot scatter-add ``bool``
        data, so use ``.astype(jnp.float32)`` before ``.todense()``.
        """
        import jax.numpy as jnp
        from jax.experimental import sparse as jsparse

        indices = np.stack([self._rows, self._cols], axis=1)
        data = jnp.ones(self.nnz, dtype=bool)
        return jsparse.BCOO(
            (data, jnp.asarray(indices)),
            shape=self._shape,
            indices_sorted=True,
            unique_indices=True,
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_coo(
        cls,
        rows: Any,
        cols: Any,
        shape: Any,
        *,
        input_structure: Structure | None = None,
        output_structure: Structure | None = None,
    ) -> SparsityPattern:
        """Build from (possibly unsorted, duplicated) COO indices."""
        return cls(
            rows, cols, shape, input_structure=input_structure, output_structure=output_structure
        )

    @classmethod
    def from_dense(
        cls,
        array: Any,
        *,
        input_structure: Structure | None = None,
        output_structure: Structure | None = None,
    ) -> SparsityPattern:
        """Pattern of the nonzero entries of a 2-D array-like."""
        a = np.asarray(array)
        if a.ndim != 2:
            raise ValueError(f"from_dense expects a 2-D array, got shape {a.shape}")
        m, n = a.shape
        dtype = index_dtype(m, n)
        r, c = np.nonzero(a)  # already row-major sorted and unique
        return cls(
            r.astype(dtype),
            c.astype(dtype),
            (m, n),
            input_structure=input_structure,
            output_structure=output_structure,
            canonical=True,
        )

    @classmethod
    def from_scipy(
        cls,
        matrix: Any,
        *,
        input_structure: Structure | None = None,
        output_structure: Structure | None = None,
    ) -> SparsityPattern:
        """Pattern of a scipy sparse matrix or array.

        Duplicate entries are summed first; positions whose (summed) value is
        zero, including explicitly stored zeros, are dropped.
        """
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise TypeError(f"expected a scipy.sparse matrix or array, got {type(matrix).__name__}")
        if len(matrix.shape) != 2:
            raise ValueError(f"expected a 2-D sparse array, got shape {matrix.shape}")
        coo = matrix.tocoo()
        shape = check_shape(coo.shape)
        r, c = nonzero_positions(coo.row, coo.col, coo.data, shape)
        return cls(
            r,
            c,
            shape,
            input_structure=input_structure,
            output_structure=output_structure,
            canonical=True,
        )

    @classmethod
    def from_bcoo(
        cls,
        bcoo: Any,
        *,
        input_structure: Structure | None = None,
        output_structure: Structure | None = None,
    ) -> SparsityPattern:
        """Pattern of a 2-D ``jax.experimental.sparse.BCOO`` array.

        Duplicate indices are summed; positions whose summed value is zero are
        dropped, as are out-of-bounds (padding) indices.
        """
        shape = tuple(getattr(bcoo, "shape", ()))
        if len(shape) != 2:
            raise ValueError(f"from_bcoo expects a 2-D BCOO array, got shape {shape}")
        if getattr(bcoo, "n_batch", 0) or getattr(bcoo, "n_dense", 0):
            raise ValueError("from_bcoo does not support BCOO arrays with batch or dense dims")
        shape = check_shape(shape)
        indices = np.asarray(bcoo.indices).reshape(-1, 2)
        data = np.asarray(bcoo.data).reshape(-1)
        if data.dtype.kind not in "biufc":
            data = data.astype(np.float32)  # e.g. bfloat16
        r, c = indices[:, 0], indices[:, 1]
        inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
        r, c = nonzero_positions(r[inside], c[inside], data[inside], shape)
        return cls(
            r,
            c,
            shape,
            input_structure=input_structure,
            output_structure=output_structure,
            canonical=True,
        )

    # ------------------------------------------------------------------ algebra
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparsityPattern):
            return NotImplemented
        return (
            self._shape == other._shape
            and self.nnz == other.nnz
            and np.array_equal(self._rows, other._rows)
            and np.array_equal(self._cols, other._cols)
        )

    def __hash__(self) -> int:
        if self._hash is None:
            digest = hashlib.blake2b(digest_size=16)
            digest.update(np.ascontiguousarray(self._rows).tobytes())
            digest.update(np.ascontiguousarray(self._cols).tobytes())
            self._cache("_hash", hash((self._shape, self.nnz, digest.digest())))
        return self._hash

    def __or__(self, other: object) -> SparsityPattern:
        """Union of two patterns of the same shape (keeps the left structures)."""
        if not isinstance(other, SparsityPattern):
            return NotImplemented
        if self._shape != other._shape:
            raise ValueError(
                f"cannot take the union of patterns of shapes {self._shape} and {other._shape}"
            )
        kwargs: dict[str, Any] = {
            "input_structure": self._input_structure,
            "output_structure": self._output_structure,
        }
        if other.nnz == 0 or self is other:
            return SparsityPattern(self._rows, self._cols, self._shape, canonical=True, **kwargs)
        if self.nnz == 0:
            return SparsityPattern(other._rows, other._cols, self._shape, canonical=True, **kwargs)
        r = np.concatenate([self._rows, other._rows])
        c = np.concatenate([self._cols, other._cols])
        return SparsityPattern(r, c, self._shape, **kwargs)

    @property
    def T(self) -> SparsityPattern:
        """Transposed pattern (the input and output structures are swapped)."""
        order = self._column_order()
        return SparsityPattern(
            self._cols[order],
            self._rows[order],
            (self.n, self.m),
            input_structure=self._output_structure,
            output_structure=self._input_structure,
            canonical=True,
        )

    # ------------------------------------------------------------------ locating entries
    def locate_row(self, i: int) -> tuple[int | None, str, tuple[int, ...]]:
        """``(argnum, leaf path, multi-index)`` of output row ``i``."""
        return self._output_structure.locate(i)

    def locate_col(self, j: int) -> tuple[int | None, str, tuple[int, ...]]:
        """``(argnum, leaf path, multi-index)`` of input column ``j``."""
        return self._input_structure.locate(j)

    # ------------------------------------------------------------------ display and io
    def __repr__(self) -> str:
        from .render import render_pattern

        return render_pattern(self)

    def save(self, path: str | os.PathLike[str]) -> str:
        """Save to a ``.npz`` file (suffix added if missing); returns the path written."""
        return write_parts(
            path, self.rows, self.cols, self.shape, self.input_structure, self.output_structure
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SparsityPattern:
        """Load a pattern written by :meth:`save` (see :func:`load_pattern`)."""
        source, data = read_npz(path, MARKER_VALUE)
        return pattern_from_arrays(data, source)


def save_pattern(pattern: SparsityPattern, path: str | os.PathLike[str]) -> str:
    """Write ``pattern`` to a compressed ``.npz`` file; returns the path written.

    A ``.npz`` suffix is appended when ``path`` does not already end with it.
    """
    if not isinstance(pattern, SparsityPattern):
        raise TypeError(f"expected a SparsityPattern, got {type(pattern).__name__}")
    return pattern.save(path)


def load_pattern(path: str | os.PathLike[str]) -> SparsityPattern:
    """Read a pattern written by :func:`save_pattern` (``.npz`` is added if missing).

    Raises:
        FileNotFoundError: if the file does not exist.
        IsADirectoryError: if the path is a directory.
        SparsediffFileError: (a ``ValueError``) if the file is not a sparsediff
            pattern file: not a ``.npz`` archive, corrupt, another kind of
            sparsediff file, a newer format version or inconsistent content.
            The one-line message names the file and the problem.
    """
    return SparsityPattern.load(path)


def pattern_from_arrays(data: dict[str, np.ndarray], source: str) -> SparsityPattern:
    """The pattern held by the arrays of a pattern file (``source`` names it in errors)."""
    parts = parts_from_arrays(data, source)
    try:
        return SparsityPattern(**parts)
    except (ValueError, TypeError) as exc:
        fail(source, MARKER_VALUE, f"inconsistent content: {exc}")


def _rebuild(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    input_structure: Structure,
    output_structure: Structure,
) -> SparsityPattern:
    return SparsityPattern(
        rows,
        cols,
        shape,
        input_structure=input_structure,
        output_structure=output_structure,
        canonical=True,
    )
