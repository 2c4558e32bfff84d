"""Linear algebra and FFT: dense within each matrix (or transformed) block.

A factorisation or solve mixes every element of a matrix with every other, so
each output block depends on the whole input block with the same batch index;
batch elements stay independent. Exact patterns inside a block (e.g. a
triangular solve with a banded matrix) are not attempted: this is sound and
conservative, and listed among the conservative rules.
"""

from __future__ import annotations

import numpy as np
from jax.extend.core import primitives as P

from ..deps import reduce_axes, take, union
from ..registry import register_rule

__all__ = ["register", "BLOCK_CORE_DIMS"]

#: trailing "core" dimensions of the first operand, by primitive name
BLOCK_CORE_DIMS: dict[str, int] = {
    "cholesky": 2,
    "eigh": 2,
    "eig": 2,
    "svd": 2,
    "qr": 2,
    "lu": 2,
    "triangular_solve": 2,
    "schur": 2,
    "hessenberg": 2,
    "householder_product": 2,
    "tridiagonal": 2,
    "tridiagonal_solve": 1,
}


def _blockwise(batch_ndim: int, eqn, invals):
    batch_shape = invals[0].shape[:batch_ndim]
    nb = int(np.prod(batch_shape, dtype=np.int64))
    parts = []
    for v in invals:
        if v.deps is None:
            continue
        if v.shape[:batch_ndim] != batch_shape:  # unexpected layout: whole-operand union
            from ..interpreter import dense_fallback

            return dense_fallback([o.aval for o in eqn.outvars], invals, eqn.primitive.name)
        axes = tuple(range(batch_ndim, len(v.shape)))
        parts.append(reduce_axes(v.deps, v.shape, axes))
    per_batch = union(*parts)  # nb rows
    outs = []
    for o in eqn.outvars:
        shape = tuple(int(d) for d in o.aval.shape)
        core = int(np.prod(shape[batch_ndim:], dtype=np.int64))
        rows = np.repeat(np.arange(nb, dtype=np.int64), core)
        outs.append(take(per_batch, rows) if per_batch is not None else None)
    return outs


#: outputs that are triangular by construction: (output index, "upper" | "lower")
TRIANGULAR_OUTPUTS: dict[str, tuple[int, str]] = {"qr": (1, "upper")}


def _zero_triangle(deps, shape: tuple[int, ...], keep: str):
    """Drop the rows of the strict triangle opposite ``keep`` of each matrix."""
    if deps is None or len(shape) < 2:
        return deps
    i = np.arange(shape[-2])[:, None]
    j = np.arange(shape[-1])[None, :]
    inside = (i <= j) if keep == "upper" else (i >= j)
    rows = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    return take(deps, np.where(np.broadcast_to(inside, shape), rows, -1).reshape(-1))


def block_rule(ctx, eqn, invals):
    name = eqn.primitive.name
    core = BLOCK_CORE_DIMS[name]
    outs = _blockwise(max(len(invals[0].shape) - core, 0), eqn, invals)
    if name in TRIANGULAR_OUTPUTS:
        k, keep = TRIANGULAR_OUTPUTS[name]
        shape = tuple(int(d) for d in eqn.outvars[k].aval.shape)
        outs[k] = _zero_triangle(outs[k], shape, keep)
    return outs


def fft_rule(ctx, eqn, invals):
    core = len(eqn.params["fft_lengths"])
    return _blockwise(len(invals[0].shape) - core, eqn, invals)


def register() -> None:
    from .elementwise import primitives_by_name

    by_name = primitives_by_name()
    for name in BLOCK_CORE_DIMS:
        if name in by_name:
            register_rule(by_name[name], block_rule)
    register_rule(P.fft_p, fft_rule)
