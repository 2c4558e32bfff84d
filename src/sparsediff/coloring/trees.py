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

The trees are walked on the graph itself: in an acyclic coloring, the
neighbours of ``u`` of one color ``c`` all lie in the tree colored ``(color(u),
c)`` through ``u``, so ``u``'s children in a tree are its neighbours of the
other color, read off its row (no grouping of the half-edges by tree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .graphs import ColoringGraph
from .indexing import ui
from .postprocess import resolve_single_edges
from .scratch import Scratch

__all__ = ["TreePlan", "plan_trees"]


@njit(cache=True)
def _roots(
    ptr, idx, color, label, ncolors, root, edges, needed, postprocessing, eu, ew, et, nbcolor
):
    """One pass over the half-edges: the groups, the roots and the edge list.

    A *group* is a vertex ``u`` with its neighbours of one color ``c``: all of
    them lie in one tree (the two-colored tree through ``u`` with colors
    ``color(u)`` and ``c``), and neighbours of different colors in different
    trees, so a group is ``u``'s part of one tree.  Per vertex, a stamped table
    indexed by color (small, so it stays in cache) counts the groups' sizes.

    Per tree ``t``, ``root[t]`` (given ``-1`` in column 0) gets the group of
    largest size (ties: smallest vertex) as ``(vertex, size, first half-edge,
    color of the group)``, and ``edges[t]`` (given ``0``) its number of
    half-edges; with ``postprocessing``, ``needed`` marks the vertices of the
    groups of two half-edges or more (inner tree vertices and roots of stars).
    Writes the undirected edges ``u < w`` with their trees (``eu``, ``ew``,
    ``et``) and the color of the far end of each half-edge (``nbcolor``, read in
    sequence by the walk); returns the number of groups.
    """
    n = ptr.size - 1
    stamp = np.full(ncolors, -1, dtype=np.int64)
    count = np.empty(ncolors, dtype=np.int64)
    first = np.empty(ncolors, dtype=np.int64)  # first half-edge of the group
    num_groups = 0
    e = 0
    for u in range(n):
        lo = ptr[ui(u)]
        hi = ptr[ui(u + 1)]
        for p in range(lo, hi):
            w = idx[ui(p)]
            c = color[ui(w)]
            nbcolor[ui(p)] = c
            if stamp[ui(c)] != u:
                stamp[ui(c)] = u
                count[ui(c)] = 0
                first[ui(c)] = p
            count[ui(c)] += 1
            if u < w:
                eu[ui(e)] = u
                ew[ui(e)] = w
                et[ui(e)] = label[ui(p)]
                e += 1
        # The groups, in the order of their first half-edges.
        for p in range(lo, hi):
            c = nbcolor[ui(p)]
            if first[ui(c)] != p:
                continue
            num_groups += 1
            size = count[ui(c)]
            if postprocessing and size >= 2:
                needed[ui(u)] = True
            t = label[ui(p)]
            edges[ui(t)] += size
            # Groups come by increasing vertex: a tie keeps the earlier root.
            if root[ui(t), 0] < 0 or size > root[ui(t), 1]:
                root[ui(t), 0] = u
                root[ui(t), 1] = size
                root[ui(t), 2] = p
                root[ui(t), 3] = c
    return num_groups


@njit(cache=True, inline="always")
def _is_inner(ptr, idx, nbcolor, w, c, u):
    """Whether ``w`` has a neighbour of color ``c`` besides ``u`` (more tree below it)."""
    for q in range(ptr[ui(w)], ptr[ui(w + 1)]):
        if nbcolor[ui(q)] == c and idx[ui(q)] != u:
            return True
    return False


@njit(cache=True)
def _sequence(
    ptr, idx, color, nbcolor, tpos, root, seeded, code, unset, seq_w, seq_x, seq_stop,
    seq_sign, stk_iter, stk_pos,
):  # fmt: skip
    """Depth-first layout of the trees, walked on the graph itself.

    Writes ``code`` per half-edge (``>= 0``: substituted, the sequence position
    of the edge's child; ``< 0``: read directly, ``-1 - leaf``) and the sequence
    ``(seq_w, seq_x, seq_sign, seq_stop)``: position ``s`` reads
    ``B[seq_w[s], color(seq_x[s])]`` with sign ``seq_sign[s]``, and the subtree of
    its vertex spans positions ``s .. seq_stop[s] - 1``; returns the length of
    the sequence.

    The children of ``u`` in its tree are its neighbours of the tree's other
    color (``root[t, 3]`` at the root, the color of ``u``'s parent below), in the
    order of ``u``'s row.  The edge of a vertex without seeded children (a leaf,
    say) is read directly: its subtree in the sequence is the vertex alone.  A
    seeded leaf still enters the sequence, as its parent's read includes it; an
    unseeded one (a vertex with no children, and inner vertices are all seeded)
    leaves it again when its walk ends.  A tree whose root has only leaves (a
    star) needs no sequence at all.

    ``code`` is given filled with ``unset``; each edge is coded at its
    half-edge in the parent's row, then copied to the other.  The stack (at most
    one entry per group) holds where each vertex's row resumes and its sequence
    position ``s``: its vertex is ``seq_w[s]``.
    """
    pos = 0
    for t in range(root.shape[0]):
        u = root[ui(t), 0]
        cc = root[ui(t), 3]  # the color of u's children
        cu = color[ui(u)]
        lo = ptr[ui(u)]
        hi = ptr[ui(u + 1)]
        inner_child = -1
        for p in range(lo, hi):
            if nbcolor[ui(p)] == cc and _is_inner(ptr, idx, nbcolor, idx[ui(p)], cu, u):
                inner_child = idx[ui(p)]
                break
        if inner_child < 0:
            # A star around the root: every edge is read directly.
            for p in range(lo, hi):
                if nbcolor[ui(p)] == cc:
                    code[ui(p)] = -1 - idx[ui(p)]
            continue
        top = 0
        stk_pos[0] = pos
        seq_w[ui(pos)] = u
        seq_x[ui(pos)] = inner_child  # inner vertices are seeded
        seq_sign[ui(pos)] = 1
        pos += 1
        # The vertex walked, its parent, the colors of its children and its own,
        # its next half-edge, the sign of its children.
        parent = -1
        p = lo
        sign = -1
        while True:
            if p < hi:
                p += 1
                if nbcolor[ui(p - 1)] != cc:
                    continue
                w = idx[ui(p - 1)]
                if w == parent:
                    continue
                # Enter w; if it turns out a leaf, its edge is read directly and it
                # leaves the sequence again unless seeded (inner vertices are).
                stk_iter[ui(top)] = p
                top += 1
                stk_pos[ui(top)] = pos
                seq_w[ui(pos)] = w
                seq_x[ui(pos)] = u
                seq_sign[ui(pos)] = sign
                pos += 1
                parent = u
                u = w
                cc, cu = cu, cc
                p = ptr[ui(w)]
                hi = ptr[ui(w + 1)]
                sign = -sign
            else:
                start = stk_pos[ui(top)]
                if pos == start + 1 and not seeded[ui(u)]:
                    pos = start  # an unseeded leaf: out of the sequence
                seq_stop[ui(start)] = pos
                top -= 1
                if top < 0:
                    break
                # Back in the parent: the edge just finished is its half-edge p - 1.
                p = stk_iter[ui(top)]
                # Without seeded children the subtree is the vertex alone: direct.
                code[ui(p - 1)] = start if pos > start + 1 else -1 - u
                u = parent
                parent = seq_w[ui(stk_pos[ui(top - 1)])] if top > 0 else -1
                cc, cu = cu, cc
                hi = ptr[ui(u + 1)]
                sign = -sign
    # Each edge was coded from one of its half-edges (the parent's side); the other
    # half-edge still holds the mark ``unset``.  Copy in one pass of independent
    # gathers rather than by scattered writes during the walk.
    for p in range(code.size):
        if code[ui(p)] == unset:
            code[ui(p)] = code[ui(tpos[ui(p)])]
    return pos


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
    colors: np.ndarray,
    diagonal: np.ndarray,
    vclass: np.ndarray,
    postprocessing: bool,
    scratch: Scratch | None = None,
) -> TreePlan:
    """Root the trees, choose the seeded vertices and lay out the substitution.

    ``colors``: the acyclic coloring; ``tree_label``: the tree of each
    half-edge; ``vclass``: the class of each vertex, for the choice of the end
    read of a single-edge tree (see :func:`.postprocess.resolve_single_edges`).
    The work arrays are taken from ``scratch`` and given back, except ``code``,
    ``seq_w``, ``seq_x`` and ``seq_stop`` of the plan, which the caller may give
    back once used; ``tree_label`` is given back too (if it came from
    ``scratch``).
    """
    scratch = Scratch() if scratch is None else scratch
    n = graph.num_vertices
    num_half = graph.idx.size
    big = max(num_half + 1, n + 1) >= 2**31 - 1
    itype = np.int64 if big else np.int32
    colors = np.asarray(colors)
    edge_u, edge_w, edge_tree = (np.empty(num_half // 2, dtype=itype) for _ in range(3))
    if postprocessing:
        needed = np.array(diagonal, dtype=bool)
    else:
        needed = (np.diff(graph.ptr) > 0) | np.asarray(diagonal, dtype=bool)
    root = np.full((num_trees, 4), -1, dtype=np.int64)
    edges = np.zeros(num_trees, dtype=np.int64)
    ncolors = int(colors.max()) + 1 if colors.size else 1
    nbcolor = scratch.take(num_half, np.int16 if ncolors <= 2**15 else np.int32)
    num_groups = _roots(
        graph.ptr, graph.idx, colors, tree_label, ncolors, root, edges, needed, postprocessing,
        edge_u, edge_w, edge_tree, nbcolor,
    )  # fmt: skip
    scratch.give(tree_label)
    single = np.flatnonzero(edges == 2)  # two half-edges: one edge
    if single.size:
        if graph.transpose is None:
            raise ValueError("acyclic coloring needs an adjacency graph with its transpose")
        if graph.transpose is None:
            raise ValueError("acyclic coloring needs an adjacency graph with its transpose")
        # A single-edge tree may be read from either end; the walk starts from the
        # other one if that is the end chosen.
        u, p = root[single, 0], root[single, 2]
        w = graph.idx[p]
        chosen = resolve_single_edges(u, w, needed, vclass)
        swap = single[chosen != u]
        u, p = root[swap, 0], root[swap, 2]
        root[swap, 0] = graph.idx[p]
        root[swap, 2] = graph.transpose[p]
        root[swap, 3] = colors[u]
    unset = np.iinfo(itype).max
    code = scratch.take(num_half, itype, fill=unset)
    seq_w, seq_x, seq_stop = (scratch.take(num_groups, itype) for _ in range(3))
    stack = tuple(scratch.take(num_groups, itype) for _ in range(2))
    seq_sign = np.empty(num_groups, dtype=np.int8)
    length = _sequence(
        graph.ptr, graph.idx, colors, nbcolor, graph.transpose, root, needed, code, unset,
        seq_w, seq_x, seq_stop, seq_sign, *stack,
    )  # fmt: skip
    scratch.give(nbcolor, *stack)
    return TreePlan(
        needed=needed,
        code=code,
        seq_w=seq_w[:length],
        seq_x=seq_x[:length],
        seq_sign=seq_sign[:length],
        seq_stop=seq_stop[:length],
        edge_u=edge_u,
        edge_w=edge_w,
        edge_tree=edge_tree,
        roots=root[:, 0].astype(itype) if num_trees else np.zeros(0, dtype=np.int64),
    )
