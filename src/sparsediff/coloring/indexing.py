"""Unsigned array indices for the compiled kernels.

numba accepts negative indices (``a[-1]``), so every subscript by a signed
integer costs a sign test and an add, and keeps each array's length live in a
register.  The kernels only ever index with non-negative values; subscripting
with :func:`ui` of the index (an unsigned integer, a no-op conversion) drops
that code.  In the hot loops, with a dozen arrays in play, this shortens the
dependent chains and the register spills noticeably (10-40% on the coloring
kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ui"]


@njit(cache=True, inline="always")
def ui(i):
    """``i`` (non-negative) as an unsigned index."""
    return np.uint64(i)
