"""Acyclic coloring of an adjacency graph, for decompression by substitution.

An acyclic coloring is a distance-1 coloring in which every cycle uses at least
three colors; equivalently every two-colored subgraph is a forest (Coleman and
Cai 1986).  It needs fewer colors than a star coloring (``k + 1`` instead of
``2k + 1`` on a band of half-bandwidth ``k``) at the price of recovering the
nonzeros by substitution along the trees.

The greedy algorithm follows Gebremedhin, Tarafdar, Manne, Pothen (2007), "New
acyclic and star coloring algorithms with application to computing Hessians":
the two-colored trees are kept in a disjoint-set forest over the edges, and
color ``c`` is forbidden for ``v`` when two neighbours of ``v`` of the same
color belong to one two-colored tree whose other color is ``c`` (``v`` would
close a cycle).  After ``v`` is colored its edges to colored neighbours join the
trees they extend.

As in :mod:`.star`, every vertex keeps one entry per *distinct* color among its
colored neighbours (with one representative edge), instead of rescanning the
neighbours of its neighbours: all edges from a vertex to neighbours of one color
share the two colors and a vertex, so they lie in one tree.  The cost per step
is the number of distinct colors around the neighbours, not their degrees.

Edges are identified by the smaller of the two positions of their half-edges.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .graphs import ColoringGraph

__all__ = ["acyclic_coloring"]


@njit(cache=True)
def _find(parent, e):
    """Root of ``e``'s set, halving the path on the way."""
    while parent[e] != e:
        parent[e] = parent[parent[e]]
        e = parent[e]
    return e


@njit(cache=True)
def _link(parent, a, b):
    """Merge the sets of ``a`` and ``b``, under ``b``'s root.

    No union by size: ``a`` is a newly colored edge (or a small tree) joining an
    existing tree, and path halving keeps the finds short (amortized logarithmic,
    Tarjan and van Leeuwen 1984), with one array fewer to keep in cache.
    """
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra != rb:
        parent[ra] = rb


@njit(cache=True)
def _acyclic_kernel(order, ptr, idx, tpos, itype):
    """``itype``: an empty array whose dtype (int32 when it fits) the work arrays take."""
    n = ptr.size - 1
    num_half = idx.size
    color = np.full(n, -1, dtype=np.int32)
    length = np.zeros(n + 1, dtype=itype.dtype)
    lcolor = np.empty(num_half, dtype=np.int32)
    ledge = np.empty(num_half, dtype=itype.dtype)
    parent = np.empty(num_half, dtype=itype.dtype)
    for e in range(num_half):
        parent[e] = e
    # First visit of a tree root during the current step: step * 2**32 + neighbour.
    visit = np.full(num_half, -1, dtype=np.int64)
    forbid = np.full(n + 1, -1, dtype=itype.dtype)
    cslot = np.full(n + 1, -1, dtype=itype.dtype)
    for step in range(order.size):
        v = order[step]
        vb = ptr[v]
        for s in range(vb, vb + length[v]):
            c = lcolor[s]
            forbid[c] = step
            cslot[c] = s
        for p in range(ptr[v], ptr[v + 1]):
            w = idx[p]
            if color[w] < 0:
                continue
            tag = np.int64(step) * 4294967296 + w
            for s in range(ptr[w], ptr[w] + length[w]):
                b = lcolor[s]
                if forbid[b] == step:
                    continue
                t = _find(parent, ledge[s])
                seen = visit[t]
                if seen >> 32 != step:
                    visit[t] = tag
                elif seen != tag:
                    # Two neighbours of v lie in the same tree colored (color(w), b).
                    forbid[b] = step
        c = 0
        while forbid[c] == step:
            c += 1
        color[v] = c
        for p in range(ptr[v], ptr[v + 1]):
            w = idx[p]
            e = p if p < tpos[p] else tpos[p]
            wb = ptr[w]
            we = wb + length[w]
            sw = -1
            for s in range(wb, we):
                if lcolor[s] == c:
                    sw = s
                    break
            if color[w] >= 0:
                if sw >= 0:
                    _link(parent, e, ledge[sw])  # same tree through w
                e1 = ledge[cslot[color[w]]]
                if e1 != e:
                    _link(parent, e1, e)  # same tree through v
            if sw < 0:
                lcolor[we] = c
                ledge[we] = e
                length[w] += 1
    # Trees numbered 0, 1, ... in order of first appearance.
    label = np.full(num_half, -1, dtype=itype.dtype)
    tree = np.empty(num_half, dtype=itype.dtype)
    num_trees = 0
    for p in range(num_half):
        e = p if p < tpos[p] else tpos[p]
        r = _find(parent, e)
        if label[r] < 0:
            label[r] = num_trees
            num_trees += 1
        tree[p] = label[r]
    return color, tree, num_trees


def acyclic_coloring(graph: ColoringGraph, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy acyclic coloring in ``order``.

    Returns ``(colors, tree, num_trees)``: ``int32`` colors and, for every
    half-edge, the index ``0 .. num_trees - 1`` of the two-colored tree that holds
    it.
    """
    if graph.kind != "adjacency":
        raise ValueError("acyclic_coloring needs an 'adjacency' graph")
    big = max(graph.idx.size, graph.num_vertices + 1) >= 2**31 - 1
    itype = np.int64 if big else np.int32
    return _acyclic_kernel(
        np.asarray(order, dtype=np.int64),
        graph.ptr,
        graph.idx,
        graph.transpose.astype(itype),
        np.empty(0, dtype=itype),
    )
