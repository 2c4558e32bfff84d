"""What ``sparsediff demo --help`` says about the built-in problems (no JAX needed).

:mod:`sparsediff.problems.catalog` adds the functions and points to these.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ProblemInfo", "PROBLEM_INFO", "DEFAULT_PROBLEM"]


class ProblemInfo(NamedTuple):
    """A built-in problem's name, kind (``"jacobian"`` or ``"hessian"``) and help."""

    name: str
    kind: str
    summary: str
    default_size: int
    size_help: str


PROBLEM_INFO: dict[str, ProblemInfo] = {
    p.name: p
    for p in (
        ProblemInfo(
            "brusselator",
            "jacobian",
            "Jacobian of a 2D Brusselator reaction-diffusion right-hand side",
            64,
            "grid side N (n = 2 N²)",
        ),
        ProblemInfo(
            "rosenbrock",
            "hessian",
            "Hessian of the extended Rosenbrock function (tridiagonal)",
            4096,
            "vector length n",
        ),
        ProblemInfo(
            "conv",
            "jacobian",
            "Jacobian of tanh of a 2D convolution with a constant 3×3 kernel",
            64,
            "image side N (n = N²)",
        ),
        ProblemInfo(
            "arrowhead",
            "jacobian",
            "Jacobian with a dense first row and column (bicoloring: 3 passes)",
            1000,
            "vector length n",
        ),
    )
}

DEFAULT_PROBLEM = "brusselator"
