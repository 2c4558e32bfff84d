"""Pytree structure metadata attached to the two sides of a sparsity pattern.

A Jacobian of a function ``f(*args) -> out`` has one column per scalar of the
flattened inputs and one row per scalar of the flattened output.  The
:class:`Structure` of each side records how those flat positions map back to
leaves of the original pytrees, so that a flat index can be translated into
"argument 1, leaf ``['b'][0]``, element ``(2, 3)``".

Flattening follows :func:`jax.flatten_util.ravel_pytree`: leaves in pytree
order, each leaf in C (row-major) order.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["LeafSpec", "Structure"]


def _as_shape(shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError as exc:
        raise TypeError(f"shape must be a sequence of integers, got {shape!r}") from exc
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must have non-negative dimensions, got {dims}")
    return dims


def _as_dtype_name(dtype: Any) -> str:
    if isinstance(dtype, str):
        return dtype
    return np.dtype(dtype).name


@dataclass(frozen=True)
class LeafSpec:
    """Description of one array leaf of an input argument or of the output.

    Attributes:
        argnum: positional-argument index on the input side; ``None`` on the
            output side (and for structures that are not tied to arguments).
        path: ``jax.tree_util.keystr`` of the leaf's key path inside its
            argument (or inside the output pytree); ``""`` for a bare array.
        shape: shape of the leaf.
        dtype: numpy dtype name, e.g. ``"float32"``.
    """

    argnum: int | None
    path: str
    shape: tuple[int, ...]
    dtype: str

    def __post_init__(self) -> None:
        if self.argnum is not None:
            object.__setattr__(self, "argnum", operator.index(self.argnum))
        if not isinstance(self.path, str):
            raise TypeError(f"path must be a str, got {type(self.path).__name__}")
        object.__setattr__(self, "shape", _as_shape(self.shape))
        object.__setattr__(self, "dtype", _as_dtype_name(self.dtype))

    @property
    def size(self) -> int:
        """Number of scalars in the leaf (1 for a scalar leaf)."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Structure:
    """Flat layout of one side (inputs or output) of a Jacobian.

    Attributes:
        leaves: the leaves in flattening order.
        argnums: the positional arguments the input side was built from, or
            ``None``.
        treedef: optional ``jax`` ``PyTreeDef`` of the side; it is metadata
            only and is ignored by ``==`` and ``hash``.
    """

    leaves: tuple[LeafSpec, ...]
    argnums: tuple[int, ...] | None = None
    treedef: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        leaves = tuple(self.leaves)
        for leaf in leaves:
            if not isinstance(leaf, LeafSpec):
                raise TypeError(f"leaves must be LeafSpec instances, got {type(leaf).__name__}")
        object.__setattr__(self, "leaves", leaves)
        if self.argnums is not None:
            object.__setattr__(self, "argnums", tuple(operator.index(a) for a in self.argnums))

    @cached_property
    def offsets(self) -> np.ndarray:
        """Cumulative flat offsets, ``int64`` of length ``len(leaves) + 1``."""
        sizes = np.fromiter(
            (leaf.size for leaf in self.leaves), dtype=np.int64, count=len(self.leaves)
        )
        out = np.zeros(len(self.leaves) + 1, dtype=np.int64)
        np.cumsum(sizes, out=out[1:])
        out.flags.writeable = False
        return out

    @property
    def size(self) -> int:
        """Total number of scalars over all leaves."""
        return int(self.offsets[-1])

    def locate(self, flat_index: int) -> tuple[int | None, str, tuple[int, ...]]:
        """Map a flat index to ``(argnum, leaf path, multi-index in C order)``.

        Raises:
            IndexError: if ``flat_index`` is not in ``[0, size)``.
        """
        try:
            idx = operator.index(flat_index)
        except TypeError as exc:
            raise TypeError(
                f"flat index must be an integer, got {type(flat_index).__name__}"
            ) from exc
        size = self.size
        if not 0 <= idx < size:
            raise IndexError(f"flat index {idx} is out of range [0, {size}) for this structure")
        offsets = self.offsets
        # side="right" skips over empty leaves that share the same offset.
        k = int(np.searchsorted(offsets, idx, side="right")) - 1
        leaf = self.leaves[k]
        local = idx - int(offsets[k])
        if leaf.shape == ():
            multi: tuple[int, ...] = ()
        else:
            multi = tuple(int(i) for i in np.unravel_index(local, leaf.shape))
        return leaf.argnum, leaf.path, multi

    @classmethod
    def flat(cls, size: int, dtype: Any = "float32") -> Structure:
        """A structure with a single 1-D leaf of length ``size``."""
        return cls(leaves=(LeafSpec(argnum=None, path="", shape=(size,), dtype=dtype),))
