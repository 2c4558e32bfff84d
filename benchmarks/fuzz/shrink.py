"""Shrinking a failing program while it keeps failing the same way.

Greedy: candidates are tried in order, the first that still fails (same class) and is
smaller (:meth:`Program.size`) is kept, and the search restarts from it, until no
candidate applies or the budget of checks is spent. Candidates: drop an extra output;
replace an op by one of its inputs (same shape), which deletes it; simplify a
parameter (constants to zeros or ones, integers towards zero, flags off); shrink a leaf's
shape (a dimension down to one, or dropped); select fewer arguments. Every candidate is
re-validated (:func:`benchmarks.fuzz.generate.validate`) since shapes flow through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from .generate import validate
from .program import Arg, Program

__all__ = ["shrink", "candidates", "prune"]


def prune(p: Program) -> Program:
    """Drop the ops no output depends on (leaves always stay), renumbering the rest."""
    live = set(p.outputs)
    for i in range(len(p.nodes) - 1, -1, -1):
        if i in live:
            live.update(p.nodes[i].inputs)
    keep = [i for i, n in enumerate(p.nodes) if n.op == "leaf" or i in live]
    new_id = {old: new for new, old in enumerate(keep)}
    nodes = tuple(
        dataclasses.replace(p.nodes[i], inputs=tuple(new_id[j] for j in p.nodes[i].inputs))
        for i in keep
    )
    return dataclasses.replace(p, nodes=nodes, outputs=tuple(new_id[j] for j in p.outputs))


def _bypass(p: Program, i: int, j: int) -> Program:
    """Every use of node ``i`` reads node ``j`` instead."""
    sub = lambda k: j if k == i else k  # noqa: E731
    nodes = tuple(
        dataclasses.replace(n, inputs=tuple(sub(k) for k in n.inputs)) if idx > i else n
        for idx, n in enumerate(p.nodes)
    )
    return prune(dataclasses.replace(p, nodes=nodes, outputs=tuple(sub(k) for k in p.outputs)))


def _simpler_values(v) -> Iterator:
    if isinstance(v, np.ndarray):
        if v.dtype == bool:
            if v.any():
                yield np.zeros_like(v)
            if not v.all():
                yield np.ones_like(v)
        elif np.issubdtype(v.dtype, np.floating):
            if v.any():
                yield np.zeros_like(v)
            if (v != 1).any():
                yield np.ones_like(v)
        else:
            if v.any():
                yield np.zeros_like(v)
            if v.size > 1:
                yield v[:1].copy()
    elif isinstance(v, bool):
        if v:
            yield False
    elif isinstance(v, int):
        if v != 0:
            yield 0
        if abs(v) > 1:
            yield v - 1 if v > 0 else v + 1
    elif isinstance(v, tuple) and v and all(isinstance(x, int) and not isinstance(x, bool)
                                            for x in v):  # fmt: skip
        for k, x in enumerate(v):
            if x != 0:
                yield v[:k] + (0,) + v[k + 1 :]


def _with_leaf_shape(p: Program, arg: int, leaf: int, shape) -> Program:
    a = p.args[arg]
    shapes = a.shapes[:leaf] + (tuple(shape),) + a.shapes[leaf + 1 :]
    args = p.args[:arg] + (Arg(shapes, a.keys),) + p.args[arg + 1 :]
    return dataclasses.replace(p, args=args)


def _smaller_shapes(shape) -> Iterator[tuple[int, ...]]:
    for k, d in enumerate(shape):
        if d > 1:
            yield shape[:k] + (1,) + shape[k + 1 :]
            if d > 2:
                yield shape[:k] + (d - 1,) + shape[k + 1 :]
    for k in range(len(shape)):
        yield shape[:k] + shape[k + 1 :]


def candidates(p: Program) -> Iterator[Program]:
    """Smaller variants of ``p`` (not yet validated), most aggressive first."""
    if len(p.outputs) > 1:
        for k in range(len(p.outputs)):
            out = p.outputs[:k] + p.outputs[k + 1 :]
            yield prune(dataclasses.replace(p, outputs=out, out_kind="single" if len(out) == 1
                                            else p.out_kind))  # fmt: skip
    for i in range(len(p.nodes) - 1, -1, -1):
        n = p.nodes[i]
        for j in dict.fromkeys(n.inputs):
            if p.nodes[j].shape == n.shape:
                yield _bypass(p, i, j)
    for i, n in enumerate(p.nodes):
        if n.op == "leaf":
            continue
        for key, v in n.params.items():
            for simpler in _simpler_values(v):
                node = dataclasses.replace(n, params={**n.params, key: simpler})
                yield dataclasses.replace(p, nodes=p.nodes[:i] + (node,) + p.nodes[i + 1 :])
    for ai, a in enumerate(p.args):
        for li, shape in enumerate(a.shapes):
            for smaller in _smaller_shapes(shape):
                yield _with_leaf_shape(p, ai, li, smaller)
    if p.w_shape is not None:
        dropped = _without_w(p)
        if dropped is not None:
            yield dropped
        for smaller in _smaller_shapes(p.w_shape):
            yield dataclasses.replace(p, w_shape=smaller)
    if p.scale is not None and "static_scale" not in p.ops_used():
        yield dataclasses.replace(p, scale=None)
    if p.has_aux:
        yield dataclasses.replace(p, has_aux=False)
    if not isinstance(p.argnums, int) and len(p.argnums) > 1:
        for a in p.argnums:
            yield dataclasses.replace(p, argnums=a)


def _without_w(p: Program) -> Program | None:
    """``p`` without its keyword argument ``w`` when no op reads it."""
    w = next(i for i, n in enumerate(p.nodes) if n.op == "leaf" and n.params["expr"] == "w")
    if w in p.outputs or any(w in n.inputs for n in p.nodes):
        return None
    sub = lambda k: k - 1 if k > w else k  # noqa: E731
    nodes = tuple(
        dataclasses.replace(n, inputs=tuple(sub(k) for k in n.inputs))
        for i, n in enumerate(p.nodes)
        if i != w
    )
    outputs = tuple(sub(k) for k in p.outputs)
    return dataclasses.replace(p, nodes=nodes, outputs=outputs, w_shape=None)


def shrink(
    p: Program, still_fails: Callable[[Program], bool], budget: int = 200
) -> tuple[Program, int]:
    """The smallest variant of ``p`` found for which ``still_fails`` holds, and the number
    of checks spent."""
    spent = 0
    best = p
    improved = True
    while improved and spent < budget:
        improved = False
        for cand in candidates(best):
            if spent >= budget:
                break
            q = validate(cand)
            if q is None or q.size() >= best.size():
                continue
            spent += 1
            if still_fails(q):
                best = q
                improved = True
                break
    return best, spent
