"""Decompression plans of star and acyclic colorings, assembled in one compiled pass.

Every nonzero ``k`` of the pattern (row-major) is an edge of the colored adjacency
graph between the vertices ``shift + rows[k]`` and ``cols[k]`` (``shift = 0`` for
a symmetric pattern; ``shift = n`` for the augmented matrix of bicoloring, whose
rows follow the ``n`` columns), held by the half-edge ``nz_position[k]``
(``-1``: a diagonal nonzero) or, for bicoloring, ``half_offset + k``.

A product entry is read through the *reader* ``(vcolor, n0, m, kf)``: the flat
index of ``B[w, color(x)]`` is ``(w - n0) * kf + vcolor[x]`` for ``w >= n0`` (the
forward block, ``kf`` columns) and ``m * kf + vcolor[x] * n0 + w`` otherwise (the
reverse block of bicoloring, ``n0 = n`` columns, after the ``m x kf`` forward
block).  A symmetric problem has ``n0 = 0``: its product is one forward block.

The kernels write the plan's index arrays directly in their final integer type,
so no temporary per-nonzero arrays are made in numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .indexing import ui

__all__ = ["Nonzeros", "Reader", "star_plan", "substitution_plan"]


class Nonzeros:
    """The nonzeros of a pattern as edges of the adjacency graph (see the module)."""

    __slots__ = ("rows", "cols", "shift", "nz_position", "half_offset")

    def __init__(self, rows, cols, shift: int, nz_position=None, half_offset: int = 0) -> None:
        self.rows = np.asarray(rows)
        self.cols = np.asarray(cols)
        self.shift = int(shift)
        self.nz_position = np.zeros(0, dtype=np.int64) if nz_position is None else nz_position
        self.half_offset = int(half_offset)

    def args(self) -> tuple:
        return self.rows, self.cols, self.shift, self.nz_position, self.half_offset


class Reader:
    """Flat index of ``B[w, color(x)]`` (see the module): ``vcolor``, ``n0``, ``m``, ``kf``."""

    __slots__ = ("vcolor", "n0", "m", "kf")

    def __init__(self, vcolor: np.ndarray, n0: int, m: int, kf: int) -> None:
        self.vcolor = np.asarray(vcolor)
        self.n0, self.m, self.kf = int(n0), int(m), int(kf)

    def args(self) -> tuple:
        return self.vcolor, self.n0, self.m, self.kf


@njit(cache=True, inline="always")
def _flat(w, x, vcolor, n0, m, kf):
    c = np.int64(vcolor[ui(x)])
    w = np.int64(w)
    if w >= n0:
        return (w - n0) * kf + c
    return m * kf + c * n0 + w


@njit(cache=True, inline="always")
def _half(k, nz_position, half_offset):
    if nz_position.size:
        return nz_position[ui(k)]
    return half_offset + k


@njit(cache=True)
def _count_diagonal(nz_position):
    count = 0
    for k in range(nz_position.size):
        if nz_position[ui(k)] < 0:
            count += 1
    return count


@njit(cache=True)
def _star_plan(
    rows, cols, shift, nz_position, half_offset, half_hub, vcolor, n0, m, kf, direct_nz, direct_src
):
    nnz = rows.size
    noff = nnz - _count_diagonal(nz_position)
    a = 0
    b = noff
    for k in range(nnz):
        h = _half(k, nz_position, half_offset)
        if h < 0:
            v = rows[ui(k)]
            direct_nz[ui(b)] = k
            direct_src[ui(b)] = _flat(v, v, vcolor, n0, m, kf)
            b += 1
        else:
            hub = half_hub[ui(h)]
            spoke = shift + rows[ui(k)] + cols[ui(k)] - hub
            direct_nz[ui(a)] = k
            direct_src[ui(a)] = _flat(spoke, hub, vcolor, n0, m, kf)
            a += 1


@njit(cache=True)
def _substitution_plan(
    rows, cols, shift, nz_position, half_offset, code, seq_w, seq_x, seq_stop, seq_sign,
    vcolor, n0, m, kf, direct_nz, direct_src, subst_src, subst_nz, subst_start, subst_stop,
    subst_out_sign,
):  # fmt: skip
    """Fill the plan's arrays (each of ``nnz`` entries at most); return the direct count.

    One pass; the diagonal nonzeros (after the others among the direct ones) wait
    in the tail of ``subst_nz`` and ``subst_start`` until the end.
    """
    nnz = rows.size
    a = 0
    j = 0
    d = nnz  # the diagonal ones fill the tail of the subst arrays, backwards
    for k in range(nnz):
        h = _half(k, nz_position, half_offset)
        if h < 0:
            v = rows[ui(k)]
            d -= 1
            subst_nz[ui(d)] = k
            subst_start[ui(d)] = _flat(v, v, vcolor, n0, m, kf)
            continue
        c = code[ui(h)]
        if c < 0:
            # Read directly from the leaf, at the color of the other end.
            leaf = -1 - c
            other = shift + rows[ui(k)] + cols[ui(k)] - leaf
            direct_nz[ui(a)] = k
            direct_src[ui(a)] = _flat(leaf, other, vcolor, n0, m, kf)
            a += 1
        else:
            subst_nz[ui(j)] = k
            subst_start[ui(j)] = c
            subst_stop[ui(j)] = seq_stop[ui(c)]
            subst_out_sign[ui(j)] = seq_sign[ui(c)]
            j += 1
    for i in range(nnz - d):
        direct_nz[ui(a + i)] = subst_nz[ui(nnz - 1 - i)]
        direct_src[ui(a + i)] = subst_start[ui(nnz - 1 - i)]
    for s in range(seq_w.size):
        subst_src[ui(s)] = _flat(seq_w[ui(s)], seq_x[ui(s)], vcolor, n0, m, kf)
    return a + nnz - d


def _itype(bound: int) -> np.dtype:
    """The plan's index type (as :class:`DecompressionPlan` narrows)."""
    return np.dtype(np.int32 if bound < 2**31 - 1 else np.int64)


