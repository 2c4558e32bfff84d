"""Star coloring of an adjacency graph, for direct decompression.

A star coloring is a distance-1 coloring in which every path on four vertices
uses at least three colors; equivalently every two-colored connected subgraph
is a star (Coleman and Moré 1984; Gebremedhin, Manne, Pothen 2005).  Then every
off-diagonal nonzero ``H[s, h]`` of a star with hub ``h`` and spoke ``s`` is the
single term ``(H @ S)[s, color(h)]``: direct decompression.

The greedy algorithm follows Gebremedhin, Tarafdar, Manne, Pothen (2007), "New
acyclic and star coloring algorithms with application to computing Hessians".
When vertex ``v`` is colored, a candidate color ``c`` is forbidden if

* a neighbour ``w`` has color ``c`` (distance-1);
* ``v`` has two neighbours of the same color ``a`` and one of them has a
  neighbour of color ``c`` (``v`` would be the middle of a path ``c a c a``);
* ``w`` is ``v``'s only neighbour of color ``a = color(w)``, and ``w`` has a
  neighbour ``x`` of color ``c`` that is the hub of the star through the edge
  ``w x``, i.e. ``x`` already has two neighbours of color ``a``.

Instead of walking the neighbours of every neighbour (quadratic around a hub of
high degree, such as the dense row of an arrowhead matrix), each vertex keeps
the list of the *distinct* colors among its colored neighbours, with for each
color how many neighbours carry it and one representative.  A hub adjacent to
``10**5`` vertices of one color holds one list entry, so the cost per step is
the number of distinct colors around the neighbours, not their degrees.  All
edges from a vertex to the neighbours of one color lie in the same two-colored
star, so one representative per color is enough.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .graphs import ColoringGraph
from .postprocess import _resolve

__all__ = ["star_coloring", "star_structure"]


@njit(cache=True)
def _star_kernel(order, ptr, idx, itype):
    """``itype``: an empty array whose dtype (int32 when it fits) the work arrays take."""
    n = ptr.size - 1
    num_half = idx.size
    color = np.full(n, -1, dtype=np.int32)
    # Per-vertex lists of neighbour colors, stored in the vertex's CSR slots.
    length = np.zeros(n + 1, dtype=itype.dtype)
    lcolor = np.empty(num_half, dtype=np.int32)
    lcount = np.zeros(num_half, dtype=itype.dtype)
    # Slot of the representative's own entry for this vertex's color.
    lpartner = np.full(num_half, -1, dtype=itype.dtype)
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
            cw = color[w]
            if cw < 0:
                continue
            sv = cslot[cw]
            wb = ptr[w]
            we = wb + length[w]
            if lcount[sv] >= 2:
                # v would be the hub of several neighbours colored cw: no color
                # around any of them may be reused.
                for s in range(wb, we):
                    forbid[lcolor[s]] = step
            else:
                # w is v's only neighbour of its color: forbid the colors of the
                # hubs of the stars in which w is a spoke.
                for s in range(wb, we):
                    if lcount[s] == 1 and lcount[lpartner[s]] >= 2:
                        forbid[lcolor[s]] = step
        c = 0
        while forbid[c] == step:
            c += 1
        color[v] = c
        for p in range(ptr[v], ptr[v + 1]):
            w = idx[p]
            wb = ptr[w]
            we = wb + length[w]
            sw = -1
            for s in range(wb, we):
                if lcolor[s] == c:
                    sw = s
                    break
            new = sw < 0
            if new:
                sw = we
                length[w] += 1
                lcolor[sw] = c
                lcount[sw] = 1
                lpartner[sw] = -1
            else:
                lcount[sw] += 1
            cw = color[w]
            if cw >= 0:
                sv = cslot[cw]
                if new:
                    lpartner[sw] = sv
                if lcount[sv] == 1:
                    lpartner[sv] = sw
    return color


@njit(cache=True)
def _star_structure(ptr, idx, tpos, color, needed, vclass, nclass, postprocessing, itype):
    """Hub of every edge's star, with single-edge stars resolved (see postprocess)."""
    n = ptr.size - 1
    num_half = idx.size
    ncolors = 0
    for v in range(n):
        if color[v] + 1 > ncolors:
            ncolors = color[v] + 1
    # counts[p]: neighbours of the source of half-edge p with the color of its target.
    counts = np.empty(num_half, dtype=itype.dtype)
    tally = np.zeros(ncolors + 1, dtype=np.int64)
    for u in range(n):
        for p in range(ptr[u], ptr[u + 1]):
            tally[color[idx[p]]] += 1
        for p in range(ptr[u], ptr[u + 1]):
            counts[p] = tally[color[idx[p]]]
        for p in range(ptr[u], ptr[u + 1]):
            tally[color[idx[p]]] = 0
    num_edges = num_half // 2
    edge_u = np.empty(num_edges, dtype=itype.dtype)
    edge_w = np.empty(num_edges, dtype=itype.dtype)
    edge_hub = np.empty(num_edges, dtype=itype.dtype)
    edge_of = np.empty(num_half, dtype=itype.dtype)
    e = 0
    for u in range(n):
        for p in range(ptr[u], ptr[u + 1]):
            w = idx[p]
            if u < w:
                edge_u[e] = u
                edge_w[e] = w
                if counts[p] >= 2:
                    edge_hub[e] = u
                elif counts[tpos[p]] >= 2:
                    edge_hub[e] = w
                else:
                    edge_hub[e] = -1
                if postprocessing and edge_hub[e] >= 0:
                    needed[edge_hub[e]] = True
                edge_of[p] = e
                edge_of[tpos[p]] = e
                e += 1
    # Single-edge stars: read from a needed end, else from an end whose class is in use.
    num_single = 0
    for e in range(num_edges):
        if edge_hub[e] < 0:
            num_single += 1
    single = np.empty(num_single, dtype=np.int64)
    j = 0
    for e in range(num_edges):
        if edge_hub[e] < 0:
            single[j] = e
            j += 1
    chosen = _resolve(edge_u[single], edge_w[single], needed, vclass, nclass)
    for j in range(num_single):
        edge_hub[single[j]] = chosen[j]
    half_hub = np.empty(num_half, dtype=itype.dtype)
    for p in range(num_half):
        half_hub[p] = edge_hub[edge_of[p]]
    return edge_u, edge_w, edge_hub, half_hub


