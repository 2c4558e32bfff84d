"""The empirical side: dense derivatives at chosen points, and sparsediff's values there.

The points (:func:`points`) are chosen to hit what abstract interpretation must not
miss: all zeros, all ones and repeated values (ties of ``argmax``/``sort``/``max``),
values rounded to halves (exact zeros and ties), large and negative values, and random
normals. Every leaf of every argument varies, the non-differentiated ones too, since a
detected pattern must hold for all of them.

:func:`dense_at` returns the flattened dense Jacobian (``jax.jacfwd``, or ``jax.jacrev``
where forward mode is refused, e.g. through ``custom_vjp``) or Hessian (``jax.hessian``,
else reverse over reverse, else forward over forward) at all points, ``vmap``-ed and
compiled once; optionally together with the values of a prepared sparse derivative, in the
same compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .catalog import OPS
from .generate import LEAF_BOUND
from .program import Program

__all__ = [
    "POINT_KINDS",
    "points",
    "FlatProblem",
    "dense_at",
    "sparse_loop",
    "recheck_x64",
    "recheck_values_x64",
]

#: the kinds of points, in order (the first ones have ties and exact zeros)
POINT_KINDS = ("zeros", "ones", "ties", "halves", "large", "negative", "normal", "normal",
               "normal")  # fmt: skip


def _leaf_value(kind: str, shape, rng) -> np.ndarray:
    if kind == "zeros":
        x = np.zeros(shape)
    elif kind == "ones":
        x = np.ones(shape)
    elif kind == "ties":
        x = np.resize(np.array([-1.0, 0.5, 0.5, 2.0, -1.0, 0.0]), shape)
    elif kind == "halves":
        x = np.round(rng.normal(size=shape) * 2.0) / 2.0
    elif kind == "large":
        x = rng.choice([-LEAF_BOUND, LEAF_BOUND, 0.8 * LEAF_BOUND, -0.6 * LEAF_BOUND], shape)
    elif kind == "negative":
        x = -np.abs(rng.normal(size=shape)) - 0.5
    else:
        x = rng.normal(size=shape)
    return np.asarray(x, np.float32)


def points(p: Program, seed: int | None = None) -> list[tuple[tuple, dict]]:
    """``(args, kwargs)`` at every point of :data:`POINT_KINDS` (numpy float32 leaves)."""
    rng = np.random.default_rng(p.seed if seed is None else seed)
    out = []
    for kind in POINT_KINDS:
        args = []
        for a in p.args:
            vals = [_leaf_value(kind, s, rng) for s in a.shapes]
            args.append(dict(zip(a.keys, vals)) if a.keys else vals[0])
        w = None if p.w_shape is None else _leaf_value(kind, p.w_shape, rng)
        out.append((tuple(args), p.kwargs_sample(w)))
    return out


class FlatProblem:
    """``f`` as a function of the flat vector of its selected arguments."""

    def __init__(self, p: Program, f: Callable | None = None, dtype=np.float32):
        self.p = p
        self.f = p.function() if f is None else f
        self.sel = p.selected
        sample = p.sample_args()
        leaves, self._treedef = jax.tree_util.tree_flatten(tuple(sample[i] for i in self.sel))
        self._shapes = [np.shape(v) for v in leaves]
        self._sizes = [int(np.size(v)) for v in leaves]
        self.n = int(sum(self._sizes))
        self.dtype = dtype
        self.static = {} if p.scale is None else {"scale": p.scale}
        self.no_vmap = any(OPS[n.op].no_vmap for n in p.nodes if n.op != "leaf")

    def unravel(self, x):
        """The selected arguments from their flat vector (as ``ravel_pytree`` orders it)."""
        parts, o = [], 0
        for shape, size in zip(self._shapes, self._sizes):
            parts.append(jnp.reshape(x[o : o + size], shape))
            o += size
        return jax.tree_util.tree_unflatten(self._treedef, parts)

    def flat_x(self, args: tuple) -> np.ndarray:
        leaves = jax.tree_util.tree_leaves(tuple(args[i] for i in self.sel))
        return np.concatenate([np.ravel(np.asarray(v, self.dtype)) for v in leaves])

    def call_args(self, x, args, w) -> tuple[tuple, dict]:
        """The positional and keyword arguments of ``f`` with ``x`` in the selected slots."""
        full = list(args)
        for i, v in zip(self.sel, self.unravel(x)):
            full[i] = v
        kw = dict(self.static)
        if w is not None:
            kw["w"] = w
        return tuple(full), kw

    def g(self, x, args, w):
        full, kw = self.call_args(x, args, w)
        out = self.f(*full, **kw)
        if self.p.has_aux:
            out = out[0]
        if self.p.hessian:
            return jnp.reshape(out, ())
        return ravel_pytree(out)[0]

    def modes(self) -> tuple[str, ...]:
        """The AD compositions the oracle tries, in order."""
        return ("fwd-rev", "rev-rev", "fwd-fwd") if self.p.hessian else ("fwd", "rev")

    def derivative(self, mode: str) -> Callable:
        """``jax.hessian`` (``"fwd-rev"``), reverse over reverse (through ``custom_vjp``),
        forward over forward (through ``while_loop``); ``jax.jacfwd`` or ``jax.jacrev``."""
        make = {"fwd": jax.jacfwd, "rev": jax.jacrev}
        if "-" in mode:
            outer, inner = mode.split("-")
            return make[outer](make[inner](self.g))
        return make[mode](self.g)


def _stack(trees):
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *trees)


def _run(fn: Callable, prob: FlatProblem, pts) -> Any:
    """``fn(x, args, w)`` at every point: vmapped and compiled once, or looped (for ops
    that inspect the batch, and where a batching rule fails)."""
    xs = [prob.flat_x(a) for a, _ in pts]
    ws = [k.get("w") for _, k in pts]
    if not prob.no_vmap:
        batched = jax.jit(jax.vmap(fn))
        w_stack = None if ws[0] is None else np.stack(ws)
        try:
            res = batched(np.stack(xs), _stack([a for a, _ in pts]), w_stack)
            return jax.tree_util.tree_map(np.asarray, res)
        except Exception:  # noqa: BLE001 - some batching rules fail (BCOO): loop instead
            pass
    jf = jax.jit(fn)
    outs = [jf(x, a, w) for x, (a, _), w in zip(xs, pts, ws)]
    return jax.tree_util.tree_map(lambda *o: np.stack([np.asarray(v) for v in o]), *outs)


def dense_at(prob: FlatProblem, pts, sparse_fn: Callable | None = None):
    """``(dense, sparse, mode)``: dense derivatives ``(points, m, n)``, the sparse
    derivative's dense values at the same points (``None`` without ``sparse_fn``), and
    the AD composition that worked (:meth:`FlatProblem.modes`). Raises what JAX raises
    when it cannot differentiate.

    ``sparse_fn(args, kwargs)`` is evaluated in the same compiled function when given.
    """
    last: Exception | None = None
    for mode in prob.modes():
        d = prob.derivative(mode)

        def both(x, args, w, d=d):
            dense = d(x, args, w)
            if sparse_fn is None:
                return dense, None
            return dense, sparse_fn(*prob.call_args(x, args, w))

        try:
            dense, sparse = _run(both, prob, pts)
        except Exception as exc:  # noqa: BLE001 - retried in another mode, else re-raised
            if last is None:
                last = exc
            continue
        m = dense.shape[0]
        return dense.reshape(m, -1, prob.n), sparse, mode
    assert last is not None
    raise last


def sparse_loop(prob: FlatProblem, pts, sparse_fn: Callable) -> np.ndarray:
    """The sparse derivative point by point (compiled once, no ``vmap``): the fallback
    when the batched evaluation fails, to tell a ``vmap`` problem from a real one."""
    fn = jax.jit(lambda args, w: sparse_fn(args, {**prob.static, **({} if w is None else
                                                                     {"w": w})}))  # fmt: skip
    return np.stack([np.asarray(fn(a, k.get("w"))) for a, k in pts])


def _args64(prob: FlatProblem, args, kw):
    args64 = jax.tree_util.tree_map(lambda v: np.asarray(v, np.float64), args)
    w = kw.get("w")
    return args64, (None if w is None else np.asarray(w, np.float64))


def recheck_values_x64(prob: FlatProblem, pts, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense and sparse derivatives in float64 at ``pts`` (for value mismatches float32
    rounding may cause at ill-conditioned points); the sparse one is prepared afresh."""
    import sparsediff as sd

    with jax.enable_x64(True):
        prob = FlatProblem(prob.p, prob.f, np.float64)
        d = prob.derivative(mode)
        make = sd.hessian if prob.p.hessian else sd.jacobian
        lazy = make(prob.f, argnums=prob.p.argnums, has_aux=prob.p.has_aux,
                    output_format="dense")  # fmt: skip
        dense, sparse = [], []
        for args, kw in pts:
            args64, w64 = _args64(prob, args, kw)
            dense.append(np.asarray(d(prob.flat_x(args64), args64, w64)))
            kw64 = {**prob.static, **({} if w64 is None else {"w": w64})}
            res = lazy(*args64, **kw64)
            sparse.append(np.asarray(res[0] if prob.p.has_aux else res))
    shape = (len(pts), -1, prob.n)
    return np.stack(dense).reshape(shape), np.stack(sparse).reshape(shape)


def recheck_x64(prob: FlatProblem, pts, mode: str) -> np.ndarray:
    """Dense derivatives in float64 at the same points (for entries float32 may fake)."""
    with jax.enable_x64(True):
        prob = FlatProblem(prob.p, prob.f, np.float64)
        d = prob.derivative(mode)
        outs = []
        for args, kw in pts:
            args64, w64 = _args64(prob, args, kw)
            x = prob.flat_x(args64)
            outs.append(np.asarray(d(x, args64, w64)))
    return np.stack(outs).reshape(len(pts), -1, prob.n)
