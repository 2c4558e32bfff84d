"""``shard_map`` and the collectives inside it.

The body of a ``shard_map`` runs once per shard of the mesh's manual axes. Detection
interprets it for every shard in lockstep: each variable of the body holds one value per
shard. Ordinary equations are evaluated shard by shard by the interpreter; collectives
combine the shards' values:

- ``axis_index``: a known value per shard (so index arithmetic on it stays exact);
- ``pvary``: the identity;
- ``psum`` / ``psum_invariant`` / ``pmax`` / ``pmin``: the element-wise union over the
  shards of each group (the shards that differ only along the reduced axes);
- ``ppermute``: the value of the shard that sends to this one, nothing where none does;
- ``all_gather``: the group's values concatenated (``tiled``) or stacked;
- ``all_to_all``: member ``j`` of a group receives chunk ``j`` of every member's value
  (split along ``split_axis``), concatenated (``tiled``) or stacked along ``concat_axis``;
- ``psum_scatter`` (``reduce_scatter``): member ``j`` receives the union over the group
  of chunk ``j`` of every member's value.

A nested ``shard_map`` runs, for each outer shard, its own shards in lockstep; where its
body uses a collective over an axis it does not own, the whole equation gets the
fallback below. Any other collective (with ``axis_index_groups``, for instance) and
control flow whose body uses a collective get a sound fallback: every output element
depends on everything that the equation's inputs depend on, on any shard. A ``jit``
inside the body is entered in lockstep.

Each shard's inputs are its blocks of the global arguments (``in_specs``); the outputs
are assembled from the shards' blocks (``out_specs``), with the union over the shards
that hold the same block where an output is replicated along an axis.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from jax.extend.core import jaxprs_in_params

from .. import compat
from ..deps import aggregate, take, union, vstack
from ..interpreter import dense_fallback
from ..registry import register_rule_by_name
from ..values import Val

__all__ = ["register", "MAX_SHARDS", "COLLECTIVES"]

#: meshes with more shards than this get the dense fallback (the body runs once per shard)
MAX_SHARDS = 1024

#: primitives that communicate between shards (any not handled exactly gets the fallback)
COLLECTIVES = frozenset(
    {
        "all_gather", "all_gather_invariant", "all_gather_reduced", "all_to_all", "axis_index",
        "pbroadcast", "pmax", "pmin", "ppermute", "precv", "preduced", "psend", "psum",
        "psum_invariant", "pvary", "ragged_all_to_all", "reduce_scatter", "psum_scatter",
        "unreduced_psum", "unreduced_reduce_scatter", "vary_unreduced_cast", "pcast",
        "shard_map",
    }
)  # fmt: skip


class _Fallback(Exception):
    """A collective this module cannot follow exactly (e.g. an axis of an outer mesh)."""


class _Mesh:
    """The shards of a ``shard_map``: coordinates along its manual axes."""

    def __init__(self, mesh: Any, manual: Sequence[str]):
        sizes = dict(mesh.shape)
        self.axes = tuple(a for a in mesh.axis_names if a in set(manual))
        self.sizes = {a: int(sizes[a]) for a in self.axes}
        self.coords = list(itertools.product(*(range(self.sizes[a]) for a in self.axes)))
        self.index = {c: s for s, c in enumerate(self.coords)}

    def __len__(self) -> int:
        return len(self.coords)

    def names(self, axis_name: Any) -> tuple[str, ...]:
        names = (axis_name,) if isinstance(axis_name, str) else tuple(axis_name)
        if not all(isinstance(a, str) and a in self.sizes for a in names):
            raise _Fallback(f"axis {axis_name!r} is not a manual axis of this shard_map")
        return names

    def linear(self, s: int, names: tuple[str, ...]) -> int:
        """The shard's position along ``names`` (row-major, the first name major)."""
        k = 0
        for a in names:
            k = k * self.sizes[a] + self.coords[s][self.axes.index(a)]
        return k

    def groups(self, names: tuple[str, ...]) -> list[list[int]]:
        """The shards split by their coordinates off ``names``; each group in order of the
        position along ``names`` (so a collective's work is done once per group)."""
        off = [i for i, a in enumerate(self.axes) if a not in names]
        by_key: dict[tuple[int, ...], list[int]] = {}
        for s, c in enumerate(self.coords):
            by_key.setdefault(tuple(c[i] for i in off), []).append(s)
        return [sorted(g, key=lambda s: self.linear(s, names)) for g in by_key.values()]


# -- blocks of global values ------------------------------------------------------------------


def _spec_axes(spec: Any, ndim: int) -> list[tuple[str, ...]]:
    entries = list(spec) if spec is not None else []
    entries += [None] * (ndim - len(entries))
    out = []
    for e in entries[:ndim]:
        out.append(() if e is None else (e,) if isinstance(e, str) else tuple(e))
    return out


