"""sparsediff: automatic sparse differentiation for JAX."""

from .detection import (
    DetectionOptions,
    PatternTooLargeError,
    UnknownPrimitiveWarning,
    UnsupportedPrimitiveError,
    detection_options,
    hessian_sparsity,
    jacobian_sparsity,
    register_rule,
    set_detection_options,
)
from .patterns import LeafSpec, SparsityPattern, Structure

__version__ = "0.1.0"

__all__ = [
    "jacobian_sparsity",
    "hessian_sparsity",
    "SparsityPattern",
    "Structure",
    "LeafSpec",
    "register_rule",
    "detection_options",
    "set_detection_options",
    "DetectionOptions",
    "UnknownPrimitiveWarning",
    "UnsupportedPrimitiveError",
    "PatternTooLargeError",
]
