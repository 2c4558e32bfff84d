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
from .indexing import ui
from .postprocess import _resolve
from .scratch import Scratch

__all__ = ["star_coloring", "star_structure"]


@njit(cache=True)
def _star_kernel(order, ptr, idx, color, length, lcolor, lcount, lpartner, forbid, cslot):
    """Color the vertices in ``order`` into ``color`` (given ``-1``).

    Work arrays, given: ``length`` (``0``) and, per CSR slot, ``lcolor``,
    ``lcount`` and ``lpartner``: each vertex's list of the distinct colors of its
    neighbours, how many neighbours have each, and the slot of the
    representative's own entry for this vertex's color; per color ``forbid`` and
    ``cslot`` (``-1``).
    """
    for step in range(order.size):
        v = order[ui(step)]
        vb = ptr[ui(v)]
        for s in range(vb, vb + length[ui(v)]):
            c = lcolor[ui(s)]
            forbid[ui(c)] = step
            cslot[ui(c)] = s
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            w = idx[ui(p)]
            cw = color[ui(w)]
            if cw < 0:
                continue
            sv = cslot[ui(cw)]
            wb = ptr[ui(w)]
            we = wb + length[ui(w)]
            if lcount[ui(sv)] >= 2:
                # v would be the hub of several neighbours colored cw: no color
                # around any of them may be reused.
                for s in range(wb, we):
                    forbid[ui(lcolor[ui(s)])] = step
            else:
                # w is v's only neighbour of its color: forbid the colors of the
                # hubs of the stars in which w is a spoke.
                for s in range(wb, we):
                    if lcount[ui(s)] == 1 and lcount[ui(lpartner[ui(s)])] >= 2:
                        forbid[ui(lcolor[ui(s)])] = step
        c = 0
        while forbid[ui(c)] == step:
            c += 1
        color[ui(v)] = c
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            w = idx[ui(p)]
            wb = ptr[ui(w)]
            we = wb + length[ui(w)]
            sw = -1
            for s in range(wb, we):
                if lcolor[ui(s)] == c:
                    sw = s
                    break
            new = sw < 0
            if new:
                sw = we
                length[ui(w)] += 1
                lcolor[ui(sw)] = c
                lcount[ui(sw)] = 1
                lpartner[ui(sw)] = -1
            else:
                lcount[ui(sw)] += 1
            cw = color[ui(w)]
            if cw >= 0:
                sv = cslot[ui(cw)]
                if new:
                    lpartner[ui(sw)] = sv
                if lcount[ui(sv)] == 1:
                    lpartner[ui(sv)] = sw


@njit(cache=True)
def _star_structure(
    ptr, idx, tpos, color, needed, vclass, nclass, postprocessing, counts, edge_of, edge_u,
    edge_w, edge_hub, half_hub,
):  # fmt: skip
    """Hub of every edge's star, with single-edge stars resolved (see postprocess)."""
    n = ptr.size - 1
    num_half = idx.size
    ncolors = 0
    for v in range(n):
        if color[ui(v)] + 1 > ncolors:
            ncolors = color[ui(v)] + 1
    # counts[p]: neighbours of the source of half-edge p with the color of its target.
    tally = np.zeros(ncolors + 1, dtype=np.int64)
    for u in range(n):
        for p in range(ptr[ui(u)], ptr[ui(u + 1)]):
            tally[ui(color[ui(idx[ui(p)])])] += 1
        for p in range(ptr[ui(u)], ptr[ui(u + 1)]):
            counts[ui(p)] = tally[ui(color[ui(idx[ui(p)])])]
        for p in range(ptr[ui(u)], ptr[ui(u + 1)]):
            tally[ui(color[ui(idx[ui(p)])])] = 0
    num_edges = num_half // 2
    e = 0
    for u in range(n):
        for p in range(ptr[ui(u)], ptr[ui(u + 1)]):
            w = idx[ui(p)]
            if u < w:
                edge_u[ui(e)] = u
                edge_w[ui(e)] = w
                if counts[ui(p)] >= 2:
                    edge_hub[ui(e)] = u
                elif counts[ui(tpos[ui(p)])] >= 2:
                    edge_hub[ui(e)] = w
                else:
                    edge_hub[ui(e)] = -1
                if postprocessing and edge_hub[ui(e)] >= 0:
                    needed[ui(edge_hub[ui(e)])] = True
                edge_of[ui(p)] = e
                edge_of[ui(tpos[ui(p)])] = e
                e += 1
    # Single-edge stars: read from a needed end, else from an end whose class is in use.
    num_single = 0
    for e in range(num_edges):
        if edge_hub[ui(e)] < 0:
            num_single += 1
    single = np.empty(num_single, dtype=np.int64)
    j = 0
    for e in range(num_edges):
        if edge_hub[ui(e)] < 0:
            single[ui(j)] = e
            j += 1
    chosen = _resolve(edge_u[single], edge_w[single], needed, vclass, nclass)
    for j in range(num_single):
        edge_hub[ui(single[ui(j)])] = chosen[ui(j)]
    for p in range(num_half):
        half_hub[ui(p)] = edge_hub[ui(edge_of[ui(p)])]


