"""Decompression plans: precomputed gathers from the compressed products.

The compressed products are laid out as one flat vector, the concatenation of
the row-major blocks listed in :attr:`DecompressionPlan.blocks`:

* ``"forward"``: ``A @ S`` of shape ``(m, num_forward)`` (column coloring and
  the JVP half of bicoloring) or ``H @ S`` of shape ``(n, num_colors)``
  (symmetric problems);
* ``"reverse"``: ``S.T @ A`` of shape ``(num_reverse, n)`` (row coloring and the
  VJP half of bicoloring).

Every nonzero of the pattern, in row-major order, is recovered either

* directly: ``values[direct_nz] = flat[direct_src]`` (one gather), or
* by substitution (acyclic colorings): with the signed sequence
  ``seq = subst_sign * flat[subst_src]`` and its exclusive prefix sum ``P``,
  ``values[subst_nz] = subst_out_sign * (P[subst_stop] - P[subst_start])``
  (see :mod:`.trees`).

These are whole-array operations with a fixed number of steps, ready to be
written in JAX.  Index arrays are ``int32`` when the flat vector and the
sequence fit, else ``int64``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DecompressionPlan", "direct_plan"]

_INT32_MAX = 2**31 - 1


def _narrow(a: np.ndarray, bound: int) -> np.ndarray:
    dtype = np.int32 if bound < _INT32_MAX else np.int64
    out = np.ascontiguousarray(a, dtype=dtype)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class DecompressionPlan:
    """Index arrays that turn the compressed products into the nonzero values.

    Attributes:
        nnz: number of nonzeros recovered (the pattern's, in row-major order).
        blocks: ``((name, (rows, cols)), ...)`` layout of the flat vector.
        direct_nz, direct_src: directly read nonzeros and their flat sources.
        subst_src, subst_sign: the signed sequence of substitution reads.
        subst_nz, subst_start, subst_stop, subst_out_sign: substituted nonzeros.
    """

    nnz: int
    blocks: tuple[tuple[str, tuple[int, int]], ...]
    direct_nz: np.ndarray
    direct_src: np.ndarray
    subst_src: np.ndarray
    subst_sign: np.ndarray
    subst_nz: np.ndarray
    subst_start: np.ndarray
    subst_stop: np.ndarray
    subst_out_sign: np.ndarray

    @classmethod
    def build(
        cls,
        nnz: int,
        blocks: tuple[tuple[str, tuple[int, int]], ...],
        direct_nz: np.ndarray,
        direct_src: np.ndarray,
        subst_src: np.ndarray | None = None,
        subst_sign: np.ndarray | None = None,
        subst_nz: np.ndarray | None = None,
        subst_start: np.ndarray | None = None,
        subst_stop: np.ndarray | None = None,
        subst_out_sign: np.ndarray | None = None,
    ) -> DecompressionPlan:
        size = sum(r * c for _, (r, c) in blocks)
        empty = np.zeros(0, dtype=np.int64)
        subst_src = empty if subst_src is None else subst_src
        seq_len = int(subst_src.size)
        bound = max(size, nnz, seq_len + 1)

        def sign(a: np.ndarray | None) -> np.ndarray:
            out = np.ascontiguousarray(empty if a is None else a, dtype=np.int8)
            out.flags.writeable = False
            return out

        return cls(
            nnz=int(nnz),
            blocks=tuple((str(b), (int(r), int(c))) for b, (r, c) in blocks),
            direct_nz=_narrow(direct_nz, bound),
            direct_src=_narrow(direct_src, bound),
            subst_src=_narrow(subst_src, bound),
            subst_sign=sign(subst_sign),
            subst_nz=_narrow(empty if subst_nz is None else subst_nz, bound),
            subst_start=_narrow(empty if subst_start is None else subst_start, bound),
            subst_stop=_narrow(empty if subst_stop is None else subst_stop, bound),
            subst_out_sign=sign(subst_out_sign),
        )

    @property
    def compressed_size(self) -> int:
        """Length of the flat compressed vector."""
        return sum(r * c for _, (r, c) in self.blocks)

    @property
    def uses_substitution(self) -> bool:
        return self.subst_nz.size > 0

    def flatten(self, *blocks: np.ndarray) -> np.ndarray:
        """Concatenate compressed blocks (in :attr:`blocks` order) into the flat vector."""
        if len(blocks) != len(self.blocks):
            raise ValueError(f"expected {len(self.blocks)} compressed block(s), got {len(blocks)}")
        parts = []
        for arr, (name, shape) in zip(blocks, self.blocks, strict=True):
            a = np.asarray(arr)
            if a.shape != shape:
                raise ValueError(f"compressed block {name!r} has shape {a.shape}, expected {shape}")
            parts.append(a.reshape(-1))
        if not parts:
            return np.zeros(0)
        return np.concatenate(parts)

    def evaluate(self, flat: np.ndarray) -> np.ndarray:
        """Nonzero values (row-major pattern order) from the flat compressed vector."""
        flat = np.asarray(flat)
        if flat.shape != (self.compressed_size,):
            raise ValueError(
                f"flat compressed vector must have shape ({self.compressed_size},), "
                f"got {flat.shape}"
            )
        values = np.zeros(self.nnz, dtype=flat.dtype)
        values[self.direct_nz] = flat[self.direct_src]
        if self.subst_nz.size:
            seq = flat[self.subst_src] * self.subst_sign.astype(flat.dtype)
            prefix = np.zeros(seq.size + 1, dtype=flat.dtype)
            np.cumsum(seq, out=prefix[1:])
            diff = prefix[self.subst_stop] - prefix[self.subst_start]
            values[self.subst_nz] = self.subst_out_sign.astype(flat.dtype) * diff
        return values

    def check_coverage(self) -> None:
        """Raise ``AssertionError`` unless every nonzero is recovered exactly once."""
        hits = np.zeros(self.nnz, dtype=np.int64)
        np.add.at(hits, self.direct_nz.astype(np.int64), 1)
        np.add.at(hits, self.subst_nz.astype(np.int64), 1)
        if self.nnz and (hits.min() != 1 or hits.max() != 1):
            bad = int(np.flatnonzero(hits != 1)[0])
            raise AssertionError(f"nonzero {bad} is recovered {int(hits[bad])} times")


def direct_plan(
    nnz: int, blocks: tuple[tuple[str, tuple[int, int]], ...], src: np.ndarray
) -> DecompressionPlan:
    """Plan where nonzero ``k`` is ``flat[src[k]]``."""
    return DecompressionPlan.build(nnz, blocks, np.arange(nnz, dtype=np.int64), src)
