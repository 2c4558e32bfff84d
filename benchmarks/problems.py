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
``conv2d``
    ``tanh(lax.conv_general_dilated(u[None, None], K[None, None], (1, 1), "SAME"))`` on an
    ``N x N`` image with a constant 3 x 3 kernel ``K`` whose nine taps are all nonzero: each
    output pixel depends on the (up to) nine pixels around it, ``(3 N - 2)^2`` nonzeros.
``fori_stencil``
    Ten steps ``c <- tanh(c + 0.1 (roll(c, 1) - 2 c + roll(c, -1)))`` of a ``fori_loop`` on a
    periodic vector of length ``n``: a periodic band of half-width 10, ``21 n`` nonzeros.
``scan``
    The recurrence ``h_t = tanh(a h_{t-1} + x_t)``, ``h_0 = 0``, written with ``lax.scan`` and
    returning all ``h_t``: lower-triangular ``(L, L)`` Jacobian, ``L (L + 1) / 2`` nonzeros.

``EXACTNESS_CASES`` are small functions whose exact pattern is narrower than what a detector
that ignores values (constants, loop counters, ``stop_gradient``) finds: a convolution kernel
with zero taps, a ``while_loop`` driven by a counter, ``stop_gradient``, a constant banded
matrix, ``jnp.where`` with a constant mask and a ``fori_loop`` that writes one entry per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "Problem",
    "PROBLEMS",
    "chained_diff",
    "periodic_laplacian",
    "brusselator",
    "brusselator_stacked",
    "rosenbrock",
    "conv2d_tanh",
    "stencil_step",
    "fori_stencil",
    "scan_recurrence",
    "arrowhead",
    "dense_row_col",
    "ExactnessCase",
    "EXACTNESS_CASES",
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


#: Dense 3 x 3 smoothing kernel (all nine taps nonzero) of the ``conv2d`` problem.
CONV_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], np.float32) / 16.0
#: Five-point Laplacian kernel: a 3 x 3 kernel whose four corner taps are zero.
LAPLACE_KERNEL = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], np.float32)
#: Number of time steps of ``fori_stencil``.
FORI_STEPS = 10
#: Coefficient ``a`` of the scan recurrence.
SCAN_A = 0.9


def _conv_tanh(u: jax.Array, kernel: np.ndarray) -> jax.Array:
    k = jnp.asarray(kernel, dtype=u.dtype)
    y = lax.conv_general_dilated(u[None, None], k[None, None], (1, 1), "SAME")
    return jnp.tanh(y)


def conv2d_tanh(u: jax.Array) -> jax.Array:
    """``tanh`` of the "SAME" convolution of an ``N x N`` image with ``CONV_KERNEL``."""
    return _conv_tanh(u, CONV_KERNEL)


def conv2d_laplace_tanh(u: jax.Array) -> jax.Array:
    """Same as ``conv2d_tanh`` with ``LAPLACE_KERNEL`` (zero corner taps)."""
    return _conv_tanh(u, LAPLACE_KERNEL)


def stencil_step(c: jax.Array) -> jax.Array:
    """One explicit step of the periodic 3-point heat stencil."""
    return c + 0.1 * (jnp.roll(c, 1) - 2.0 * c + jnp.roll(c, -1))


def fori_stencil(x: jax.Array) -> jax.Array:
    """``FORI_STEPS`` steps ``c <- tanh(stencil_step(c))`` in a ``lax.fori_loop``."""
    return lax.fori_loop(0, FORI_STEPS, lambda _, c: jnp.tanh(stencil_step(c)), x)


