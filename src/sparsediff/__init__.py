"""sparsediff: automatic sparse differentiation for JAX."""

from . import coloring
from .coloring import (
    ColoringResult,
    InvalidColoringError,
    check_coloring,
    load_coloring,
    save_coloring,
)
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
from .evaluation import (
    VerificationError,
    check_hessian,
    check_jacobian,
    hessian,
    jacobian,
    value_and_hessian,
    value_and_jacobian,
)
from .patterns import LeafSpec, SparsityPattern, Structure
from .plotting import spy

__version__ = "0.1.0"

__all__ = [
    "jacobian",
    "hessian",
    "value_and_jacobian",
    "value_and_hessian",
    "check_jacobian",
    "check_hessian",
    "VerificationError",
    "coloring",
    "ColoringResult",
    "save_coloring",
    "load_coloring",
    "check_coloring",
    "InvalidColoringError",
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
    "spy",
]
