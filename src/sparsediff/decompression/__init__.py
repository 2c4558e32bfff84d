"""Stage 4: from compressed products to the sparse derivative, in JAX."""

from .formats import OUTPUT_FORMATS
from .jax_plan import JaxPlan

__all__ = ["JaxPlan", "OUTPUT_FORMATS"]