def scan_recurrence(x: jax.Array) -> jax.Array:
    """All states of ``h_t = tanh(SCAN_A h_{t-1} + x_t)``, ``h_0 = 0``, via ``lax.scan``."""

    def step(h: jax.Array, xt: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = jnp.tanh(SCAN_A * h + xt)
        return h, h

    return lax.scan(step, jnp.zeros((), x.dtype), x)[1]


def arrowhead(x: jax.Array) -> jax.Array:
    """``sum(x[1:]**2 x[0]) + sum(cos(x))``: arrowhead Hessian (diagonal, dense row and column 0).

    Not in ``PROBLEMS``; used by the evaluation benchmark.
    """
    return jnp.sum(x[1:] ** 2 * x[0]) + jnp.sum(jnp.cos(x))


def dense_row_col(x: jax.Array) -> jax.Array:
    """``concatenate([sum(x**2), x[1:] x[0] + x[1:]**3])``: a square Jacobian with a dense first
    row, a dense first column and a diagonal: three passes by bicoloring (two JVPs, one VJP),
    ``n`` by either one-sided coloring.  Not in ``PROBLEMS``; used by the evaluation benchmark.
    """
    return jnp.concatenate([jnp.sum(x**2, keepdims=True), x[1:] * x[0] + x[1:] ** 3])


def _square_shape(size: int) -> tuple[int, ...]:
    return (size, size)


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
        size_symbol: how the size is written in tables (``n``, ``N`` or ``L``).
        shape_of: optional map from the size to the input shape; overrides ``ndim_grid``.
        nnz_formula: optional exact number of nonzeros of the pattern as a function of the size
            (shown beside the detected counts; may return ``None`` for degenerate sizes).
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
    shape_of: Callable[[int], tuple[int, ...]] | None = None
    nnz_formula: Callable[[int], int | None] | None = None

    def input_shape(self, size: int) -> tuple[int, ...]:
        if self.shape_of is not None:
            return tuple(self.shape_of(size))
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
        nnz_formula=lambda n: 2 * (n - 1),
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
        nnz_formula=lambda n: 12 * n * n if n >= 3 else None,
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
        nnz_formula=lambda n: 3 * n - 2,
    ),
    Problem(
        name="conv2d",
        title='tanh(conv_general_dilated(u, K, "SAME")), dense constant 3x3 K, N x N image  '
        "(Jacobian)",
        kind="jacobian",
        fn=conv2d_tanh,
        sizes=(64, 128, 256, 512),
        quick_sizes=(32, 64),
        asdex_max=512,
        check_size=8,
        size_symbol="N",
        shape_of=_square_shape,
        nnz_formula=lambda n: (3 * n - 2) ** 2,
    ),
    Problem(
        name="fori_stencil",
        title=f"fori_loop of {FORI_STEPS} steps c <- tanh(c + 0.1 (roll(c,1) - 2c + roll(c,-1))),"
        " periodic  (Jacobian)",
        kind="jacobian",
        fn=fori_stencil,
        sizes=(10**3, 10**4, 10**5),
        quick_sizes=(10**3,),
        asdex_max=10**5,
        check_size=32,
        nnz_formula=lambda n: min(n, 2 * FORI_STEPS + 1) * n,
    ),
    Problem(
        name="scan",
        title="scan recurrence h_t = tanh(a h_{t-1} + x_t), all h_t stacked  (Jacobian)",
        kind="jacobian",
        fn=scan_recurrence,
        sizes=(10**2, 10**3, 10**4),
        quick_sizes=(10**2, 10**3),
        asdex_max=10**4,
        check_size=12,
        size_symbol="L",
        nnz_formula=lambda n: n * (n + 1) // 2,
    ),
)


# --------------------------------------------------------------------------------------------
# Exactness cases: patterns that value-blind detection over-approximates
# --------------------------------------------------------------------------------------------

EXACT_N = 16  # vector length of the 1D exactness cases
EXACT_GRID = 8  # image side of the convolution exactness case
WHILE_STEPS = 3

_BANDED = (np.eye(EXACT_N, k=-1) + 2.0 * np.eye(EXACT_N) + np.eye(EXACT_N, k=1)).astype(np.float32)
_MASK = np.arange(EXACT_N) % 3 == 0


