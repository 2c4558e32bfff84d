"""The extended (chained) Rosenbrock function, a classic test for sparse Hessians."""

from __future__ import annotations

import jax.numpy as jnp


def extended_rosenbrock(x):
    """``sum(100 (x[i+1] - x[i]²)² + (1 - x[i])²)`` over ``i = 0 .. n-2``.

    Every term couples two neighbouring entries, so the Hessian is tridiagonal
    (``3 n - 2`` nonzeros): a star coloring needs 3 Hessian-vector products and
    an acyclic coloring 2, whatever ``n``.
    """
    head, tail = x[:-1], x[1:]
    return jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2)
