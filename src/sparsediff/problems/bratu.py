"""The Bratu problem ``-Δu = λ eᵘ`` on the unit square, zero on the boundary.

Five-point finite differences on an ``N × N`` grid of interior points
(``h = 1 / (N + 1)``): ``F(u) = -(Δₕ u) - λ eᵘ``. Its Jacobian is the 2-D
Laplacian minus ``λ diag(eᵘ)``; for ``λ`` below about 6.8 the equation has a
solution near ``u = 0`` that Newton's method finds (Bratu 1914; the
"solid fuel ignition" problem of the MINPACK-2 collection).

:func:`bratu_residual` is the one-device form. :func:`sharded_bratu_residual`
is the same residual decomposed by grid rows over a mesh axis with
``shard_map``: each device holds ``N / D`` rows and receives the row above and
the row below its block from its neighbours by ``ppermute`` (the devices at the
ends receive zeros: the boundary).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec

__all__ = ["bratu_residual", "sharded_bratu_residual"]


def _stencil(ext: jax.Array, u: jax.Array, lam: float) -> jax.Array:
    """The residual of the rows of ``u`` given ``ext``: ``u`` with one row of
    neighbours above and below (zero columns are padded left and right)."""
    n = u.shape[1]
    h2 = (1.0 / (n + 1)) ** 2
    ext = jnp.pad(ext, ((0, 0), (1, 1)))
    lap = ext[:-2, 1:-1] + ext[2:, 1:-1] + ext[1:-1, :-2] + ext[1:-1, 2:] - 4.0 * ext[1:-1, 1:-1]
    return -lap / h2 - lam * jnp.exp(u)


def bratu_residual(u: jax.Array, lam: float = 1.0) -> jax.Array:
    """``F(u)`` for ``u`` of shape ``(N, N)`` on one device."""
    ext = jnp.pad(u, ((1, 1), (0, 0)))
    return _stencil(ext, u, lam)


def sharded_bratu_residual(mesh: Mesh, axis: str, lam: float = 1.0) -> Callable:
    """``F`` for ``u`` of shape ``(N, N)`` laid out by rows over ``mesh``'s ``axis``
    (``N`` divisible by its size): a ``shard_map`` with halo exchange."""
    size = mesh.shape[axis]
    down = [(i, i + 1) for i in range(size - 1)]  # my last row is my lower neighbour's halo
    up = [(i + 1, i) for i in range(size - 1)]

    def local(u: jax.Array) -> jax.Array:
        above = jax.lax.ppermute(u[-1:], axis, down)
        below = jax.lax.ppermute(u[:1], axis, up)
        return _stencil(jnp.concatenate([above, u, below], axis=0), u, lam)

    return jax.shard_map(
        local, mesh=mesh, in_specs=PartitionSpec(axis), out_specs=PartitionSpec(axis)
    )
