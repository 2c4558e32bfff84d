"""Partial distance-2 coloring: column and row coloring of a Jacobian pattern.

Greedy first-fit coloring of one side of the bipartite graph, visiting the
vertices in a given order; a vertex gets the smallest color not used by any
vertex that shares a net with it (Gebremedhin, Manne, Pothen 2005, "What color
is your Jacobian?", Algorithm "PartialD2Coloring"; Curtis, Powell, Reid 1974
for the natural order).  The walk goes vertex -> nets -> vertices through the
CSC/CSR arrays; the column-intersection graph is never formed.

Heavy nets.  A net of size ``r`` costs ``r`` steps at each of its ``r`` visits,
``r**2`` in all (a dense row of ``10**5`` columns: ``10**10`` steps).  For the
largest nets the kernel instead keeps, per net, a "next free color" table with
path halving (a disjoint-set forest over the colors): the smallest color at
least ``c`` that no vertex of the net uses is found in near-constant time.  The
first-fit color is then the smallest ``c`` that is neither marked by a light net
nor used in a heavy net, found by alternately skipping the two.  The tables
take ``num_heavy * (num_vertices + 2)`` integers, capped by a memory budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from .indexing import ui

if TYPE_CHECKING:
    from .graphs import ColoringGraph

__all__ = ["greedy_distance2", "distance2_degrees", "heavy_nets"]

#: Nets with at least this many vertices may get a "next free color" table.
HEAVY_NET_SIZE = 256
#: Upper bound on the number of table entries (int32), about 64 MB.
HEAVY_TABLE_BUDGET = 2**24


@njit(cache=True)
def _find_free(nxt, h, c):
    """Smallest color ``>= c`` not used in heavy net ``h`` (path halving)."""
    while nxt[h, c] != c:
        nxt[h, c] = nxt[h, nxt[h, c]]
        c = nxt[h, c]
    return c


@njit(cache=True)
def _greedy_distance2_kernel(order, ptr, idx, net_ptr, net_idx, heavy_slot, num_heavy):
    nv = ptr.size - 1
    color = np.full(nv, -1, dtype=np.int32)
    mark = np.full(nv + 1, -1, dtype=np.int64)
    width = nv + 2
    nxt = np.empty((num_heavy, width), dtype=np.int32)
    for h in range(num_heavy):
        for c in range(width):
            nxt[h, c] = c
    for step in range(order.size):
        v = order[ui(step)]
        has_heavy = False
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            net = idx[ui(p)]
            if heavy_slot[ui(net)] >= 0:
                has_heavy = True
                continue
            for q in range(net_ptr[ui(net)], net_ptr[ui(net + 1)]):
                c = color[ui(net_idx[ui(q)])]
                if c >= 0:
                    mark[ui(c)] = step
        c = 0
        while True:
            while mark[ui(c)] == step:
                c += 1
            if not has_heavy:
                break
            moved = False
            for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
                h = heavy_slot[ui(idx[ui(p)])]
                if h >= 0:
                    c2 = _find_free(nxt, h, c)
                    if c2 != c:
                        c = c2
                        moved = True
            if not moved:
                break
        color[ui(v)] = c
        if has_heavy:
            for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
                h = heavy_slot[ui(idx[ui(p)])]
                if h >= 0:
                    nxt[h, c] = c + 1
    return color


@njit(cache=True)
def _distance2_degrees_kernel(ptr, idx, net_ptr, net_idx):
    nv = ptr.size - 1
    deg = np.zeros(nv, dtype=np.int64)
    mark = np.full(nv, -1, dtype=np.int64)
    for v in range(nv):
        mark[ui(v)] = v
        d = 0
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            net = idx[ui(p)]
            for q in range(net_ptr[ui(net)], net_ptr[ui(net + 1)]):
                w = net_idx[ui(q)]
                if mark[ui(w)] != v:
                    mark[ui(w)] = v
                    d += 1
        deg[ui(v)] = d
    return deg


def heavy_nets(graph: ColoringGraph) -> tuple[np.ndarray, int]:
    """``(slot per net, number of heavy nets)``: the nets that get a free-color table.

    The largest nets of at least :data:`HEAVY_NET_SIZE` vertices, as many as the
    memory budget allows; ``slot[net] = -1`` for the others.
    """
    if graph.net_ptr is None:
        raise ValueError("heavy_nets needs a distance-2 graph (one with nets)")
    if graph.net_ptr is None:
        raise ValueError("heavy_nets needs a distance-2 graph (one with nets)")
    if graph.net_ptr is None:
        raise ValueError("heavy_nets needs a distance-2 graph (one with nets)")
    if graph.net_ptr is None:
        raise ValueError("heavy_nets needs a distance-2 graph (one with nets)")
    if graph.net_ptr is None:
        raise ValueError("heavy_nets needs a distance-2 graph (one with nets)")
    sizes = np.diff(graph.net_ptr)
    slot = np.full(sizes.size, -1, dtype=np.int64)
    candidates = np.flatnonzero(sizes >= HEAVY_NET_SIZE)
    if candidates.size == 0:
        return slot, 0
    budget = max(1, HEAVY_TABLE_BUDGET // (graph.num_vertices + 2))
    if candidates.size > budget:
        keep = np.argsort(-sizes[candidates], kind="stable")[:budget]
        candidates = np.sort(candidates[keep])
    slot[candidates] = np.arange(candidates.size, dtype=np.int64)
    return slot, int(candidates.size)


def greedy_distance2(graph: ColoringGraph, order: np.ndarray) -> np.ndarray:
    """First-fit partial distance-2 coloring of ``graph`` in ``order`` (``int32`` colors)."""
    if graph.kind != "distance2":
        raise ValueError("greedy_distance2 needs a 'distance2' graph")
    slot, num_heavy = heavy_nets(graph)
    return _greedy_distance2_kernel(
        np.asarray(order, dtype=np.int64),
        graph.ptr,
        graph.idx,
        graph.net_ptr,
        graph.net_idx,
        slot,
        num_heavy,
    )


def distance2_degrees(graph: ColoringGraph) -> np.ndarray:
    """Number of distinct vertices sharing a net with each vertex (``int64``)."""
    return _distance2_degrees_kernel(graph.ptr, graph.idx, graph.net_ptr, graph.net_idx)