def star_plan(nz: Nonzeros, half_hub: np.ndarray, reader: Reader, bound: int) -> tuple:
    """``(direct_nz, direct_src)``: every nonzero read at its star's hub."""
    nnz = nz.rows.size
    direct_nz, direct_src = (np.empty(nnz, dtype=_itype(bound)) for _ in range(2))
    _star_plan(*nz.args(), half_hub, *reader.args(), direct_nz, direct_src)
    return direct_nz, direct_src


def substitution_plan(nz: Nonzeros, tp, reader: Reader, bound: int) -> tuple:
    """The index arrays of a substitution plan from a :class:`~.trees.TreePlan`.

    Returns ``(direct_nz, direct_src, subst_src, subst_nz, subst_start,
    subst_stop, subst_out_sign)``: nonzeros whose tree edge is read directly (off
    the diagonal first, then the diagonal ones), the reads of the sequence, and
    the substituted nonzeros with their subtree ranges.
    """
    nnz = nz.rows.size
    itype = _itype(bound)
    direct_nz, direct_src, subst_nz, subst_start, subst_stop = (
        np.empty(nnz, dtype=itype) for _ in range(5)
    )
    subst_out_sign = np.empty(nnz, dtype=np.int8)
    subst_src = np.empty(tp.seq_w.size, dtype=itype)
    ndirect = _substitution_plan(
        *nz.args(), tp.code, tp.seq_w, tp.seq_x, tp.seq_stop, tp.seq_sign, *reader.args(),
        direct_nz, direct_src, subst_src, subst_nz, subst_start, subst_stop, subst_out_sign,
    )  # fmt: skip
    # The arrays were sized for every nonzero; the pages past the ends are never
    # touched, so the views cost no memory.
    nsub = nnz - ndirect
    return (
        direct_nz[:ndirect],
        direct_src[:ndirect],
        subst_src,
        subst_nz[:nsub],
        subst_start[:nsub],
        subst_stop[:nsub],
        subst_out_sign[:nsub],
    )
