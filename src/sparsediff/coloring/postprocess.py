"""Neutral colors: keep only the seeds that decompression reads.

A vertex needs to be in a seed only if some nonzero is read from its color:
the hubs of stars, the inner vertices of the substitution trees, the vertices
with a diagonal nonzero.  A star or tree made of a single edge ``u w`` can be
read from either end.  Every other vertex gets the *neutral* color ``-1``: it is
in no seed, which changes none of the entries that are read.  A color none of
whose vertices is needed disappears, saving one pass (Montoison, Dalle,
Gebremedhin 2025, "Revisiting Sparse Matrix Coloring and Bicoloring", where the
neutral color of bicoloring is extended to symmetric colorings).

For bicoloring a color class is a pair (color, side): a color used by needed
columns costs a forward pass, one used by needed rows a reverse pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .indexing import ui

__all__ = ["resolve_single_edges", "renumber"]


@njit(cache=True)
def _resolve(us, ws, needed, vclass, nclass):
    """Chosen end of each single edge ``(us[e], ws[e])``; updates ``needed``."""
    active = np.zeros(nclass, dtype=np.bool_)
    for v in range(needed.size):
        if needed[ui(v)]:
            active[ui(vclass[ui(v)])] = True
    chosen = np.full(us.size, -1, dtype=np.int64)
    for e in range(us.size):
        u = us[ui(e)]
        w = ws[ui(e)]
        if needed[ui(u)]:
            chosen[ui(e)] = u
        elif needed[ui(w)]:
            chosen[ui(e)] = w
    for e in range(us.size):
        if chosen[ui(e)] >= 0:
            continue
        u = us[ui(e)]
        w = ws[ui(e)]
        if needed[ui(u)]:
            x = u
        elif needed[ui(w)]:
            x = w
        elif active[ui(vclass[ui(u)])]:
            x = u
        elif active[ui(vclass[ui(w)])]:
            x = w
        else:
            x = u
        chosen[ui(e)] = x
        needed[ui(x)] = True
        active[ui(vclass[ui(x)])] = True
    return chosen


def resolve_single_edges(
    us: np.ndarray, ws: np.ndarray, needed: np.ndarray, vclass: np.ndarray
) -> np.ndarray:
    """Pick the end of each single-edge star or tree whose color is read.

    ``needed`` (updated in place) marks the vertices already needed.  An end
    that is needed is preferred, then one whose class is already in use, so that
    the single edges add as few classes as possible.  Returns the chosen vertex
    per edge.
    """
    if us.size == 0:
        return np.zeros(0, dtype=np.int64)
    nclass = int(vclass.max()) + 1 if vclass.size else 1
    return _resolve(
        us.astype(np.int64), ws.astype(np.int64), needed, vclass.astype(np.int64), nclass
    )


def renumber(colors: np.ndarray, seeded: np.ndarray) -> tuple[np.ndarray, int]:
    """Drop unseeded vertices (color ``-1``) and renumber the remaining colors ``0..k-1``.

    The relative order of the colors is kept.  Returns ``(new colors, k)``.
    """
    colors = np.asarray(colors, dtype=np.int64)
    out = np.full(colors.size, -1, dtype=np.int32)
    if colors.size == 0 or not seeded.any():
        return out, 0
    used = np.zeros(int(colors.max()) + 1, dtype=bool)
    used[colors[seeded]] = True
    new_id = np.cumsum(used) - 1
    out[seeded] = new_id[colors[seeded]]
    return out, int(used.sum())
