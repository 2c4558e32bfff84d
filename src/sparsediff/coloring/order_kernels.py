"""Compiled kernels of the dynamic vertex orders (bucket queues).

Smallest-last (Matula and Beck 1983), incidence-degree and dynamic-largest-first
orders, as used for coloring by Coleman and Moré (1983) and Gebremedhin, Manne,
Pothen (2005).  Each keeps the vertices in buckets indexed by a key (doubly
linked lists), so one step costs the degree of the vertex it removes.  On a
``"distance2"`` graph the neighbours of a vertex are the distinct vertices that
share a net with it, collected with a marker array.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["smallest_last", "incidence_degree", "dynamic_largest_first"]


@njit(cache=True)
def _neighbours(v, ptr, idx, net_ptr, net_idx, distance2, mark, stamp, buf):
    """Write the distinct neighbours of ``v`` into ``buf``; return their number."""
    k = 0
    if not distance2:
        for p in range(ptr[v], ptr[v + 1]):
            buf[k] = idx[p]
            k += 1
        return k
    mark[v] = stamp
    for p in range(ptr[v], ptr[v + 1]):
        net = idx[p]
        for q in range(net_ptr[net], net_ptr[net + 1]):
            w = net_idx[q]
            if mark[w] != stamp:
                mark[w] = stamp
                buf[k] = w
                k += 1
    return k


@njit(cache=True)
def _bucket_insert(v, key, head, nxt, prv):
    h = head[key]
    nxt[v] = h
    prv[v] = -1
    if h >= 0:
        prv[h] = v
    head[key] = v


@njit(cache=True)
def _bucket_remove(v, key, head, nxt, prv):
    a = prv[v]
    b = nxt[v]
    if a >= 0:
        nxt[a] = b
    else:
        head[key] = b
    if b >= 0:
        prv[b] = a


@njit(cache=True)
def _dynamic_order(mode, degrees, first, ptr, idx, net_ptr, net_idx, distance2, max_buf, itype):
    """Shared loop of the three dynamic orders.

    ``mode`` 0: smallest-last (pop the smallest current degree, place it last);
    1: dynamic-largest-first (pop the largest current degree, place it next);
    2: incidence-degree (pop the largest number of already placed neighbours;
    ties to the vertex that comes first in ``first``).
    ``itype``: an empty array whose dtype (int32 when it fits) the work arrays take.
    """
    nv = degrees.size
    order = np.empty(nv, dtype=np.int64)
    if nv == 0:
        return order
    maxdeg = 0
    for v in range(nv):
        if degrees[v] > maxdeg:
            maxdeg = degrees[v]
    head = np.full(maxdeg + 2, -1, dtype=itype.dtype)
    nxt = np.full(nv, -1, dtype=itype.dtype)
    prv = np.full(nv, -1, dtype=itype.dtype)
    key = np.zeros(nv, dtype=itype.dtype)
    done = np.zeros(nv, dtype=np.bool_)
    mark = np.full(nv, -1, dtype=itype.dtype)
    buf = np.empty(max_buf, dtype=itype.dtype)
    if mode == 2:
        # Every key starts at 0; ``first`` lists the vertices by decreasing degree
        # (then increasing index), inserted backwards so the largest is popped first.
        for t in range(nv - 1, -1, -1):
            _bucket_insert(first[t], 0, head, nxt, prv)
    else:
        for v in range(nv - 1, -1, -1):
            key[v] = degrees[v]
            _bucket_insert(v, key[v], head, nxt, prv)
    cur = 0 if mode == 0 else maxdeg
    for t in range(nv):
        if mode == 0:
            while head[cur] < 0:
                cur += 1
        else:
            while head[cur] < 0:
                cur -= 1
        v = head[cur]
        _bucket_remove(v, cur, head, nxt, prv)
        done[v] = True
        if mode == 0:
            order[nv - 1 - t] = v
        else:
            order[t] = v
        k = _neighbours(v, ptr, idx, net_ptr, net_idx, distance2, mark, t, buf)
        for a in range(k):
            w = buf[a]
            if done[w]:
                continue
            _bucket_remove(w, key[w], head, nxt, prv)
            if mode == 2:
                key[w] += 1
                if key[w] > cur:
                    cur = key[w]
            else:
                key[w] -= 1
            _bucket_insert(w, key[w], head, nxt, prv)
        if mode == 0 and cur > 0:
            cur -= 1
    return order


def _run(mode: int, graph) -> np.ndarray:
    degrees = graph.degrees
    distance2 = graph.kind == "distance2"
    if distance2:
        net_ptr, net_idx = graph.net_ptr, graph.net_idx
        max_buf = int(degrees.max()) + 1 if degrees.size else 1
    else:
        net_ptr = np.zeros(1, dtype=np.int64)
        net_idx = np.zeros(0, dtype=graph.idx.dtype)
        max_buf = int(np.diff(graph.ptr).max()) + 1 if graph.num_vertices else 1
    itype = np.empty(0, dtype=np.int32 if graph.num_vertices < 2**31 - 2 else np.int64)
    first = np.argsort(-degrees, kind="stable") if mode == 2 else np.zeros(0, dtype=np.int64)
    return _dynamic_order(
        mode, degrees, first, graph.ptr, graph.idx, net_ptr, net_idx, distance2, max_buf, itype
    )


def smallest_last(graph) -> np.ndarray:
    return _run(0, graph)


def dynamic_largest_first(graph) -> np.ndarray:
    return _run(1, graph)


def incidence_degree(graph) -> np.ndarray:
    return _run(2, graph)
