"""The 2D Brusselator reaction–diffusion right-hand side on a periodic grid."""

from __future__ import annotations

import jax.numpy as jnp


def _laplacian(w):
    """Periodic 5-point Laplacian (grid spacing folded into ``alpha``)."""
    return jnp.roll(w, 1, 0) + jnp.roll(w, -1, 0) + jnp.roll(w, 1, 1) + jnp.roll(w, -1, 1) - 4 * w


def brusselator_rhs(y, a: float = 1.0, b: float = 3.4, alpha: float = 10.0):
    """Right-hand side for the two species ``u = y[0]``, ``v = y[1]`` (shape ``(2, N, N)``):

    ``du = b + u² v - (a + 1) u + alpha Δu``, ``dv = a u - u² v + alpha Δv``.
    Each row of its Jacobian has 6 nonzeros (5-point stencil plus the other species).
    """
    u, v = y[0], y[1]
    du = b + u**2 * v - (a + 1.0) * u + alpha * _laplacian(u)
    dv = a * u - u**2 * v + alpha * _laplacian(v)
    return jnp.stack([du, dv])
