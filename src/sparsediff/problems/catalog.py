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
from .info import DEFAULT_PROBLEM, PROBLEM_INFO
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
            **PROBLEM_INFO["brusselator"]._asdict(),
            function=brusselator_rhs,
            shape_of=lambda size: (2, size, size),
            describe=lambda size: f"2D Brusselator on a {size}×{size} periodic grid",
            point_of=_near_one,
        ),
        DemoProblem(
            **PROBLEM_INFO["rosenbrock"]._asdict(),
            function=extended_rosenbrock,
            shape_of=lambda size: (size,),
            describe=lambda size: "Hessian of the extended Rosenbrock function",
            point_of=_uniform,
        ),
        DemoProblem(
            **PROBLEM_INFO["conv"]._asdict(),
            function=conv2d_tanh,
            shape_of=lambda size: (size, size),
            describe=lambda size: f"tanh of a 3×3 convolution on a {size}×{size} image",
            point_of=_uniform,
        ),
        DemoProblem(
            **PROBLEM_INFO["arrowhead"]._asdict(),
            function=arrowhead,
            shape_of=lambda size: (size,),
            describe=lambda size: "arrowhead Jacobian (dense first row and column, diagonal)",
            point_of=_uniform,
        ),
    )
}