def _block(mesh: _Mesh, s: int, spec: Any, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The slices of a global array of ``shape`` that shard ``s`` holds."""
    out = []
    for dim, names in zip(shape, _spec_axes(spec, len(shape))):
        names = mesh.names(names) if names else ()
        blocks = math.prod(mesh.sizes[a] for a in names)
        size = dim // max(blocks, 1)
        k = mesh.linear(s, names) if names else 0
        out.append(slice(k * size, (k + 1) * size))
    return tuple(out)


def _local(v: Val, sl: tuple[slice, ...], shape: tuple[int, ...]) -> Val:
    pos = np.arange(v.size, dtype=np.int64).reshape(v.shape)[sl]
    known = None if v.known is None else np.asarray(v.known_np()[sl])
    out = Val(shape, v.dtype, take(v.deps, pos), known)
    if v.bounds is not None:
        lo, hi = (np.broadcast_to(b, v.shape)[sl] for b in v.bounds)
        out.bounds = (np.asarray(lo), np.asarray(hi))
    return out


def _assemble(
    ctx, mesh: _Mesh, vals: list[Val], spec: Any, aval: Any, n: int
) -> Val:  # fmt: skip
    """The global value whose shard blocks are ``vals`` (union where replicated)."""
    shape = tuple(aval.shape)
    size = math.prod(shape)
    positions = np.arange(size, dtype=np.int64).reshape(shape)
    local = vals[0].size
    out_rows = np.concatenate([positions[_block(mesh, s, spec, shape)].ravel()
                               for s in range(len(mesh))])  # fmt: skip
    in_rows = np.arange(len(mesh) * local, dtype=np.int64)
    stacked = vstack([v.deps for v in vals], [local] * len(mesh), n)
    deps = aggregate(stacked, out_rows, in_rows, size)
    known = None
    if all(v.known is not None for v in vals):
        full = np.empty(shape, dtype=np.asarray(vals[0].known).dtype)
        for s in reversed(range(len(mesh))):  # replicated blocks: shard 0's value
            full[_block(mesh, s, spec, shape)] = vals[s].known_np()
        known = full
    return ctx.val_of_aval(aval, deps, known)


# -- collectives ------------------------------------------------------------------------------


def _reduce(kind: str):
    ops = {"sum": np.add.reduce, "max": np.maximum.reduce, "min": np.minimum.reduce}

    def rule(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
        names = mesh.names(eqn.params["axes"])
        outs = []
        for var, per_shard in zip(eqn.outvars, ins):
            vals: list[Val] = [per_shard[0]] * len(mesh)
            for group in mesh.groups(names):
                members = [per_shard[t] for t in group]
                known = None
                if all(m.known is not None for m in members):
                    known = ops[kind]([m.known_np() for m in members]).astype(var.aval.dtype)
                out = ctx.val_of_aval(var.aval, union(*[m.deps for m in members]), known)
                for t in group:
                    vals[t] = out
            outs.append(vals)
        return outs

    return rule


def _axis_index(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
    names = mesh.names(eqn.params["axis_name"])
    aval = eqn.outvars[0].aval
    return [[ctx.val_of_aval(aval, None, np.asarray(mesh.linear(s, names), aval.dtype))
             for s in range(len(mesh))]]  # fmt: skip


def _identity(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
    return [list(per_shard) for per_shard in ins]


def _ppermute(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
    names = mesh.names(eqn.params["axis_name"])
    source = {int(dst): int(src) for src, dst in eqn.params["perm"]}
    groups = mesh.groups(names)
    outs = []
    for var, per_shard in zip(eqn.outvars, ins):
        zeros = ctx.val_of_aval(var.aval, None, np.zeros(var.aval.shape, var.aval.dtype))
        vals: list[Val] = [zeros] * len(mesh)  # where nobody sends: zeros
        for group in groups:
            for dst, s in enumerate(group):
                src = source.get(dst)
                if src is not None:
                    v = per_shard[group[src]]
                    out = ctx.val_of_aval(var.aval, v.deps, v.known)
                    out.bounds = v.bounds
                    vals[s] = out
        outs.append(vals)
    return outs


def _all_gather(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
    names = mesh.names(eqn.params["axis_name"])
    dim, tiled = int(eqn.params["all_gather_dimension"]), bool(eqn.params["tiled"])
    aval = eqn.outvars[0].aval
    vals: list[Val] = [ins[0][0]] * len(mesh)
    for group in mesh.groups(names):
        members = [ins[0][t] for t in group]
        local = members[0].size
        rows = np.arange(len(members) * local, dtype=np.int64).reshape(
            (len(members), *members[0].shape)
        )
        parts = list(rows)
        order = np.concatenate(parts, axis=dim) if tiled else np.stack(parts, axis=dim)
        stacked = vstack([m.deps for m in members], [local] * len(members), ctx.n)
        known = None
        if all(m.known is not None for m in members):
            ks = [m.known_np() for m in members]
            known = np.concatenate(ks, axis=dim) if tiled else np.stack(ks, axis=dim)
        out = ctx.val_of_aval(aval, take(stacked, order), known)
        for t in group:
            vals[t] = out
    return [vals]


def _member_rows(members: list[Val]) -> np.ndarray:
    """Positions of the members' elements in their vertical stack, ``(k, *shape)``."""
    local = members[0].size
    return np.arange(len(members) * local, dtype=np.int64).reshape(
        (len(members), *members[0].shape)
    )


def _exchange(ctx, mesh: _Mesh, eqn, ins, axis: int, combine) -> list[list[Val]]:
    """A collective in which member ``j`` of a group receives chunk ``j`` (along
    ``axis``) of every member's operand: ``combine(chunks)`` arranges the chunks it
    receives, one per sender (position or value arrays), into an array with a leading
    axis of sources per output element (a reduction has several: they are united).
    Each operand is split once per group."""
    if eqn.params.get("axis_index_groups") is not None:
        raise _Fallback("axis_index_groups")
    names = mesh.names(eqn.params["axis_name"])
    aval = eqn.outvars[0].aval
    shape = tuple(aval.shape)
    size = math.prod(shape)
    out_rows = np.arange(size, dtype=np.int64).reshape(shape)
    vals: list[Val] = [ins[0][0]] * len(mesh)
    for group in mesh.groups(names):
        members = [ins[0][t] for t in group]
        k = len(members)
        pieces = [np.split(r, k, axis=axis) for r in _member_rows(members)]
        stacked = vstack([m.deps for m in members], [members[0].size] * k, ctx.n)
        known_pieces = None
        if all(m.known is not None for m in members):
            known_pieces = [np.split(m.known_np(), k, axis=axis) for m in members]
        for j, t in enumerate(group):
            sources = combine([p[j] for p in pieces])  # (sources, *shape)
            if sources.shape[1:] != shape:
                raise _Fallback(f"{eqn.primitive.name}: unexpected output shape")
            rows = np.broadcast_to(out_rows, sources.shape)
            deps = aggregate(stacked, rows.ravel(), sources.ravel(), size)
            known = None
            if known_pieces is not None:
                known = np.sum(combine([p[j] for p in known_pieces]), axis=0).astype(aval.dtype)
            vals[t] = ctx.val_of_aval(aval, deps, known)
    return [vals]


def _all_to_all(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
    split, concat = int(eqn.params["split_axis"]), int(eqn.params["concat_axis"])
    tiled = bool(eqn.params["tiled"])

    def combine(chunks: list[np.ndarray]) -> np.ndarray:
        if tiled:
            out = np.concatenate(chunks, axis=concat)
        else:
            out = np.stack([np.squeeze(c, axis=split) for c in chunks], axis=concat)
        return out[None]  # one source per output element

    return _exchange(ctx, mesh, eqn, ins, split, combine)


def _reduce_scatter(ctx, mesh: _Mesh, eqn, ins: list[list[Val]]) -> list[list[Val]]:
    dim, tiled = int(eqn.params["scatter_dimension"]), bool(eqn.params["tiled"])

    def combine(chunks: list[np.ndarray]) -> np.ndarray:  # summed over the senders
        return np.stack(chunks if tiled else [np.squeeze(c, axis=dim) for c in chunks])

    return _exchange(ctx, mesh, eqn, ins, dim, combine)


_HANDLERS = {
    "psum": _reduce("sum"),
    "psum_invariant": _reduce("sum"),
    "pmax": _reduce("max"),
    "pmin": _reduce("min"),
    "axis_index": _axis_index,
    "pvary": _identity,
    "ppermute": _ppermute,
    "all_gather": _all_gather,
    "all_gather_invariant": _all_gather,
    "all_to_all": _all_to_all,
    "reduce_scatter": _reduce_scatter,
    "psum_scatter": _reduce_scatter,
}


# -- the body, in lockstep -------------------------------------------------------------------


def _uses_collectives(eqn) -> bool:
    return any(compat.contains_primitive(sub, *COLLECTIVES) for sub in jaxprs_in_params(eqn.params))


def _everything(ctx, eqn, ins: list[list[Val]], shards: int) -> list[list[Val]]:
    flat = [v for per_shard in ins for v in per_shard]
    deps = dense_fallback([v.aval for v in eqn.outvars], flat, eqn.primitive.name)
    return [[ctx.val_of_aval(var.aval, d) for _ in range(shards)]
            for var, d in zip(eqn.outvars, deps)]  # fmt: skip


def _const(ctx, value: Any, aval: Any) -> Val:
    return ctx.const_vals([value], [aval])[0]


def _lockstep(
    ctx, mesh: _Mesh, jaxpr, consts: list[Val], invals: list[list[Val]], nested: bool = False
) -> list[list[Val]]:  # fmt: skip
    """The body for every shard. An equation this module cannot follow gets the
    cross-shard fallback here, unless the ``shard_map`` is ``nested`` in another: its
    collectives may then involve the outer shards, so the failure goes up to the outer
    body, whose fallback covers them."""
    shards = len(mesh)
    env: dict[Any, list[Val]] = {}

    def read(v: Any) -> list[Val]:
        if isinstance(v, compat.Literal):
            return [_const(ctx, compat.literal_value(v), v.aval)] * shards
        return env[v]

    for var, val in zip(jaxpr.constvars, consts):
        env[var] = [val] * shards
    for var, vals in zip(jaxpr.invars, invals):
        env[var] = vals
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        outs: list[list[Val]]
        try:
            if name in _HANDLERS:
                outs = _HANDLERS[name](ctx, mesh, eqn, ins)
            elif name == "shard_map":
                # nested: per outer shard, the inner mesh's shards in lockstep; a
                # collective of the inner body over an outer axis cannot be followed
                # there and sends the whole equation to the cross-shard fallback
                per_shard = [
                    _apply(ctx, eqn, [col[s] for col in ins], nested=True) for s in range(shards)
                ]
                outs = [list(col) for col in zip(*per_shard)] if per_shard else []
            elif name in ("jit", "pjit", "closed_call") and _uses_collectives(eqn):
                closed = eqn.params.get("jaxpr") or eqn.params["call_jaxpr"]
                avals = [v.aval for v in closed.jaxpr.constvars]
                inner = ctx.const_vals(closed.consts, avals)
                outs = _lockstep(ctx, mesh, closed.jaxpr, inner, ins, nested)
            elif name in COLLECTIVES or _uses_collectives(eqn):
                raise _Fallback(name)
            else:
                per_shard = [ctx.eval_eqn(eqn, [col[s] for col in ins]) for s in range(shards)]
                outs = [list(col) for col in zip(*per_shard)] if per_shard else []
        except _Fallback:
            if nested:
                raise
            outs = _everything(ctx, eqn, ins, shards)
        for var, vals in zip(eqn.outvars, outs):
            env[var] = vals
    return [read(v) for v in jaxpr.outvars]


def _apply(ctx, eqn, invals: list[Val], nested: bool = False) -> list[Val]:
    """A ``shard_map`` equation's outputs, or :class:`_Fallback` where a collective
    cannot be followed (an axis it does not own, too many shards)."""
    p = eqn.params
    body = p["jaxpr"]
    closed_consts = getattr(body, "consts", None)
    jaxpr = getattr(body, "jaxpr", body)
    manual = p.get("newly_manual_axes") or p.get("manual_axes") or p["mesh"].axis_names
    mesh = _Mesh(p["mesh"], tuple(manual))
    if len(mesh) > MAX_SHARDS:
        raise _Fallback(f"{len(mesh)} shards")
    ins = []
    for v, spec, var in zip(invals, p["in_specs"], jaxpr.invars):
        shape = tuple(var.aval.shape)
        ins.append([_local(v, _block(mesh, s, spec, v.shape), shape)
                    for s in range(len(mesh))])  # fmt: skip
    consts = []
    if closed_consts is not None:
        consts = ctx.const_vals(closed_consts, [c.aval for c in jaxpr.constvars])
    outs = _lockstep(ctx, mesh, jaxpr, consts, ins, nested)
    out_avals = [v.aval for v in eqn.outvars]
    return [_assemble(ctx, mesh, vals, spec, aval, ctx.n)
            for vals, spec, aval in zip(outs, p["out_specs"], out_avals)]  # fmt: skip


def shard_map_rule(ctx, eqn, invals: list[Val]) -> list[Val]:
    try:
        return _apply(ctx, eqn, invals)
    except _Fallback:  # every output depends on everything its inputs depend on
        out_avals = [v.aval for v in eqn.outvars]
        return [ctx.val_of_aval(a, d) for a, d in
                zip(out_avals, dense_fallback(out_avals, invals, "shard_map"))]  # fmt: skip


shard_map_rule.passes_values = True  # type: ignore[attr-defined]


def register() -> None:
    register_rule_by_name("shard_map", shard_map_rule)
