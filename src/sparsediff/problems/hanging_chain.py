"""The hanging chain (catenary) of the COPS collection, behind the Ipopt example.

A chain of length ``L`` hangs between ``(0, a)`` and ``(1, b)``; it takes the
shape ``y(t)`` of least potential energy ``∫ y √(1 + y'²) dt`` subject to its
length ``∫ √(1 + y'²) dt = L`` (Dolan, Moré and Munson, "Benchmarking
optimization software with COPS 3.0", 2004). Discretised on ``N`` equal
intervals with the heights ``y_0 … y_N`` as variables (``N + 1`` in all), the
slopes as forward differences and the integrals by the midpoint rule: the
energy's Hessian is tridiagonal, the single length constraint's Jacobian a
dense row, and the ends are fixed by bounds.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["chain_energy", "chain_length", "chain_start", "chain_bounds"]


def _arc(y):
    h = 1.0 / (y.size - 1)
    return h * jnp.sqrt(1.0 + ((y[1:] - y[:-1]) / h) ** 2)


def chain_energy(y):
    """Potential energy: each segment's arc length times its mean height."""
    return jnp.sum(0.5 * (y[1:] + y[:-1]) * _arc(y))


def chain_length(y, length):
    """The chain's length minus ``length`` (one equality constraint)."""
    return jnp.sum(_arc(y), keepdims=True) - length


def chain_start(intervals: int, a: float = 1.0, b: float = 3.0, length: float = 4.0):
    """A starting point: a parabola through the ends with a sag of plausible depth."""
    t = np.linspace(0.0, 1.0, intervals + 1)
    sag = 0.5 * np.sqrt(max(length**2 - 1.0 - (b - a) ** 2, 0.0))
    return a + (b - a) * t - 4.0 * sag * t * (1.0 - t)


def chain_bounds(intervals: int, a: float = 1.0, b: float = 3.0):
    """Variable bounds fixing both ends (the others free)."""
    lb = np.full(intervals + 1, -np.inf)
    ub = np.full(intervals + 1, np.inf)
    lb[0] = ub[0] = a
    lb[-1] = ub[-1] = b
    return lb, ub
