"""Family registrars that fill :data:`sparsediff.detection.registry.RULES`."""

from . import (
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

FAMILIES = (elementwise, structural, indexing, reductions, contractions, control_flow, linalg, misc)
FAMILIES = (*FAMILIES, sparse, equinox)

for _family in FAMILIES:
    _family.register()

__all__ = ["FAMILIES"]
