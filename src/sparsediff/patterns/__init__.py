"""Sparsity patterns: the boolean structure of sparse Jacobians and Hessians."""

from .npzfile import SparsediffFileError
from .pattern import SparsityPattern, load_pattern, pattern_from_arrays, save_pattern
from .structure import LeafSpec, Structure

__all__ = [
    "SparsityPattern",
    "Structure",
    "LeafSpec",
    "save_pattern",
    "load_pattern",
    "pattern_from_arrays",
    "SparsediffFileError",
]
