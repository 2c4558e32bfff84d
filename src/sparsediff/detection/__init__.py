"""Stage 1: global sparsity detection by abstract interpretation of jaxprs."""

from .api import hessian_sparsity, jacobian_sparsity
from .interpreter import PatternTooLargeError
from .registry import (
    DetectionOptions,
    UnknownPrimitiveWarning,
    UnsupportedPrimitiveError,
    detection_options,
    register_rule,
    set_detection_options,
)

__all__ = [
    "jacobian_sparsity",
    "hessian_sparsity",
    "register_rule",
    "detection_options",
    "set_detection_options",
    "DetectionOptions",
    "UnknownPrimitiveWarning",
    "UnsupportedPrimitiveError",
    "PatternTooLargeError",
]
