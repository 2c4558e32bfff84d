"""Compiled kernels of the dynamic vertex orders (bucket stacks with lazy deletion).

Smallest-last (Matula and Beck 1983), incidence-degree and dynamic-largest-first
orders, as used for coloring by Coleman and Moré (1983) and Gebremedhin, Manne,
Pothen (2005).  On a ``"distance2"`` graph the neighbours of a vertex are the
distinct vertices that share a net with it, collected with a marker array; on
an ``"adjacency"`` graph they are read from its row.

Every order repeatedly takes a vertex of extreme *key* (its current degree, or
its number of placed neighbours) and changes the keys of its unplaced
neighbours by one.  The vertices wait in one bucket per key, as in the linear
degeneracy orderings of Matula and Beck (1983) and Batagelj and Zaversnik
(2003), "An O(m) algorithm for cores decomposition of networks".  Each bucket is
a stack, and a vertex whose key changes is pushed on the stack of its new key
*without* being removed from the old one: an entry is valid while its vertex's
key equals its stack's key, and stale entries are dropped when they reach the
top (lazy deletion).  All stacks live in one pool of linked nodes written
sequentially, so a key change costs one random access (the key itself) and two
sequential writes, where unlinking and relinking a doubly linked bucket list
costs four to six scattered accesses.  On an adjacency graph the pool holds one
node per vertex and per edge, which is all it can need; on a distance-2 graph it
is capped at :data:`POOL_FACTOR` nodes per vertex and compacted when full
(valid entries only, in order: amortized constant time per push).

(Batagelj and Zaversnik's in-place bin sort, a ``vert/pos/bin`` array with one
swap per key change, was tried too: it is as fast, but each swap moves the
first vertex of a bin to the place of the one that leaves it, which reorders
the ties; that cost colors, e.g. dynamic largest-first on bands, or the reversed
smallest-last bicoloring of an arrowhead.  The stacks keep the tie order below
exactly.)

Ties go to the vertex pushed last on the stack of the extreme key (last in,
first out), i.e. the vertex whose key changed last; initially the vertices are
pushed in reverse, so that the smallest index (smallest-last, dynamic
largest-first) or the first vertex of ``first`` (incidence degree: by
decreasing degree, then increasing index) comes out first.  This is exactly the
order of doubly linked buckets with insertion at the head.  On an adjacency
graph, smallest-last lowers the degrees of a vertex's neighbours backwards
(last row entry first), so that among ties the next vertex removed is the
first neighbour of the row: on bands and meshes the removal then sweeps the
graph in index order, which keeps the coloring passes that follow local in
memory and, on the benchmark patterns, gives as few colors as the forward
sweep or fewer (the banded bicolorings in reversed smallest-last order, 7
colors forwards, take 5).  Distance-2 graphs are swept forwards.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .indexing import ui

__all__ = ["smallest_last", "incidence_degree", "dynamic_largest_first"]

#: Stack pool of a distance-2 graph, in nodes per vertex beyond the first.
POOL_FACTOR = 16


@njit(cache=True)
def _compact(head, node_v, node_next, key):
    """The valid entries of every stack, in order, at the front of a new pool."""
    new_v = np.empty_like(node_v)
    new_next = np.empty_like(node_next)
    k = 0
    for d in range(head.size):
        h = head[ui(d)]
        prev = -1
        head[ui(d)] = -1
        while h >= 0:
            v = node_v[ui(h)]
            if key[ui(v)] == d:
                new_v[ui(k)] = v
                new_next[ui(k)] = -1
                if prev >= 0:
                    new_next[ui(prev)] = k
                else:
                    head[ui(d)] = k
                prev = k
                k += 1
            h = node_next[ui(h)]
    return new_v, new_next, k


@njit(cache=True, inline="always")
def _stacks(key, first, maxkey, node_v, node_next):
    """The stacks with every vertex pushed, in the reverse of ``first``: their heads."""
    head = np.full(maxkey + 1, -1, dtype=key.dtype)
    nv = key.size
    for t in range(nv):
        v = first[ui(nv - 1 - t)]
        node_v[ui(t)] = v
        node_next[ui(t)] = head[ui(key[ui(v)])]
        head[ui(key[ui(v)])] = t
    return head


@njit(cache=True, inline="always")
def _take(smallest, head, node_v, node_next, key, cur):
    """Pop the top valid entry of the smallest (largest) non-empty stack from ``cur`` on."""
    while True:
        h = head[ui(cur)]
        if h < 0:
            cur += 1 if smallest else -1
            continue
        v = node_v[ui(h)]
        head[ui(cur)] = node_next[ui(h)]
        if key[ui(v)] == cur:
            return v, cur


@njit(cache=True, inline="always")
def _adjacency_order(smallest, step, backwards, keys, first, maxkey, ptr, idx, pool, order):
    """Into ``order``, the order in which the vertices are taken, on an adjacency graph.

    A vertex of smallest (``smallest``) or largest key is taken, then the key of
    each unplaced neighbour changes by ``step``; ``backwards``: rows from their
    end.  Keys stay in ``0 .. maxkey``.  ``pool``: two rows (vertex, next node)
    of one node per vertex and per edge.
    """
    nv = keys.size
    key = keys.astype(pool.dtype)  # -1 once taken
    node_v = pool[0]
    node_next = pool[1]
    head = _stacks(key, first, maxkey, node_v, node_next)
    top = nv
    cur = 0 if smallest else maxkey
    for t in range(nv):
        v, cur = _take(smallest, head, node_v, node_next, key, cur)
        key[ui(v)] = -1
        order[ui(t)] = v
        p0 = ptr[ui(v)]
        p1 = ptr[ui(v + 1)]
        for j in range(p1 - p0):
            w = idx[ui(p1 - 1 - j)] if backwards else idx[ui(p0 + j)]
            kw = key[ui(w)]
            if kw < 0:
                continue
            kw += step
            key[ui(w)] = kw
            node_v[ui(top)] = w
            node_next[ui(top)] = head[ui(kw)]
            head[ui(kw)] = top
            top += 1
            if (kw < cur) if smallest else (kw > cur):
                cur = kw


@njit(cache=True, inline="always")
def _distance2_order(smallest, step, keys, first, maxkey, ptr, idx, net_ptr, net_idx, pool, order):
    """As :func:`_adjacency_order` on a distance-2 graph (rows forwards); ``pool`` may fill."""
    nv = keys.size
    key = keys.astype(pool.dtype)
    node_v = pool[0]
    node_next = pool[1]
    cap = node_v.size
    head = _stacks(key, first, maxkey, node_v, node_next)
    top = nv
    mark = np.full(nv, -1, dtype=pool.dtype)
    cur = 0 if smallest else maxkey
    for t in range(nv):
        v, cur = _take(smallest, head, node_v, node_next, key, cur)
        key[ui(v)] = -1
        order[ui(t)] = v
        mark[ui(v)] = t
        for p in range(ptr[ui(v)], ptr[ui(v + 1)]):
            net = idx[ui(p)]
            for q in range(net_ptr[ui(net)], net_ptr[ui(net + 1)]):
                w = net_idx[ui(q)]
                kw = key[ui(w)]
                if kw < 0 or mark[ui(w)] == t:
                    continue
                mark[ui(w)] = t
                kw += step
                key[ui(w)] = kw
                if top == cap:
                    node_v, node_next, top = _compact(head, node_v, node_next, key)
                node_v[ui(top)] = w
                node_next[ui(top)] = head[ui(kw)]
                head[ui(kw)] = top
                top += 1
                if (kw < cur) if smallest else (kw > cur):
                    cur = kw


# One compiled kernel per graph kind; the direction, the step of the keys and the
# way along the rows are arguments (they cost a predictable branch or nothing).
@njit(cache=True)
def _order_adjacency(smallest, step, backwards, keys, first, maxkey, ptr, idx, pool, order):
    _adjacency_order(smallest, step, backwards, keys, first, maxkey, ptr, idx, pool, order)


@njit(cache=True)
def _order_distance2(smallest, step, keys, first, maxkey, ptr, idx, net_ptr, net_idx, pool, order):
    _distance2_order(smallest, step, keys, first, maxkey, ptr, idx, net_ptr, net_idx, pool, order)


# Per order: smallest key first?, the change of a neighbour's key, rows backwards?
_MODES = {
    "smallest_last": (True, -1, True),
    "dynamic_largest_first": (False, -1, False),
    "incidence_degree": (False, 1, False),
}


def _run(name: str, graph, keys: np.ndarray, first: np.ndarray) -> np.ndarray:
    degrees = graph.degrees
    nv = graph.num_vertices
    maxkey = int(degrees.max()) if degrees.size else 0
    smallest, step, backwards = _MODES[name]
    order = np.empty(nv, dtype=np.int64)
    if graph.kind == "adjacency":
        # One push per vertex and per edge.
        cap = nv + graph.idx.size // 2 + 1
        pool = np.empty((2, cap), dtype=np.int32 if cap < 2**31 - 1 else np.int64)
        _order_adjacency(
            smallest, step, backwards, keys, first, maxkey, graph.ptr, graph.idx, pool, order
        )
        return order
    # One push per vertex and per edge of the distance-2 graph, up to the cap.
    cap = nv + min(int(degrees.sum()) // 2, POOL_FACTOR * nv) + 1
    pool = np.empty((2, cap), dtype=np.int32 if cap < 2**31 - 1 else np.int64)
    args = (graph.ptr, graph.idx, graph.net_ptr, graph.net_idx, pool, order)
    _order_distance2(smallest, step, keys, first, maxkey, *args)
    return order


def smallest_last(graph) -> np.ndarray:
    """Smallest-last order: the removal order by smallest current degree, reversed."""
    natural = np.arange(graph.num_vertices)
    return _run("smallest_last", graph, graph.degrees, natural)[::-1].copy()


def dynamic_largest_first(graph) -> np.ndarray:
    """Repeatedly the vertex of largest degree among those not yet placed."""
    natural = np.arange(graph.num_vertices)
    return _run("dynamic_largest_first", graph, graph.degrees, natural)


def incidence_degree(graph) -> np.ndarray:
    """Repeatedly the vertex with the most placed neighbours; ties to the largest degree."""
    degrees = graph.degrees
    first = np.argsort(-degrees, kind="stable")
    return _run("incidence_degree", graph, np.zeros(degrees.size, dtype=np.int64), first)
