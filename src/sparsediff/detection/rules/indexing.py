"""Indexing: gather, scatter family, dynamic_slice, dynamic_update_slice.

With known indices the primitive is run on positions (see :mod:`.structural`):
exact, in every mode JAX emits (``clip``, ``fill``/``drop``, promise).
For scatters, the update-to-output map is found by running the *transposed*
gather on output positions, so repeated indices accumulate correctly.

With indices that depend on the input (known only by shape), rules stay sound:
along the indexed axes every element may be reached (the operand is reduced
over those axes); scatters with unknown indices may write anywhere.
"""

from __future__ import annotations

import itertools

import numpy as np
from jax import lax
from jax.extend.core import primitives as P

from ..deps import aggregate, reduce_all, reduce_axes, take, union
from ..intervals import MAX_CANDIDATES, candidates, index_candidates
from ..registry import register_rule

__all__ = ["register", "scatter_targets"]

_I32_MAX = np.iinfo(np.int32).max


def _positions32(shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape, dtype=np.int64))
    if size >= _I32_MAX:
        raise OverflowError("operand too large for 32-bit position arrays")
    return np.arange(size, dtype=np.int32).reshape(shape)


def _as_np(x) -> np.ndarray:
    return np.asarray(x).astype(np.int64, copy=False)


# -- gather -----------------------------------------------------------------
def _position_mode(mode):
    """The mode positions are gathered in: out-of-bounds behaviour that is only
    promised away is taken as XLA implements it for gathers (clamping)."""
    return lax.GatherScatterMode.CLIP if mode == lax.GatherScatterMode.PROMISE_IN_BOUNDS else mode


def _gather_positions(pos: np.ndarray, idx, params) -> np.ndarray:
    out = _pointwise_gather(pos, idx, params)
    if out is None:
        out = P.gather_p.bind(pos, idx, **params)
    return _as_np(out)


def gather_rule(ctx, eqn, invals):
    operand, indices = invals
    params = dict(eqn.params)
    params["fill_value"] = -1
    params["mode"] = _position_mode(params["mode"])
    deps = operand.deps
    shape = operand.shape
    if indices.known is not None:
        return [take(deps, _gather_positions(_positions32(shape), indices.known, params))]
    smap = tuple(params["dimension_numbers"].start_index_map)
    choices = index_candidates(indices, [shape[d] for d in smap])
    if choices is not None:
        # Bounded input-dependent indices: the union over every value they can take.
        pos = _positions32(shape)
        return [union(*(take(deps, _gather_positions(pos, idx, params)) for idx in choices))]
    # Unknown indices: any element along the indexed axes may be taken.
    deps = reduce_axes(deps, shape, smap)
    red_shape = tuple(1 if i in smap else s for i, s in enumerate(shape))
    pos = np.broadcast_to(_positions32(red_shape), shape)
    params["mode"] = lax.GatherScatterMode.CLIP
    return [take(deps, _gather_positions(pos, np.zeros(indices.shape, np.int32), params))]


def _resolve(idx: np.ndarray, dims: tuple[int, ...], mode) -> np.ndarray:
    """Flat position of index vectors (last axis) over ``dims``; -1 when dropped."""
    dims_a = np.asarray(dims, dtype=np.int64)
    if mode == lax.GatherScatterMode.CLIP:
        idx = np.clip(idx, 0, dims_a - 1)
        valid = np.ones(idx.shape[:-1], dtype=bool)
    else:
        valid = np.all((idx >= 0) & (idx < dims_a), axis=-1)
        idx = np.where(valid[..., None], idx, 0)
    strides = np.ones(len(dims), dtype=np.int64)
    for k in range(len(dims) - 2, -1, -1):
        strides[k] = strides[k + 1] * dims[k + 1]
    flat = (idx * strides).sum(axis=-1)
    return np.where(valid, flat, -1)


def _pointwise_gather(pos: np.ndarray, idx, params):
    """numpy fast path for element gathers ``x[i]`` (every indexed dim collapsed,
    every other dim taken whole, no batching); ``None`` when it does not apply."""
    dn = params["dimension_numbers"]
    shape = pos.shape
    smap = tuple(dn.start_index_map)
    if (
        tuple(getattr(dn, "operand_batching_dims", ()))
        or tuple(dn.collapsed_slice_dims) != smap
        or smap != tuple(range(len(smap)))
        or any(params["slice_sizes"][d] != 1 for d in smap)
        or any(params["slice_sizes"][d] != shape[d] for d in range(len(smap), len(shape)))
        or tuple(dn.offset_dims)
        != tuple(range(np.ndim(idx) - 1, np.ndim(idx) - 1 + len(shape) - len(smap)))
    ):
        return None
    mode = params["mode"]
    mode = lax.GatherScatterMode.CLIP if mode == lax.GatherScatterMode.PROMISE_IN_BOUNDS else mode
    lead = _resolve(_as_np(idx), tuple(shape[d] for d in smap), mode)
    rest = int(np.prod(shape[len(smap) :], dtype=np.int64))
    lead_size = int(np.prod(shape[: len(smap)], dtype=np.int64))
    if lead_size == 0:
        return None
    flat = pos.reshape(lead_size, rest)
    out = np.where(lead[..., None] >= 0, flat[np.maximum(lead, 0)], -1)
    return out.reshape(tuple(lead.shape) + tuple(shape[len(smap) :]))