def _index_type(graph: ColoringGraph) -> np.dtype:
    """``int32`` unless the graph is too large for it."""
    small = max(graph.idx.size, graph.num_vertices + 1) < 2**31 - 1
    return np.dtype(np.int32 if small else np.int64)


def star_coloring(
    graph: ColoringGraph, order: np.ndarray, scratch: Scratch | None = None
) -> np.ndarray:
    """Greedy star coloring of an adjacency graph in ``order`` (``int32`` colors).

    The work arrays are taken from ``scratch`` and given back.
    """
    if graph.kind != "adjacency":
        raise ValueError("star_coloring needs an 'adjacency' graph")
    scratch = Scratch() if scratch is None else scratch
    itype = _index_type(graph)
    n = graph.num_vertices
    num_half = graph.idx.size
    color = np.full(n, -1, dtype=np.int32)
    work = (
        scratch.take(n + 1, itype, fill=0),  # length
        scratch.take(num_half, np.int32),  # lcolor
        scratch.take(num_half, itype),  # lcount
        scratch.take(num_half, itype),  # lpartner
        scratch.take(n + 1, itype, fill=-1),  # forbid
        scratch.take(n + 1, itype, fill=-1),  # cslot
    )
    _star_kernel(np.asarray(order, dtype=np.int64), graph.ptr, graph.idx, color, *work)
    scratch.give(*work)
    return color


def star_structure(
    graph: ColoringGraph,
    color: np.ndarray,
    needed: np.ndarray,
    vclass: np.ndarray,
    postprocessing: bool,
    scratch: Scratch | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stars of a star coloring: ``(edge_u, edge_w, edge_hub, half_hub)``.

    ``u`` is the hub of the star through the edge ``u w`` when it has at least
    two neighbours of ``w``'s color; ``u`` and ``w`` cannot both be (that would be
    a two-colored path on four vertices).  A star of a single edge may be read
    from either end: one that is already ``needed`` is preferred, then one whose
    class (``vclass``) is already in use, so single edges add few classes
    (Montoison, Dalle, Gebremedhin 2025).  With ``postprocessing``, ``needed``
    (updated in place) collects the hubs; ``half_hub[p]`` is the hub of the edge
    of half-edge ``p``, whose color is read (taken from ``scratch``: the caller
    may give it back once used).
    """
    scratch = Scratch() if scratch is None else scratch
    nclass = int(vclass.max()) + 1 if vclass.size else 1
    itype = _index_type(graph)
    num_half = graph.idx.size
    counts, edge_of, half_hub = (scratch.take(num_half, itype) for _ in range(3))
    edges = (
        np.empty(num_half // 2, dtype=itype),
        np.empty(num_half // 2, dtype=itype),
        np.empty(num_half // 2, dtype=itype),
    )
    _star_structure(
        graph.ptr, graph.idx, graph.transpose, np.asarray(color, dtype=np.int32), needed,
        np.asarray(vclass, dtype=np.int64), nclass, postprocessing, counts, edge_of, *edges,
        half_hub,
    )  # fmt: skip
    scratch.give(counts, edge_of)
    return (*edges, half_hub)
