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

import numpy as np
from jax import lax
from jax.extend.core import primitives as P

from ..deps import aggregate, reduce_all, reduce_axes, take, union
from ..intervals import MAX_CANDIDATES, bounds_of, candidates
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
def gather_rule(ctx, eqn, invals):
    operand, indices = invals
    params = dict(eqn.params)
    params["fill_value"] = -1
    deps = operand.deps
    shape = operand.shape
    if indices.known is not None:
        idx = indices.known
        pos = _positions32(shape)
    elif (values := _bounded_index_values(indices)) is not None:
        # Bounded input-dependent indices: union over every value they can take.
        pos = _positions32(shape)
        parts = []
        for value in values:
            idx = np.full(indices.shape, value, dtype=np.int32)
            out = _pointwise_gather(pos, idx, params)
            if out is None:
                out = P.gather_p.bind(pos, idx, **params)
            parts.append(take(deps, _as_np(out)))
        return [union(*parts)]
    else:
        # Unknown indices: any element along the indexed axes may be taken.
        axes = tuple(params["dimension_numbers"].start_index_map)
        deps = reduce_axes(deps, shape, axes)
        red_shape = tuple(1 if i in axes else s for i, s in enumerate(shape))
        pos = np.broadcast_to(_positions32(red_shape), shape)
        idx = np.zeros(indices.shape, dtype=np.int32)
        params["mode"] = lax.GatherScatterMode.CLIP
    out = _pointwise_gather(pos, idx, params)
    if out is None:
        out = P.gather_p.bind(pos, idx, **params)
    return [take(deps, _as_np(out))]


def _bounded_index_values(indices) -> np.ndarray | None:
    b = bounds_of(indices)
    if b is None or b[1] - b[0] + 1 > MAX_CANDIDATES:
        return None
    lo = max(b[0], np.iinfo(np.int32).min)
    hi = min(b[1], np.iinfo(np.int32).max)
    return np.arange(lo, hi + 1, dtype=np.int64)


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
            values = _bounded_index_values(indices)
            if values is None:
                # Unknown destinations: every output element may receive any update.
                upd = reduce_all(updates.deps)
                spread = take(upd, np.zeros(out_size, dtype=np.int64))
                return [union(operand.deps, spread)]
            # Bounded destinations: the union over every value the indices can take;
            # the operand may survive anywhere.
            land = (
                lax.GatherScatterMode.CLIP
                if mode == lax.GatherScatterMode.CLIP
                else (lax.GatherScatterMode.FILL_OR_DROP)
            )
            parts = [operand.deps]
            for value in values:
                idx = np.full(indices.shape, value, dtype=np.int32)
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
def _starts(invals, first: int, ndim: int):
    """Known start indices (or None per axis when unknown)."""
    out = []
    for v in invals[first : first + ndim]:
        out.append(None if v.known is None else int(np.asarray(v.known).reshape(())))
    return out


def _start_choices(invals, first, shape, sizes):
    """Per axis, the clamped start values an unknown but bounded start can take."""
    import itertools

    choices = []
    for i, v in enumerate(invals[first : first + len(shape)]):
        if v.known is not None:
            choices.append([int(np.asarray(v.known).reshape(()))])
        else:
            c = candidates(v, 0, shape[i] - sizes[i])
            if c is None:
                return None
            choices.append([int(x) for x in c])
    total = int(np.prod([len(c) for c in choices]))
    if total > MAX_CANDIDATES:
        return None
    return list(itertools.product(*choices))


def dynamic_slice_rule(ctx, eqn, invals):
    operand = invals[0]
    shape = operand.shape
    sizes = tuple(int(s) for s in eqn.params["slice_sizes"])
    starts = _starts(invals, 1, len(shape))
    if None in starts and (combos := _start_choices(invals, 1, shape, sizes)) is not None:
        pos = np.arange(operand.size, dtype=np.int64).reshape(shape)
        parts = [
            take(operand.deps, pos[tuple(slice(s, s + k) for s, k in zip(combo, sizes))])
            for combo in combos
        ]
        return [union(*parts)]
    unknown = tuple(i for i, s in enumerate(starts) if s is None)
    deps = operand.deps
    pos = np.arange(operand.size, dtype=np.int64).reshape(shape)
    if unknown:
        deps = reduce_axes(deps, shape, unknown)
        red = tuple(1 if i in unknown else s for i, s in enumerate(shape))
        pos = np.broadcast_to(np.arange(int(np.prod(red)), dtype=np.int64).reshape(red), shape)
    sl = []
    for i, (dim, size) in enumerate(zip(shape, sizes)):
        s = 0 if starts[i] is None else min(max(starts[i], 0), dim - size)  # lax clamps
        sl.append(slice(s, s + size))
    return [take(deps, pos[tuple(sl)])]


def dynamic_update_slice_rule(ctx, eqn, invals):
    operand, update = invals[0], invals[1]
    shape = operand.shape
    ushape = update.shape
    starts = _starts(invals, 2, len(shape))
    if None in starts and (combos := _start_choices(invals, 2, shape, ushape)) is not None:
        # The update lands at one of the candidate windows; the operand may survive.
        upd_pos = np.arange(update.size, dtype=np.int64).reshape(ushape)
        parts = [operand.deps]
        for combo in combos:
            target = np.full(shape, -1, dtype=np.int64)
            target[tuple(slice(s, s + k) for s, k in zip(combo, ushape))] = upd_pos
            parts.append(take(update.deps, target))
        return [union(*parts)]
    unknown = tuple(i for i, s in enumerate(starts) if s is None)
    out_pos = np.arange(operand.size, dtype=np.int64).reshape(shape)
    upd_deps = update.deps
    upd_pos_src = np.arange(update.size, dtype=np.int64).reshape(ushape)
    if unknown:
        # The update may land anywhere along unknown axes; the operand may survive.
        upd_deps = reduce_axes(upd_deps, ushape, unknown)
        red = tuple(1 if i in unknown else s for i, s in enumerate(ushape))
        upd_pos_src = np.arange(int(np.prod(red)), dtype=np.int64).reshape(red)
    window = []
    for i, (dim, size) in enumerate(zip(shape, ushape)):
        if starts[i] is None:
            window.append(slice(None))
        else:
            s = min(max(starts[i], 0), dim - size)
            window.append(slice(s, s + size))
    upd_pos = np.full(shape, -1, dtype=np.int64)
    upd_pos[tuple(window)] = np.broadcast_to(upd_pos_src, upd_pos[tuple(window)].shape)
    if not unknown:
        out_pos = out_pos.copy()
        out_pos[tuple(window)] = -1
    return [union(take(operand.deps, out_pos), take(upd_deps, upd_pos))]


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
