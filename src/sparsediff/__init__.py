"""sparsediff: automatic sparse differentiation for JAX.

The public names below are imported on first use (PEP 562), so that
``import sparsediff`` and ``sparsediff --help`` do not import JAX; ``from
sparsediff import jacobian`` and ``sparsediff.jacobian`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    "jacobian": ".evaluation",
    "hessian": ".evaluation",
    "value_and_jacobian": ".evaluation",
    "value_and_hessian": ".evaluation",
    "check_jacobian": ".evaluation",
    "check_hessian": ".evaluation",
    "VerificationError": ".evaluation",
    "PatternMismatchError": ".evaluation",
    "color": ".coloring",
    "ColoringResult": ".coloring",
    "save_coloring": ".coloring",
    "load_coloring": ".coloring",
    "check_coloring": ".coloring",
    "InvalidColoringError": ".coloring",
    "jacobian_sparsity": ".detection",
    "hessian_sparsity": ".detection",
    "register_rule": ".detection",
    "detection_options": ".detection",
    "set_detection_options": ".detection",
    "DetectionOptions": ".detection",
    "UnknownPrimitiveWarning": ".detection",
    "UnsupportedPrimitiveError": ".detection",
    "PatternTooLargeError": ".detection",
    "SparsityPattern": ".patterns",
    "Structure": ".patterns",
    "LeafSpec": ".patterns",
    "SparsediffFileError": ".patterns",
    "spy": ".plotting",
    "set_cache": ".cache",
    "sharded_jacobian": ".evaluation",
    "RowBlocks": ".evaluation",
}

__all__ = [
    "jacobian",
    "hessian",
    "value_and_jacobian",
    "value_and_hessian",
    "check_jacobian",
    "check_hessian",
    "VerificationError",
    "PatternMismatchError",
    "color",
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
    "SparsediffFileError",
    "register_rule",
    "detection_options",
    "set_detection_options",
    "DetectionOptions",
    "UnknownPrimitiveWarning",
    "UnsupportedPrimitiveError",
    "PatternTooLargeError",
    "spy",
    "set_cache",
    "sharded_jacobian",
    "RowBlocks",
]

if TYPE_CHECKING:
    from . import coloring
    from .cache import set_cache
    from .coloring import (
        ColoringResult,
        InvalidColoringError,
        check_coloring,
        color,
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
        PatternMismatchError,
        RowBlocks,
        VerificationError,
        check_hessian,
        check_jacobian,
        hessian,
        jacobian,
        sharded_jacobian,
        value_and_hessian,
        value_and_jacobian,
    )
    from .patterns import LeafSpec, SparsediffFileError, SparsityPattern, Structure
    from .plotting import spy


def __getattr__(name: str) -> Any:
    if name == "coloring":  # the subpackage: problems, algorithms, results
        return importlib.import_module(".coloring", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sparsediff' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
