"""Stages 3–4: compressed AD and decompression, behind prepared sparse derivatives."""

from .api import LazyDerivative, hessian, jacobian, value_and_hessian, value_and_jacobian
from .check import VerificationError, check_hessian, check_jacobian
from .prepared import CompressedDerivative, SparseDerivative
from .row_blocks import RowBlocks, ShardedJacobian, sharded_jacobian
from .verify import PatternMismatchError

__all__ = [
    "jacobian",
    "hessian",
    "value_and_jacobian",
    "value_and_hessian",
    "SparseDerivative",
    "LazyDerivative",
    "CompressedDerivative",
    "check_jacobian",
    "check_hessian",
    "VerificationError",
    "PatternMismatchError",
    "sharded_jacobian",
    "ShardedJacobian",
    "RowBlocks",
]
