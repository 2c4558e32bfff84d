"""Built-in test problems used by the demo, the benchmarks and the tests."""

from .arrowhead import arrowhead
from .brusselator import brusselator_rhs
from .catalog import DEFAULT_PROBLEM, DEMO_PROBLEMS, DemoProblem
from .conv import conv2d_tanh
from .hanging_chain import chain_bounds, chain_energy, chain_length, chain_start
from .rosenbrock import extended_rosenbrock

__all__ = [
    "brusselator_rhs",
    "extended_rosenbrock",
    "conv2d_tanh",
    "arrowhead",
    "chain_energy",
    "chain_length",
    "chain_start",
    "chain_bounds",
    "DemoProblem",
    "DEMO_PROBLEMS",
    "DEFAULT_PROBLEM",
]
