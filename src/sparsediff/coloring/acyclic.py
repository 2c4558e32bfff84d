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
An entry also records whether the color occurs once or more: a cycle through
``v`` in two colors enters ``v`` through two neighbours of the same color, so the
trees are searched only through the neighbours whose color is repeated around
``v``.

The forest is a disjoint-set forest with union by size and path halving
(Tarjan 1975; Tarjan and van Leeuwen 1984), a root holding minus the size of its
set.  Edges are identified by the smaller of the two positions of their
half-edges; on the augmented graph of bicoloring these are the first half of
the positions, so the other half of the per-edge arrays is never touched.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .graphs import ColoringGraph
from .indexing import ui
from .scratch import Scratch

__all__ = ["acyclic_coloring"]


@njit(cache=True, inline="always")
def _find(parent, e):
    """Root of ``e``'s set (roots hold minus the size of their set), halving the path."""
    while True:
        p = parent[ui(e)]
        if p < 0:
            return e
        g = parent[ui(p)]
        if g < 0:
            return p
        parent[ui(e)] = g
        e = g


@njit(cache=True, inline="always")
def _union(parent, a, b):
    """Merge the sets of roots ``a`` and ``b`` (union by size); return the new root."""
    if a == b:
        return a
    sa = parent[ui(a)]
    sb = parent[ui(b)]
    if sa > sb:  # a is the smaller set
        a, b = b, a
    parent[ui(a)] = sa + sb
    parent[ui(b)] = a
    return a


@njit(cache=True)
def _acyclic_kernel(
    order, ptr, idx, tpos, color, length, lcolor, lcount, ledge, parent, visit, forbid, cslot,
    cstep, croot, tree,
):  # fmt: skip
    """Color the vertices in ``order``; label every half-edge with its tree.

    The arrays are given (see :func:`acyclic_coloring`), uninitialized but for
    ``color`` (``-1``), ``length`` (``0``), ``forbid`` and ``cslot`` (``-1``):
    per CSR slot ``lcolor``, ``lcount`` and ``ledge`` (the list of the distinct
    colors around a vertex, whether one (1) or several (2) of its neighbours have
    each, and one edge to them); per edge (its smaller half-edge position)
    ``parent`` (the disjoint-set forest over the edges) and ``visit`` (the first
    visit of a tree root during a step); per color ``forbid`` and ``cslot`` (for
    the vertex being colored: the step that forbade the color, and its slot in
    the vertex's list), ``cstep`` and ``croot`` (the step that last merged the
    edges to the neighbours of the color, and the root of their tree); ``tree``
    (output, per half-edge).  Returns the number of trees.
    """
    num_half = idx.size
    for p in range(num_half):
        # Only the entries of the edges are written: on the augmented graph of
        # bicoloring they are the first half, and the other half is never touched.
        if p < tpos[ui(p)]:
            parent[ui(p)] = -1
            visit[ui(p)] = -1
    for step in range(order.size):
        v = order[ui(step)]
        vb = ptr[ui(v)]
        for s in range(vb, vb + length[ui(v)]):
            c = lcolor[ui(s)]
            forbid[ui(c)] = step
            cslot[ui(c)] = s
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            w = idx[ui(p)]
            a = color[ui(w)]
            if a < 0 or lcount[ui(cslot[ui(a)])] < 2:
                # A cycle through v in two colors enters v through two neighbours of
                # one color: a color met once around v closes none.
                continue
            # First visit of a tree root during this step: step * 2**32 + neighbour.
            tag = np.int64(step) * 4294967296 + w
            for s in range(ptr[ui(w)], ptr[ui(w)] + length[ui(w)]):
                b = lcolor[ui(s)]
                if forbid[ui(b)] == step:
                    continue
                t = _find(parent, ledge[ui(s)])
                ledge[ui(s)] = t  # any edge of the tree represents it
                seen = visit[ui(t)]
                if seen >> 32 != step:
                    visit[ui(t)] = tag
                elif seen != tag:
                    # Two neighbours of v lie in the same tree colored (color(w), b).
                    forbid[ui(b)] = step
        c = 0
        while forbid[ui(c)] == step:
            c += 1
        color[ui(v)] = c
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            w = idx[ui(p)]
            q = tpos[ui(p)]
            e = p if p < q else q
            wb = ptr[ui(w)]
            we = wb + length[ui(w)]
            sw = -1
            for s in range(wb, we):
                if lcolor[ui(s)] == c:
                    sw = s
                    break
            cw = color[ui(w)]
            if cw >= 0:
                # The edges from v to its neighbours of color cw all join one tree
                # (colors c, cw through v), together with each such neighbour's
                # tree through it.  The edges are new, sets of their own: they hang
                # under the tree of their color class, whose root is kept per color.
                root = croot[ui(cw)] if cstep[ui(cw)] == step else -1
                if sw >= 0:
                    r1 = _find(parent, ledge[ui(sw)])  # the tree through w
                    root = r1 if root < 0 else _union(parent, root, r1)
                if root < 0:
                    root = e
                else:
                    parent[ui(root)] -= 1
                    parent[ui(e)] = root
                croot[ui(cw)] = root
                cstep[ui(cw)] = step
            if sw < 0:
                lcolor[ui(we)] = c
                lcount[ui(we)] = 1
                ledge[ui(we)] = e
                length[ui(w)] += 1
            else:
                lcount[ui(sw)] = 2  # two or more: all the test below needs
    # Trees numbered 0, 1, ... in order of first appearance; ``visit`` now holds
    # -2 - label at each root already labelled.
    num_trees = 0
    for p in range(num_half):
        q = tpos[ui(p)]
        if q < p:
            continue
        r = _find(parent, p)
        if visit[ui(r)] >= 0:
            visit[ui(r)] = -1
        label = visit[ui(r)]
        if label == -1:
            label = num_trees
            visit[ui(r)] = -2 - label
            num_trees += 1
        else:
            label = -2 - label
        tree[ui(p)] = label
        tree[ui(q)] = label
    return num_trees


