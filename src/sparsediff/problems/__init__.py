"""Built-in test problems used by the demo, the benchmarks and the tests."""

from .brusselator import brusselator_rhs

__all__ = ["brusselator_rhs"]
