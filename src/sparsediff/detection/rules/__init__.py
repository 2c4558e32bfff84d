"""Family registrars that fill :data:`sparsediff.detection.registry.RULES`."""

from . import (
    contractions,
    control_flow,
    elementwise,
    indexing,
    linalg,
    misc,
    reductions,
    structural,
)

FAMILIES = (elementwise, structural, indexing, reductions, contractions, control_flow, linalg, misc)

for _family in FAMILIES:
    _family.register()

__all__ = ["FAMILIES"]