def acyclic_coloring(
    graph: ColoringGraph, order: np.ndarray, scratch: Scratch | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy acyclic coloring in ``order``.

    Returns ``(colors, tree, num_trees)``: ``int32`` colors and, for every
    half-edge, the index ``0 .. num_trees - 1`` of the two-colored tree that holds
    it.  The work arrays, and ``tree``, are taken from ``scratch`` (and the work
    arrays given back; ``tree`` may be given back once used).
    """
    if graph.kind != "adjacency":
        raise ValueError("acyclic_coloring needs an 'adjacency' graph")
    scratch = Scratch() if scratch is None else scratch
    n = graph.num_vertices
    num_half = graph.idx.size
    big = max(num_half, n + 1) >= 2**31 - 1
    itype = np.int64 if big else np.int32
    color = np.full(n, -1, dtype=np.int32)
    tree = scratch.take(num_half, itype)
    work = (
        scratch.take(n + 1, itype, fill=0),  # length
        scratch.take(num_half, np.int32),  # lcolor
        scratch.take(num_half, np.int8),  # lcount (1, or 2 for two or more)
        scratch.take(num_half, itype),  # ledge
        scratch.take(num_half, itype),  # parent
        scratch.take(num_half, np.int64),  # visit
        scratch.take(n + 1, itype, fill=-1),  # forbid
        scratch.take(n + 1, itype, fill=-1),  # cslot
        scratch.take(n + 1, itype, fill=-1),  # cstep
        scratch.take(n + 1, itype),  # croot
    )
    num_trees = _acyclic_kernel(
        np.asarray(order, dtype=np.int64), graph.ptr, graph.idx, graph.transpose, color, *work,
        tree,
    )  # fmt: skip
    scratch.give(*work)
    return color, tree, num_trees