# -- scatter ----------------------------------------------------------------
def scatter_targets(operand_shape, indices, updates_shape, dnums, mode) -> np.ndarray:
    """Flat output position each update element lands on (-1: dropped).

    Runs the gather that is the transpose of the scatter on output positions.
    """
    if int(np.prod(operand_shape, dtype=np.int64)) == 0:
        return np.full(int(np.prod(updates_shape, dtype=np.int64)), -1, dtype=np.int64)
    if (
        not tuple(dnums.update_window_dims)
        and sorted(dnums.inserted_window_dims) == list(range(len(operand_shape)))
        and not tuple(getattr(dnums, "operand_batching_dims", ()))
    ):  # element scatter: resolve index vectors with numpy
        order = tuple(dnums.scatter_dims_to_operand_dims)
        idx = _as_np(indices)
        full = np.zeros((*idx.shape[:-1], len(operand_shape)), dtype=np.int64)
        full[..., list(order)] = idx
        return _resolve(full, tuple(operand_shape), mode).reshape(-1)
    slice_sizes = []
    pos = 0
    inserted = set(dnums.inserted_window_dims)
    batching = set(getattr(dnums, "operand_batching_dims", ()))
    for i in range(len(operand_shape)):
        if i in inserted or i in batching:
            slice_sizes.append(1)
        else:
            slice_sizes.append(int(updates_shape[dnums.update_window_dims[pos]]))
            pos += 1
    gdn = lax.GatherDimensionNumbers(
        offset_dims=tuple(dnums.update_window_dims),
        collapsed_slice_dims=tuple(dnums.inserted_window_dims),
        start_index_map=tuple(dnums.scatter_dims_to_operand_dims),
        operand_batching_dims=tuple(getattr(dnums, "operand_batching_dims", ())),
        start_indices_batching_dims=tuple(getattr(dnums, "scatter_indices_batching_dims", ())),
    )
    out = lax.gather(
        _positions32(tuple(operand_shape)),
        indices,
        gdn,
        tuple(slice_sizes),
        mode=mode,
        fill_value=-1,
    )
    return _as_np(out).reshape(-1)


def _scatter_rule(overwrites: bool):
    def rule(ctx, eqn, invals):
        operand, indices, updates = invals[:3]
        dnums = eqn.params["dimension_numbers"]
        mode = eqn.params["mode"]
        out_size = operand.size
        if indices.known is None:
            order = tuple(dnums.scatter_dims_to_operand_dims)
            choices = index_candidates(indices, [operand.shape[d] for d in order])
            if choices is None:
                # Unknown destinations: every output element may receive any update.
                upd = reduce_all(updates.deps)
                spread = take(upd, np.zeros(out_size, dtype=np.int64))
                return [union(operand.deps, spread)]
            # Bounded destinations: the union over every value the indices can take;
            # the operand may survive anywhere. Out-of-bounds updates that are only
            # promised away land clamped (sound whatever XLA does with them).
            land = (
                lax.GatherScatterMode.FILL_OR_DROP
                if mode == lax.GatherScatterMode.FILL_OR_DROP
                else lax.GatherScatterMode.CLIP
            )
            parts = [operand.deps]
            for idx in choices:
                targets = scatter_targets(operand.shape, idx, updates.shape, dnums, land)
                parts.append(aggregate(updates.deps, targets, np.arange(updates.size), out_size))
            return [union(*parts)]
        idx = indices.known
        clip = mode == lax.GatherScatterMode.CLIP
        land_mode = lax.GatherScatterMode.CLIP if clip else lax.GatherScatterMode.FILL_OR_DROP
        targets = scatter_targets(operand.shape, idx, updates.shape, dnums, land_mode)
        contrib_targets = targets
        if mode == lax.GatherScatterMode.PROMISE_IN_BOUNDS:
            # Out-of-bounds behaviour is unspecified: let such updates reach the
            # clamped element, but never let them erase the operand.
            contrib_targets = scatter_targets(
                operand.shape, idx, updates.shape, dnums, lax.GatherScatterMode.CLIP
            )
        contrib = aggregate(updates.deps, contrib_targets, np.arange(updates.size), out_size)
        base = operand.deps
        if overwrites and base is not None:
            hit = np.zeros(out_size, dtype=bool)
            hit[targets[targets >= 0]] = True
            base = take(base, np.where(hit, -1, np.arange(out_size)))
        return [union(base, contrib)]

    return rule