def _index_type(graph: ColoringGraph) -> type:
    """``int32`` unless the graph is too large for it."""
    return np.int32 if max(graph.idx.size, graph.num_vertices + 1) < 2**31 - 1 else np.int64


def star_coloring(graph: ColoringGraph, order: np.ndarray) -> np.ndarray:
    """Greedy star coloring of an adjacency graph in ``order`` (``int32`` colors)."""
    if graph.kind != "adjacency":
        raise ValueError("star_coloring needs an 'adjacency' graph")
    itype = _index_type(graph)
    return _star_kernel(
        np.asarray(order, dtype=np.int64),
        graph.ptr,
        graph.idx,
        np.empty(0, dtype=itype),
    )


def star_structure(
    graph: ColoringGraph,
    color: np.ndarray,
    needed: np.ndarray,
    vclass: np.ndarray,
    postprocessing: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stars of a star coloring: ``(edge_u, edge_w, edge_hub, half_hub)``.

    ``u`` is the hub of the star through the edge ``u w`` when it has at least
    two neighbours of ``w``'s color; ``u`` and ``w`` cannot both be (that would be
    a two-colored path on four vertices).  A star of a single edge may be read
    from either end: one that is already ``needed`` is preferred, then one whose
    class (``vclass``) is already in use, so single edges add few classes
    (Montoison, Dalle, Gebremedhin 2025).  With ``postprocessing``, ``needed``
    (updated in place) collects the hubs; ``half_hub[p]`` is the hub of the edge
    of half-edge ``p``, whose color is read.
    """
    nclass = int(vclass.max()) + 1 if vclass.size else 1
    return _star_structure(
        graph.ptr,
        graph.idx,
        graph.transpose,
        np.asarray(color, dtype=np.int32),
        needed,
        np.asarray(vclass, dtype=np.int64),
        nclass,
        postprocessing,
        np.empty(0, dtype=_index_type(graph)),
    )
