"""Decompression in JAX: precomputed gathers from the compressed products.

A :class:`~sparsediff.coloring.DecompressionPlan` addresses a flat vector laid
out as the row-major blocks ``A @ S`` (``(rows, colors)``) and ``Sᵀ A``
(``(colors, cols)``). Evaluation produces the products as ``(colors, rows)`` and
``(colors, cols)`` arrays (one row per vmapped seed), so the plan's indices are
remapped once, at preparation, to address the products as evaluation lays them
out: no transpose or dense intermediate at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..coloring import DecompressionPlan

__all__ = ["JaxPlan"]


def _index_dtype(bound: int):
    return np.int32 if bound < 2**31 - 1 else np.int64


@dataclass(frozen=True, eq=False)
class JaxPlan:
    """Static index arrays recovering the nonzero values from the stacked products.

    ``flat`` at run time is the concatenation of each block's products raveled
    as ``(colors, rows)`` for forward blocks and ``(colors, cols)`` for reverse
    blocks.
    """

    nnz: int
    size: int
    direct_identity: bool
    direct_nz: np.ndarray
    direct_src: np.ndarray
    subst_src: np.ndarray
    subst_sign: np.ndarray
    subst_nz: np.ndarray
    subst_start: np.ndarray
    subst_stop: np.ndarray
    subst_out_sign: np.ndarray

    @classmethod
    def from_plan(cls, plan: DecompressionPlan) -> JaxPlan:
        # old flat index -> new flat index, block by block
        mapping = []
        for name, (r, c) in plan.blocks:
            idx = np.arange(r * c, dtype=np.int64).reshape(r, c)
            if name == "forward":
                # plan: (rows, colors) row-major; evaluation: (colors, rows)
                new = np.arange(r * c, dtype=np.int64).reshape(c, r).T
            else:
                new = idx  # (colors, cols) in both layouts
            mapping.append(new.reshape(-1))
        offsets = np.cumsum([0] + [r * c for _, (r, c) in plan.blocks])
        remap = (
            np.concatenate([m + o for m, o in zip(mapping, offsets[:-1])])
            if mapping
            else np.zeros(0, dtype=np.int64)
        )
        size = int(offsets[-1])
        dt = _index_dtype(max(size, plan.nnz, plan.subst_src.size + 1))

        def re(a):
            return remap[np.asarray(a, dtype=np.int64)].astype(dt) if a.size else a.astype(dt)

        direct_nz = np.asarray(plan.direct_nz, dtype=np.int64)
        direct_src = np.asarray(plan.direct_src, dtype=np.int64)
        if direct_nz.size == plan.nnz and not plan.subst_nz.size:
            # every nonzero is read directly: reorder the reads once so that
            # evaluation is a single gather instead of a scatter
            order = np.argsort(direct_nz, kind="stable")
            direct_nz, direct_src = direct_nz[order], direct_src[order]
        identity = direct_nz.size == plan.nnz and bool(
            np.array_equal(direct_nz, np.arange(plan.nnz))
        )
        return cls(
            nnz=int(plan.nnz),
            size=size,
            direct_identity=identity,
            direct_nz=direct_nz.astype(dt),
            direct_src=re(direct_src),
            subst_src=re(np.asarray(plan.subst_src)),
            subst_sign=np.asarray(plan.subst_sign),
            subst_nz=np.asarray(plan.subst_nz).astype(dt),
            subst_start=np.asarray(plan.subst_start).astype(dt),
            subst_stop=np.asarray(plan.subst_stop).astype(dt),
            subst_out_sign=np.asarray(plan.subst_out_sign),
        )

    def values(self, flat: jnp.ndarray) -> jnp.ndarray:
        """Nonzero values in the pattern's row-major order."""
        if self.direct_identity and not self.subst_nz.size:
            return flat[self.direct_src]
        values = jnp.zeros(self.nnz, flat.dtype).at[self.direct_nz].set(flat[self.direct_src])
        if self.subst_nz.size:
            seq = flat[self.subst_src] * jnp.asarray(self.subst_sign, flat.dtype)
            prefix = jnp.concatenate([jnp.zeros(1, flat.dtype), jnp.cumsum(seq)])
            diff = prefix[self.subst_stop] - prefix[self.subst_start]
            values = values.at[self.subst_nz].set(
                jnp.asarray(self.subst_out_sign, flat.dtype) * diff
            )
        return values
