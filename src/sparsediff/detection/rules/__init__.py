"""Family registrars that fill :data:`sparsediff.detection.registry.RULES`."""

from types import ModuleType

from . import (
    collectives,
    contractions,
    control_flow,
    elementwise,
    equinox,
    indexing,
    linalg,
    misc,
    reductions,
    sparse,
    structural,
)

FAMILIES: tuple[ModuleType, ...] = (
    elementwise, structural, indexing, reductions, contractions, control_flow, linalg, misc,
    sparse, equinox, collectives,
)  # fmt: skip

for _family in FAMILIES:
    _family.register()

__all__ = ["FAMILIES"]
