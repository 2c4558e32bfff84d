"""Contractions: ``dot_general`` and ``conv_general_dilated``.

Both are bilinear. An output element depends on an element of one operand when
some term of its sum pairs that element with an entry of the other operand that
may be non-zero. Entries of an operand that is a *known* value (a constant
matrix or kernel) are non-zero only where the value is; entries of an unknown
operand are assumed non-zero. So ``A @ x`` with a constant banded ``A`` gives
the band of ``A``, and ``X @ X`` gives row ``i`` plus column ``j`` of ``X``.
"""

from __future__ import annotations

import numpy as np
from jax.extend.core import primitives as P

from ..deps import aggregate, broadcast_rows, reduce_axes, take, union
from ..registry import register_rule
from .windows import window_positions

__all__ = ["register"]


def _permuted(deps, shape, perm):
    """Pattern of ``transpose(x, perm)`` in C order."""
    if deps is None or list(perm) == list(range(len(shape))):
        return deps
    pos = np.transpose(np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape), perm)
    return take(deps, pos.reshape(-1))


def _nonzero_mask(val, shape, perm):
    """Where the operand may be non-zero, in the canonical layout (None: everywhere)."""
    if val.known is None:
        return None
    mask = np.transpose(np.asarray(val.known) != 0, perm).reshape(shape)
    return None if mask.all() else mask


def dot_general_rule(ctx, eqn, invals):
    lhs, rhs = invals
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lfree = [d for d in range(len(lhs.shape)) if d not in lc and d not in lb]
    rfree = [d for d in range(len(rhs.shape)) if d not in rc and d not in rb]
    size = lambda dims, shape: int(np.prod([shape[d] for d in dims], dtype=np.int64))  # noqa: E731
    B = size(lb, lhs.shape)
    M = size(lfree, lhs.shape)
    K = size(lc, lhs.shape)
    N = size(rfree, rhs.shape)
    lperm = list(lb) + lfree + list(lc)
    rperm = list(rb) + list(rc) + rfree
    out_size = B * M * N
    parts = []
    if lhs.deps is not None:
        pl = _permuted(lhs.deps, lhs.shape, lperm)
        mask_r = _nonzero_mask(rhs, (B, K, N), rperm)
        if mask_r is None:
            rows = reduce_axes(pl, (B, M, K), (2,))
            parts.append(broadcast_rows(rows, (B, M, 1), (B, M, N)))
        else:
            b, k, n = np.nonzero(mask_r)
            m = np.arange(M, dtype=np.int64)[None, :]
            out_rows = ((b[:, None] * M + m) * N + n[:, None]).reshape(-1)
            in_rows = ((b[:, None] * M + m) * K + k[:, None]).reshape(-1)
            parts.append(aggregate(pl, out_rows, in_rows, out_size))
    if rhs.deps is not None:
        pr = _permuted(rhs.deps, rhs.shape, rperm)
        mask_l = _nonzero_mask(lhs, (B, M, K), lperm)
        if mask_l is None:
            cols = reduce_axes(pr, (B, K, N), (1,))
            parts.append(broadcast_rows(cols, (B, 1, N), (B, M, N)))
        else:
            b, m, k = np.nonzero(mask_l)
            n = np.arange(N, dtype=np.int64)[None, :]
            out_rows = ((b[:, None] * M + m[:, None]) * N + n).reshape(-1)
            in_rows = ((b[:, None] * K + k[:, None]) * N + n).reshape(-1)
            parts.append(aggregate(pr, out_rows, in_rows, out_size))
    return [union(*parts)]


def conv_rule(ctx, eqn, invals):
    lhs, rhs = invals
    p = eqn.params
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    G = p["feature_group_count"]
    BG = p["batch_group_count"]
    nsp = len(lhs.shape) - 2
    lhs_c = tuple(lhs.shape[d] for d in lhs_spec)  # (N, C, spatial...)
    rhs_c = tuple(rhs.shape[d] for d in rhs_spec)  # (O, I, kernel...)
    out_shape = tuple(int(d) for d in eqn.outvars[0].aval.shape)
    out_c = tuple(out_shape[d] for d in out_spec)  # (N_out, O, spatial_out...)
    N_in, C = lhs_c[0], lhs_c[1]
    O, I = rhs_c[0], rhs_c[1]
    N_out = out_c[0]
    sp_in, ker = lhs_c[2:], rhs_c[2:]
    table = window_positions(
        sp_in,
        ker,
        tuple(p["window_strides"]),
        tuple(tuple(x) for x in p["padding"]),
        tuple(p["lhs_dilation"] or (1,) * nsp),
        tuple(p["rhs_dilation"] or (1,) * nsp),
    )  # (S_out, Ktot) flat spatial input index or -1
    S_out, Kt = table.shape
    S_in = int(np.prod(sp_in, dtype=np.int64))
    n = np.arange(N_out, dtype=np.int64)[:, None, None, None, None]
    o = np.arange(O, dtype=np.int64)[None, :, None, None, None]
    i = np.arange(I, dtype=np.int64)[None, None, None, :, None]
    t = table[None, None, :, None, :]
    k = np.arange(Kt, dtype=np.int64)[None, None, None, None, :]
    s = np.arange(S_out, dtype=np.int64)[None, None, :, None, None]
    c = (o // max(O // G, 1)) * I + i  # input feature of (o, i)
    n_lhs = (o // max(O // BG, 1)) * N_out + n  # input batch of (n, o)
    full = (N_out, O, S_out, I, Kt)
    valid = np.broadcast_to(t >= 0, full)
    out_idx = np.broadcast_to((n * O + o) * S_out + s, full)
    lhs_idx = np.broadcast_to((n_lhs * C + c) * S_in + np.where(t < 0, 0, t), full)
    rhs_idx = np.broadcast_to((o * I + i) * Kt + k, full)
    out_size = int(np.prod(out_shape, dtype=np.int64))
    parts = []
    if lhs.deps is not None:
        keep = valid
        if rhs.known is not None:
            rmask = (np.transpose(np.asarray(rhs.known), rhs_spec) != 0).reshape(O, I, Kt)
            keep = keep & rmask[None, :, None, :, :].transpose(0, 1, 2, 3, 4)
        pl = _permuted(lhs.deps, lhs.shape, lhs_spec)
        parts.append(aggregate(pl, out_idx[keep], lhs_idx[keep], out_size))
    if rhs.deps is not None:
        keep = valid
        if lhs.known is not None:
            lmask = (np.transpose(np.asarray(lhs.known), lhs_spec) != 0).reshape(-1)
            keep = keep & lmask[lhs_idx]
        pr = _permuted(rhs.deps, rhs.shape, rhs_spec)
        parts.append(aggregate(pr, out_idx[keep], rhs_idx[keep], out_size))
    canon = union(*parts)
    # canonical (N, O, spatial...) -> the actual output layout
    actual = np.transpose(np.arange(out_size, dtype=np.int64).reshape(out_c), np.argsort(out_spec))
    del N_in
    return [take(canon, actual.reshape(-1))]


def register() -> None:
    register_rule(P.dot_general_p, dot_general_rule)
    register_rule(P.conv_general_dilated_p, conv_rule)
