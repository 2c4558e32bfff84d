"""Benchmark problems shared by the detection, coloring and evaluation benchmarks.

Every problem is a plain JAX function of one array argument plus a description of the sizes
it is run at.  The *size* of a problem is its natural size parameter (the vector length ``n``
for the 1D problems, the grid side ``N`` for the Brusselator); ``input_shape(size)`` gives the
shape of the argument and ``n_in(size)`` its number of elements.

Problems
--------
``diff``
    ``f(x) = (x[1:] - x[:-1])**2``: Jacobian of shape ``(n - 1, n)``, two nonzeros per row.
``brusselator``
    Right-hand side of the 2D Brusselator reaction-diffusion system on an ``N x N`` periodic
    grid.  The input has shape ``(2, N, N)`` (``u = y[0]``, ``v = y[1]``); the output is the
    flat vector ``concatenate([du.ravel(), dv.ravel()])`` of length ``2 N^2``, so the Jacobian
    is ``(2 N^2, 2 N^2)`` with six nonzeros per row (five-point stencil in the own species,
    one entry in the other species).  The output is assembled with ``concatenate`` rather than
    ``jnp.stack``; see ``brusselator_stacked`` for the ``stack`` variant.
``rosenbrock``
    Hessian of the chained (extended) Rosenbrock function
    ``sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)``: tridiagonal ``(n, n)`` Hessian.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Problem",
    "PROBLEMS",
    "chained_diff",
    "periodic_laplacian",
    "brusselator",
    "brusselator_stacked",
    "rosenbrock",
    "get_problem",
]

# Brusselator parameters (the classic oscillatory regime; the values do not affect sparsity).
BRUSS_A = 3.4
BRUSS_B = 1.0
BRUSS_ALPHA = 0.002


def chained_diff(x: jax.Array) -> jax.Array:
    """``(x[1:] - x[:-1])**2``; Jacobian is bidiagonal ``(n - 1, n)``."""
    return (x[1:] - x[:-1]) ** 2


def periodic_laplacian(u: jax.Array) -> jax.Array:
    """Five-point Laplacian of a 2D field on a periodic grid (unit spacing), via ``jnp.roll``."""
    return (
        jnp.roll(u, 1, axis=0)
        + jnp.roll(u, -1, axis=0)
        + jnp.roll(u, 1, axis=1)
        + jnp.roll(u, -1, axis=1)
        - 4.0 * u
    )


def _brusselator_terms(y: jax.Array) -> tuple[jax.Array, jax.Array]:
    u, v = y[0], y[1]
    u2v = u * u * v
    du = BRUSS_B + u2v - (BRUSS_A + 1.0) * u + BRUSS_ALPHA * periodic_laplacian(u)
    dv = BRUSS_A * u - u2v + BRUSS_ALPHA * periodic_laplacian(v)
    return du, dv


def brusselator(y: jax.Array) -> jax.Array:
    """2D Brusselator right-hand side; ``y`` has shape ``(2, N, N)``, output shape ``(2 N^2,)``."""
    du, dv = _brusselator_terms(y)
    return jnp.concatenate([du.ravel(), dv.ravel()])


def brusselator_stacked(y: jax.Array) -> jax.Array:
    """Same as ``brusselator`` but returns ``jnp.stack([du, dv])`` of shape ``(2, N, N)``.

    In recent JAX ``jnp.stack`` lowers to its own ``stack`` primitive, which exercises a
    different detection rule than ``concatenate``.
    """
    du, dv = _brusselator_terms(y)
    return jnp.stack([du, dv])


def rosenbrock(x: jax.Array) -> jax.Array:
    """Chained (extended) Rosenbrock function; its Hessian is tridiagonal."""
    a = x[:-1]
    return jnp.sum(100.0 * (x[1:] - a**2) ** 2 + (1.0 - a) ** 2)


@dataclass(frozen=True)
class Problem:
    """A benchmark problem.

    Attributes:
        name: short identifier (used on the command line and in result rows).
        title: human-readable description for table headings.
        kind: ``"jacobian"`` or ``"hessian"``.
        fn: the function whose Jacobian / Hessian sparsity is detected.
        sizes: sizes of the full run.
        quick_sizes: sizes of the ``--quick`` run.
        asdex_max: largest size at which asdex is run (it is much slower).
        check_size: a tiny size at which dense matrices are compared.
        ndim_grid: 0 for vector problems (input shape ``(n,)``), 2 for the two-species grid.
        size_symbol: how the size is written in tables (``n`` or ``N``).
    """

    name: str
    title: str
    kind: str
    fn: Callable[[jax.Array], jax.Array]
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...]
    asdex_max: int
    check_size: int
    ndim_grid: int = 0
    size_symbol: str = "n"

    def input_shape(self, size: int) -> tuple[int, ...]:
        if self.ndim_grid == 2:
            return (2, size, size)
        return (size,)

    def n_in(self, size: int) -> int:
        return int(np.prod(self.input_shape(size), dtype=np.int64))

    def size_label(self, size: int) -> str:
        return f"{self.size_symbol}={format_size(size)}"

    def spec(self, size: int, dtype=jnp.float32) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.input_shape(size), dtype)

    def concrete(self, size: int, dtype=np.float32, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.uniform(0.5, 1.5, size=self.input_shape(size)).astype(dtype)


def format_size(size: int) -> str:
    """``1000 -> '10^3'`` for exact powers of ten, otherwise the plain integer."""
    if size >= 1000:
        e = round(np.log10(size))
        if 10**e == size:
            return f"10^{e}"
    return str(size)


PROBLEMS: tuple[Problem, ...] = (
    Problem(
        name="diff",
        title="(x[1:] - x[:-1])**2  (Jacobian)",
        kind="jacobian",
        fn=chained_diff,
        sizes=(10**3, 10**4, 10**5, 10**6, 10**7),
        quick_sizes=(10**3, 10**4),
        asdex_max=10**6,
        check_size=10,
    ),
    Problem(
        name="brusselator",
        title="2D Brusselator RHS, periodic N x N grid, input (2, N, N)  (Jacobian)",
        kind="jacobian",
        fn=brusselator,
        sizes=(32, 64, 128, 256, 512, 1024),
        quick_sizes=(32, 64),
        asdex_max=512,
        check_size=4,
        ndim_grid=2,
        size_symbol="N",
    ),
    Problem(
        name="rosenbrock",
        title="chained Rosenbrock  (Hessian)",
        kind="hessian",
        fn=rosenbrock,
        sizes=(10**3, 10**4, 10**5, 10**6, 10**7),
        quick_sizes=(10**3, 10**4),
        asdex_max=10**6,
        check_size=10,
    ),
)


def get_problem(name: str) -> Problem:
    for p in PROBLEMS:
        if p.name == name:
            return p
    raise KeyError(f"unknown problem {name!r}; known: {[p.name for p in PROBLEMS]}")
