"""Built-in test problems used by the demo, the benchmarks and the tests.

The names are imported on first use (PEP 562): :mod:`sparsediff.problems.info`
(names, summaries and sizes, for ``sparsediff demo --help``) needs no JAX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "brusselator_rhs": ".brusselator",
    "extended_rosenbrock": ".rosenbrock",
    "conv2d_tanh": ".conv",
    "arrowhead": ".arrowhead",
    "chain_energy": ".hanging_chain",
    "chain_length": ".hanging_chain",
    "chain_start": ".hanging_chain",
    "chain_bounds": ".hanging_chain",
    "bratu_residual": ".bratu",
    "sharded_bratu_residual": ".bratu",
    "DemoProblem": ".catalog",
    "DEMO_PROBLEMS": ".catalog",
    "DEFAULT_PROBLEM": ".info",
}

__all__ = [
    "brusselator_rhs",
    "extended_rosenbrock",
    "conv2d_tanh",
    "arrowhead",
    "chain_energy",
    "chain_length",
    "chain_start",
    "chain_bounds",
    "bratu_residual",
    "sharded_bratu_residual",
    "DemoProblem",
    "DEMO_PROBLEMS",
    "DEFAULT_PROBLEM",
]

if TYPE_CHECKING:
    from .arrowhead import arrowhead
    from .bratu import bratu_residual, sharded_bratu_residual
    from .brusselator import brusselator_rhs
    from .catalog import DEMO_PROBLEMS, DemoProblem
    from .conv import conv2d_tanh
    from .hanging_chain import chain_bounds, chain_energy, chain_length, chain_start
    from .info import DEFAULT_PROBLEM
    from .rosenbrock import extended_rosenbrock


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sparsediff.problems' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