def while_counter_stencil(x: jax.Array) -> jax.Array:
    """``WHILE_STEPS`` stencil steps in a ``while_loop`` whose condition tests a counter."""

    def body(state: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        i, c = state
        return i + 1, jnp.tanh(stencil_step(c))

    return lax.while_loop(lambda s: s[0] < WHILE_STEPS, body, (jnp.int32(0), x))[1]


def stop_gradient_product(x: jax.Array) -> jax.Array:
    """``sin(x) * stop_gradient(roll(x, 1))``: diagonal Jacobian."""
    return jnp.sin(x) * lax.stop_gradient(jnp.roll(x, 1))


def banded_matvec(x: jax.Array) -> jax.Array:
    """Constant tridiagonal matrix times ``x``."""
    return jnp.asarray(_BANDED, dtype=x.dtype) @ x


def where_constant_mask(x: jax.Array) -> jax.Array:
    """``where(mask, sin(x), cos(roll(x, 1)))`` with a constant mask: one nonzero per row."""
    return jnp.where(jnp.asarray(_MASK), jnp.sin(x), jnp.cos(jnp.roll(x, 1)))


def fori_set_diagonal(x: jax.Array) -> jax.Array:
    """``fori_loop(0, n, lambda i, acc: acc.at[i].set(x[i] ** 2), zeros)``: diagonal."""
    return lax.fori_loop(0, x.shape[0], lambda i, acc: acc.at[i].set(x[i] ** 2), jnp.zeros_like(x))


@dataclass(frozen=True)
class ExactnessCase:
    """A small Jacobian-sparsity case with a known exact pattern.

    Attributes:
        name: short identifier.
        title: the expression, for the table.
        fn: function of one array argument.
        shape: input shape.
        analytic_nnz: number of nonzeros of the exact pattern, worked out by hand.
    """

    name: str
    title: str
    fn: Callable[[jax.Array], jax.Array]
    shape: tuple[int, ...]
    analytic_nnz: int | None

    @property
    def n_in(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def spec(self, dtype=jnp.float32) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.shape, dtype)

    def concrete(self, dtype=np.float32, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.uniform(0.5, 1.5, size=self.shape).astype(dtype)


_G = EXACT_GRID
_N = EXACT_N
EXACTNESS_CASES: tuple[ExactnessCase, ...] = (
    ExactnessCase(
        "conv_laplace",
        f"tanh(conv 3x3 Laplacian kernel, zero corners), {_G}x{_G}",
        conv2d_laplace_tanh,
        (_G, _G),
        5 * _G * _G - 4 * _G,  # five taps per pixel, minus the ones falling off the border
    ),
    ExactnessCase(
        "while_counter",
        f"while_loop(i < {WHILE_STEPS}) of tanh(stencil), n={_N}",
        while_counter_stencil,
        (_N,),
        (2 * WHILE_STEPS + 1) * _N,  # periodic band of half-width WHILE_STEPS
    ),
    ExactnessCase(
        "stop_gradient",
        f"sin(x) * stop_gradient(roll(x, 1)), n={_N}",
        stop_gradient_product,
        (_N,),
        _N,
    ),
    ExactnessCase(
        "banded_matvec",
        f"constant tridiagonal A @ x, n={_N}",
        banded_matvec,
        (_N,),
        3 * _N - 2,
    ),
    ExactnessCase(
        "where_mask",
        f"where(constant mask, sin(x), cos(roll(x, 1))), n={_N}",
        where_constant_mask,
        (_N,),
        _N,
    ),
    ExactnessCase(
        "fori_set",
        f"fori_loop(0, n, acc.at[i].set(x[i]**2)), n={_N}",
        fori_set_diagonal,
        (_N,),
        _N,
    ),
)


def get_problem(name: str) -> Problem:
    for p in PROBLEMS:
        if p.name == name:
            return p
    raise KeyError(f"unknown problem {name!r}; known: {[p.name for p in PROBLEMS]}")
