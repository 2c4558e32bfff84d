"""The built-in problems of ``sparsediff demo``, by name.

Each :class:`DemoProblem` bundles a function, whether its Jacobian or its
Hessian is wanted, how its input shape follows from one size parameter, and a
point where the derivative is evaluated and checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from .arrowhead import arrowhead
from .brusselator import brusselator_rhs
from .conv import conv2d_tanh
from .rosenbrock import extended_rosenbrock

__all__ = ["DemoProblem", "DEMO_PROBLEMS", "DEFAULT_PROBLEM"]


@dataclass(frozen=True)
class DemoProblem:
    """A built-in problem.

    Attributes:
        name: the name given to ``sparsediff demo --problem``.
        kind: ``"jacobian"`` or ``"hessian"``.
        function: the JAX function of one array argument.
        summary: one line for ``--help``.
        default_size: the size used when none is given.
        size_help: what the size parameter means.
        shape_of: input shape for a size.
        describe: headline for a size (e.g. ``"2D Brusselator on a 64×64 grid"``).
        point_of: a point (from a PRNG key and the input shape) where the
            derivative is evaluated and verified.
    """

    name: str
    kind: str
    function: Callable
    summary: str
    default_size: int
    size_help: str
    shape_of: Callable[[int], tuple[int, ...]]
    describe: Callable[[int], str]
    point_of: Callable[[jax.Array, tuple[int, ...]], jax.Array]


def _near_one(key, shape):
    return 1.0 + 0.1 * jax.random.uniform(key, shape, jnp.float32)


def _uniform(key, shape):
    return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)


DEMO_PROBLEMS: dict[str, DemoProblem] = {
    p.name: p
    for p in (
        DemoProblem(
            name="brusselator",
            kind="jacobian",
            function=brusselator_rhs,
            summary="Jacobian of a 2D Brusselator reaction-diffusion right-hand side",
            default_size=64,
            size_help="grid side N (n = 2 N²)",
            shape_of=lambda size: (2, size, size),
            describe=lambda size: f"2D Brusselator on a {size}×{size} periodic grid",
            point_of=_near_one,
        ),
        DemoProblem(
            name="rosenbrock",
            kind="hessian",
            function=extended_rosenbrock,
            summary="Hessian of the extended Rosenbrock function (tridiagonal)",
            default_size=4096,
            size_help="vector length n",
            shape_of=lambda size: (size,),
            describe=lambda size: "Hessian of the extended Rosenbrock function",
            point_of=_uniform,
        ),
        DemoProblem(
            name="conv",
            kind="jacobian",
            function=conv2d_tanh,
            summary="Jacobian of tanh of a 2D convolution with a constant 3×3 kernel",
            default_size=64,
            size_help="image side N (n = N²)",
            shape_of=lambda size: (size, size),
            describe=lambda size: f"tanh of a 3×3 convolution on a {size}×{size} image",
            point_of=_uniform,
        ),
        DemoProblem(
            name="arrowhead",
            kind="jacobian",
            function=arrowhead,
            summary="Jacobian with a dense first row and column (bicoloring: 3 passes)",
            default_size=1000,
            size_help="vector length n",
            shape_of=lambda size: (size,),
            describe=lambda size: "arrowhead Jacobian (dense first row and column, diagonal)",
            point_of=_uniform,
        ),
    )
}

DEFAULT_PROBLEM = "brusselator"
