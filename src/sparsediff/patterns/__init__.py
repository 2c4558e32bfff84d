"""Sparsity patterns: the boolean structure of sparse Jacobians and Hessians."""

from .io import load_pattern, save_pattern
from .pattern import SparsityPattern
from .structure import LeafSpec, Structure

__all__ = ["SparsityPattern", "Structure", "LeafSpec", "save_pattern", "load_pattern"]
