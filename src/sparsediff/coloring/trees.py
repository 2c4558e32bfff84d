"""Substitution along the two-colored trees of an acyclic coloring.

Take a tree of an acyclic coloring (colors ``a`` and ``b``), rooted somewhere.
A non-root vertex ``u`` reads ``r_u = B[u, color(parent(u))]`` from the
compressed matrix ``B = H S``; all of ``u``'s seeded neighbours of that color are
in the tree (its parent and its seeded children), so

    H[u, parent(u)] = r_u - sum over seeded children k of H[k, u].

This is the substitution of Gebremedhin, Tarafdar, Manne, Pothen (2007),
processed leaves first.  Unrolled, ``H[u, parent(u)]`` is the alternating sum of
the reads over the subtree of ``u``:

    H[u, parent(u)] = (-1)**depth(u) * sum_{w in subtree(u)} (-1)**depth(w) r_w.

In depth-first preorder every subtree is a contiguous range, so with the signed
reads laid out in preorder and one prefix sum ``P``, every nonzero is
``sign * (P[stop] - P[start])``: a gather, a multiply, a cumulative sum and two
gathers, whatever the depth of the trees (a band gives paths of length ``n``).
The root also reads ``B[root, color(children)]``; with it each tree's signed
reads sum to zero exactly (every edge enters two reads with opposite signs), so
the prefix sum returns to zero between trees instead of drifting.

The edge of a leaf ``k`` is read directly, ``H[k, u] = B[k, color(u)]`` (its
subtree is ``k`` alone): no rounding from the prefix sum, and a tree that is a
star around its root needs no substitution at all.  A leaf that is not seeded
(neutral color) adds nothing to its parent's read and stays out of the
sequence; a seeded one is in it, since its parent's read includes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .graphs import ColoringGraph
from .postprocess import resolve_single_edges

__all__ = ["TreePlan", "plan_trees"]


@njit(cache=True)
def _group_halfedges(ptr, label, num_trees, itype):
    """Group each vertex's half-edges by tree: the runs (vertex, tree), in linear time.

    Per vertex, a stamped table indexed by tree counts the half-edges of each of
    its trees, then places them (a counting sort restricted to the vertex).
    Returns ``hs`` (half-edges grouped), ``hgroup`` (group of each half-edge),
    ``gstart`` (run starts in ``hs``), ``gvert`` and ``gtree`` (per group).
    """
    n = ptr.size - 1
    num_half = label.size
    hs = np.empty(num_half, dtype=itype.dtype)
    hgroup = np.empty(num_half, dtype=itype.dtype)
    gstart = np.empty(num_half + 1, dtype=itype.dtype)
    gvert = np.empty(num_half, dtype=itype.dtype)
    gtree = np.empty(num_half, dtype=itype.dtype)
    stamp = np.full(num_trees, -1, dtype=itype.dtype)
    slot = np.empty(num_trees, dtype=itype.dtype)  # group of (u, tree) while u is processed
    fill = np.empty(num_trees, dtype=itype.dtype)
    g = 0
    for u in range(n):
        lo = ptr[u]
        first = g
        for p in range(lo, ptr[u + 1]):
            t = label[p]
            if stamp[t] != u:
                stamp[t] = u
                slot[t] = g
                gvert[g] = u
                gtree[g] = t
                gstart[g] = 0
                g += 1
            gstart[slot[t]] += 1
        k = lo
        for h in range(first, g):
            size = gstart[h]
            gstart[h] = k
            fill[gtree[h]] = k
            k += size
        for p in range(lo, ptr[u + 1]):
            t = label[p]
            hs[fill[t]] = p
            fill[t] += 1
            hgroup[p] = slot[t]
    gstart[g] = num_half
    return hs, hgroup, gstart[: g + 1], gvert[:g], gtree[:g]


@njit(cache=True)
def _edge_list(ptr, idx, label, itype):
    """Undirected edges ``u < w`` and their tree labels."""
    n = ptr.size - 1
    num_edges = idx.size // 2
    eu = np.empty(num_edges, dtype=itype.dtype)
    ew = np.empty(num_edges, dtype=itype.dtype)
    et = np.empty(num_edges, dtype=itype.dtype)
    e = 0
    for u in range(n):
        for p in range(ptr[u], ptr[u + 1]):
            if u < idx[p]:
                eu[e] = u
                ew[e] = idx[p]
                et[e] = label[p]
                e += 1
    return eu, ew, et


@njit(cache=True)
def _default_roots(gstart, gvert, gtree, num_trees):
    """Per tree: the group of largest tree-degree (ties: smallest vertex); edge counts."""
    root = np.full(num_trees, -1, dtype=np.int64)
    half = np.zeros(num_trees, dtype=np.int64)
    for g in range(gvert.size):
        t = gtree[g]
        size = gstart[g + 1] - gstart[g]
        half[t] += size
        r = root[t]
        if r < 0:
            root[t] = g
        else:
            rsize = gstart[r + 1] - gstart[r]
            if size > rsize or (size == rsize and gvert[g] < gvert[r]):
                root[t] = g
    return root, half // 2


@njit(cache=True)
def _sequence(hs, hgroup, gstart, gvert, tpos, roots, seeded, itype):
    """Depth-first layout of the trees.

    Returns ``code`` per half-edge (``>= 0``: substituted, the sequence position
    of the edge's child; ``< 0``: read directly, ``-1 - leaf``) and the sequence
    ``(seq_w, seq_x, seq_sign, seq_stop)``: position ``s`` reads
    ``B[seq_w[s], color(seq_x[s])]`` with sign ``seq_sign[s]``, and the subtree of
    its vertex spans positions ``s .. seq_stop[s] - 1``.

    The edge of a vertex without seeded children (a leaf, say) is read directly:
    its subtree in the sequence is the vertex alone.  A seeded leaf still enters
    the sequence, as its parent's read includes it.
    A tree whose root has only leaves (a star) needs no sequence at all.
    """
    num_half = hs.size
    num_groups = gvert.size
    code = np.zeros(num_half, dtype=itype.dtype)
    seq_w = np.empty(num_groups, dtype=itype.dtype)
    seq_x = np.empty(num_groups, dtype=itype.dtype)
    seq_sign = np.empty(num_groups, dtype=np.int8)
    seq_stop = np.empty(num_groups, dtype=itype.dtype)
    stk_g = np.empty(num_groups, dtype=itype.dtype)
    stk_parent = np.empty(num_groups, dtype=itype.dtype)
    stk_edge = np.empty(num_groups, dtype=itype.dtype)
    stk_iter = np.empty(num_groups, dtype=itype.dtype)
    stk_pos = np.empty(num_groups, dtype=itype.dtype)
    stk_depth = np.empty(num_groups, dtype=itype.dtype)
    pos = 0
    for t in range(roots.size):
        r = roots[t]
        inner_child = -1
        for k in range(gstart[r], gstart[r + 1]):
            g2 = hgroup[tpos[hs[k]]]
            if gstart[g2 + 1] - gstart[g2] > 1:
                inner_child = gvert[g2]
                break
        if inner_child < 0:
            # A star around the root: every edge is read directly.
            for k in range(gstart[r], gstart[r + 1]):
                p = hs[k]
                leaf = gvert[hgroup[tpos[p]]]
                code[p] = -1 - leaf
                code[tpos[p]] = -1 - leaf
            continue
        top = 0
        stk_g[0] = r
        stk_parent[0] = -1
        stk_edge[0] = -1
        stk_iter[0] = gstart[r]
        stk_pos[0] = pos
        stk_depth[0] = 0
        seq_w[pos] = gvert[r]
        seq_x[pos] = inner_child  # inner vertices are seeded
        seq_sign[pos] = 1
        pos += 1
        while top >= 0:
            g = stk_g[top]
            k = stk_iter[top]
            if k < gstart[g + 1]:
                stk_iter[top] = k + 1
                p = hs[k]
                q = tpos[p]
                g2 = hgroup[q]
                if g2 == stk_parent[top]:
                    continue
                w = gvert[g2]
                depth = stk_depth[top] + 1
                sign = 1 if depth % 2 == 0 else -1
                if gstart[g2 + 1] - gstart[g2] == 1:
                    code[p] = -1 - w
                    code[q] = -1 - w
                    if seeded[w]:
                        seq_w[pos] = w
                        seq_x[pos] = gvert[g]
                        seq_sign[pos] = sign
                        seq_stop[pos] = pos + 1
                        pos += 1
                    continue
                top += 1
                stk_g[top] = g2
                stk_parent[top] = g
                stk_edge[top] = q
                stk_iter[top] = gstart[g2]
                stk_pos[top] = pos
                stk_depth[top] = depth
                seq_w[pos] = w
                seq_x[pos] = gvert[g]
                seq_sign[pos] = sign
                pos += 1
            else:
                start = stk_pos[top]
                seq_stop[start] = pos
                q = stk_edge[top]
                if q >= 0:
                    # Without seeded children the subtree is the vertex alone: direct.
                    c = start if pos > start + 1 else -1 - gvert[g]
                    code[q] = c
                    code[tpos[q]] = c
                top -= 1
    return code, seq_w[:pos], seq_x[:pos], seq_sign[:pos], seq_stop[:pos]


@dataclass(frozen=True)
class TreePlan:
    """Substitution plan of an acyclic coloring, per half-edge of the graph.

    Attributes:
        needed: vertices that must be seeded (inner tree vertices, roots, the
            chosen ends of single edges, diagonal vertices).
        code: per half-edge; ``code >= 0``: substituted, the edge is
            ``seq_sign[s] * (P[seq_stop[s]] - P[s])`` for ``s = code`` and ``P`` the
            exclusive prefix sum of the signed sequence; ``code < 0``: read
            directly as ``B[leaf, color(other end)]`` with ``leaf = -1 - code``.
        seq_w, seq_x, seq_sign, seq_stop: the sequence, in depth-first preorder
            of the trees: ``seq_sign * B[seq_w, color(seq_x)]``, and where the
            subtree of each position ends.
        edge_u, edge_w, edge_tree: the undirected edges ``u < w`` and their tree
            index ``0 .. num_trees - 1``.
        roots: per tree, its root vertex.
    """

    needed: np.ndarray
    code: np.ndarray
    seq_w: np.ndarray
    seq_x: np.ndarray
    seq_sign: np.ndarray
    seq_stop: np.ndarray
    edge_u: np.ndarray
    edge_w: np.ndarray
    edge_tree: np.ndarray
    roots: np.ndarray


def plan_trees(
    graph: ColoringGraph,
    tree_label: np.ndarray,
    num_trees: int,
    *,
    diagonal: np.ndarray,
    vclass: np.ndarray,
    postprocessing: bool,
) -> TreePlan:
    """Root the trees, choose the seeded vertices and lay out the substitution."""
    n = graph.num_vertices
    num_half = graph.idx.size
    label = tree_label
    big = max(num_half + 1, n + 1) >= 2**31 - 1
    itype = np.empty(0, dtype=np.int64 if big else np.int32)
    hs, hgroup, gstart, gvert, gtree = _group_halfedges(graph.ptr, label, num_trees, itype)
    roots, edges = _default_roots(gstart, gvert, gtree, num_trees)
    gsize = np.diff(gstart)
    if postprocessing:
        needed = np.asarray(diagonal, dtype=bool).copy()
        needed[gvert[gsize >= 2]] = True
    else:
        needed = (np.diff(graph.ptr) > 0) | np.asarray(diagonal, dtype=bool)
    single = np.flatnonzero(edges == 1)
    if single.size:
        # The two groups of a single-edge tree: its default root and the other end.
        r = roots[single]
        p = hs[gstart[r]]
        other = hgroup[graph.transpose[p]]
        chosen = resolve_single_edges(gvert[r], gvert[other], needed, vclass)
        roots[single] = np.where(chosen == gvert[r], r, other)
    code, seq_w, seq_x, seq_sign, seq_stop = _sequence(
        hs, hgroup, gstart, gvert, graph.transpose, roots, needed, itype
    )
    edge_u, edge_w, edge_tree = _edge_list(graph.ptr, graph.idx, label, itype)
    return TreePlan(
        needed=needed,
        code=code,
        seq_w=seq_w,
        seq_x=seq_x,
        seq_sign=seq_sign,
        seq_stop=seq_stop,
        edge_u=edge_u,
        edge_w=edge_w,
        edge_tree=edge_tree,
        roots=gvert[roots] if num_trees else np.zeros(0, dtype=np.int64),
    )
