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

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..coloring.decompression import DecompressionPlan

__all__ = ["JaxPlan", "fenced", "gather", "scatter"]


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

    def arrays(self) -> dict[str, jnp.ndarray]:
        """The index arrays evaluation needs, as device arrays.

        They are passed to the jitted evaluation as arguments rather than embedded
        as constants: compilation stays fast at millions of nonzeros, and XLA does
        not fold or duplicate them.
        """
        if self.direct_identity and not self.subst_nz.size:
            return {"direct_src": jnp.asarray(self.direct_src)}
        out = {"direct_nz": jnp.asarray(self.direct_nz), "direct_src": jnp.asarray(self.direct_src)}
        if self.subst_nz.size:
            for name in ("subst_src", "subst_nz", "subst_start", "subst_stop"):
                out[name] = jnp.asarray(getattr(self, name))
            out["subst_sign"] = jnp.asarray(self.subst_sign, jnp.int8)
            out["subst_out_sign"] = jnp.asarray(self.subst_out_sign, jnp.int8)
        return out

    def values(self, flat: jnp.ndarray, arrays: dict[str, jnp.ndarray]) -> jnp.ndarray:
        """Nonzero values in the pattern's row-major order (``arrays`` from :meth:`arrays`)."""
        if self.direct_identity and not self.subst_nz.size:
            return gather(flat, arrays["direct_src"])
        values = scatter(
            jnp.zeros(self.nnz, flat.dtype), arrays["direct_nz"], gather(flat, arrays["direct_src"])
        )
        if self.subst_nz.size:
            seq = gather(flat, arrays["subst_src"]) * arrays["subst_sign"].astype(flat.dtype)
            prefix = jnp.concatenate([jnp.zeros(1, flat.dtype), jnp.cumsum(seq)])
            diff = gather(prefix, arrays["subst_stop"]) - gather(prefix, arrays["subst_start"])
            values = scatter(
                values, arrays["subst_nz"], arrays["subst_out_sign"].astype(flat.dtype) * diff
            )
        return values


_DNUMS_1D = lax.GatherDimensionNumbers(
    offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,)
)
_SCATTER_1D = lax.ScatterDimensionNumbers(
    update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
)


def fenced(fn, flat: jnp.ndarray, arrays: dict) -> jnp.ndarray:
    """``fn(flat, arrays)``, with the products in ``flat`` materialised first.

    XLA fuses a gather with the computation of its operand, recomputing every
    gathered element in a scalar loop: with transcendental functions in the
    products, that costs more than the products themselves. A conditional whose
    predicate (an index is non-negative, always true) is only known at run time
    is a fusion boundary XLA keeps, unlike an optimization barrier, which the CPU
    pipeline removes.
    """
    leaves = jax.tree_util.tree_leaves(arrays)
    probe = next((a for a in leaves if a.ndim == 1 and a.size and a.dtype.kind == "i"), None)
    if probe is None:
        return fn(flat, arrays)
    out = jax.eval_shape(fn, flat, arrays)
    return lax.cond(
        probe[0] >= 0,
        fn,
        lambda f, a: jnp.zeros(out.shape, out.dtype),
        flat,
        arrays,
    )


def gather(operand: jnp.ndarray, idx: jnp.ndarray) -> jnp.ndarray:
    """``operand[idx]`` for a 1-D operand and in-bounds, non-negative indices.

    A bare XLA gather: no wrap-around of negative indices nor clamping, which
    ``operand[idx]`` adds (indices come from the plan and are in bounds).
    """
    return lax.gather(
        operand,
        idx[:, None],
        _DNUMS_1D,
        slice_sizes=(1,),
        mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS,
    )


def scatter(operand: jnp.ndarray, idx: jnp.ndarray, updates: jnp.ndarray) -> jnp.ndarray:
    """``operand.at[idx].set(updates)`` for unique, in-bounds indices."""
    return lax.scatter(
        operand,
        idx[:, None],
        updates,
        _SCATTER_1D,
        unique_indices=True,
        mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS,
    )