# -- dynamic_slice / dynamic_update_slice -----------------------------------
def _windows(invals, first: int, shape, sizes):
    """The windows a dynamic slice can take, as ``(combos, reduced)``.

    XLA clamps *every* start, known or not, into ``[0, dim - size]``. Per axis
    the clamped values a start can take are enumerated (one for a known start);
    axes whose values cannot be enumerated together within
    :data:`MAX_CANDIDATES` windows are ``reduced``: there the window may lie
    anywhere. ``combos`` lists the start tuples (``0`` on reduced axes).
    """
    per_axis = [
        candidates(v, 0, dim - size)
        for v, dim, size in zip(invals[first : first + len(shape)], shape, sizes)
    ]
    known = {i: [int(s) for s in c] for i, c in enumerate(per_axis) if c is not None}
    reduced = [i for i in range(len(per_axis)) if i not in known]
    total = 1
    for i in sorted(known, key=lambda i: len(known[i])):
        if total * len(known[i]) > MAX_CANDIDATES:
            reduced.append(i)
        else:
            total *= len(known[i])
    lists = [[0] if i in reduced else known[i] for i in range(len(per_axis))]
    return list(itertools.product(*lists)), tuple(sorted(reduced))


def _reduced_positions(deps, shape, reduced):
    """Operand positions (and deps) where the ``reduced`` axes collapse to one row."""
    if not reduced:
        return deps, np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    deps = reduce_axes(deps, shape, reduced)
    red = tuple(1 if i in reduced else s for i, s in enumerate(shape))
    pos = np.arange(int(np.prod(red, dtype=np.int64)), dtype=np.int64).reshape(red)
    return deps, np.broadcast_to(pos, shape)


def dynamic_slice_rule(ctx, eqn, invals):
    operand = invals[0]
    shape = operand.shape
    sizes = tuple(int(s) for s in eqn.params["slice_sizes"])
    combos, reduced = _windows(invals, 1, shape, sizes)
    deps, pos = _reduced_positions(operand.deps, shape, reduced)
    parts = [
        take(deps, pos[tuple(slice(s, s + k) for s, k in zip(combo, sizes))]) for combo in combos
    ]
    return [union(*parts)]


def dynamic_update_slice_rule(ctx, eqn, invals):
    operand, update = invals[0], invals[1]
    shape = operand.shape
    ushape = update.shape
    if update.size == 0:
        return [operand.deps]
    combos, reduced = _windows(invals, 2, shape, ushape)
    # On reduced axes the update may land anywhere: it is collapsed and spread.
    upd_deps, upd_pos = _reduced_positions(update.deps, ushape, reduced)
    upd_pos = upd_pos[
        tuple(slice(0, 1) if i in reduced else slice(None) for i in range(len(shape)))
    ]
    parts = []
    covered = np.zeros(shape, dtype=np.int64)  # how many of the windows cover an element
    for combo in combos:
        window = tuple(
            slice(None) if i in reduced else slice(s, s + k)
            for i, (s, k) in enumerate(zip(combo, ushape))
        )
        target = np.full(shape, -1, dtype=np.int64)
        target[window] = np.broadcast_to(upd_pos, target[window].shape)
        parts.append(take(upd_deps, target))
        covered[window] += 1
    out_pos = np.arange(operand.size, dtype=np.int64).reshape(shape)
    if not reduced:  # overwritten wherever every possible window lies
        out_pos[covered == len(combos)] = -1
    return [union(take(operand.deps, out_pos), *parts)]


def register() -> None:
    register_rule(P.gather_p, gather_rule)
    register_rule(P.scatter_p, _scatter_rule(overwrites=True))
    from .elementwise import primitives_by_name

    by_name = primitives_by_name()
    for name in ("scatter-add", "scatter-sub", "scatter-mul", "scatter-min", "scatter-max"):
        if name in by_name:
            register_rule(by_name[name], _scatter_rule(overwrites=False))
    register_rule(P.dynamic_slice_p, dynamic_slice_rule)
    register_rule(P.dynamic_update_slice_p, dynamic_update_slice_rule)
