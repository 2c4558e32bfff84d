"""The evaluation of a prepared derivative, inside ``jax.jit``.

Compressed AD products (one JVP, VJP or Hessian-vector product per color, see
:mod:`.products`) and their decompression into the nonzero values, read from a
:class:`~.pipeline.Plan`. Nothing here traces ``f`` more than once per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..decompression.formats import build_output
from ..decompression.jax_plan import fenced, gather
from .pipeline import Plan
from .products import hvp_products, jvp_products, map_products, vjp_products
from .residuals import keeps, linearized

__all__ = ["Runner", "jacobian_values", "hessian_values", "format_values"]


@dataclass(frozen=True)
class Runner:
    """How the products run: ``constrain`` splits their leading (color) axis over
    a device mesh (or is None); ``fence`` materialises them before decompression."""

    plan: Plan
    constrain: Callable | None
    fence: bool

    @property
    def keep(self) -> bool:
        """Whether the products compute the linearisation's transcendental functions
        once (:mod:`.residuals`)."""
        lay, plan = self.plan.layout, self.plan
        counts = [s.shape[0] for s in (lay.fwd_seeds, lay.rev_seeds) if s is not None and s.size]
        if plan.mode in ("dense", "dense_fwd"):
            counts = [plan.sparsity.n]
        elif plan.mode == "dense_rev":
            counts = [plan.sparsity.m]
        split = self.constrain is not None
        count = plan.facts.transcendentals
        return any(keeps(count, k, plan.chunk_size, split) for k in counts)

    def seeds(self, block: str, dtype) -> jax.Array:
        """The 0/1 seed matrix of a block, ``(colors, size)``, as a constant of the
        evaluation: XLA folds the linear part of the products on constant seeds
        (the stencil of a PDE residual applied to a seed is computed once, at
        compilation), which passing them as arguments would forbid."""
        lay = self.plan.layout
        return jnp.asarray(lay.fwd_seeds if block == "forward" else lay.rev_seeds, dtype)

    def fenced(self, fn, flat, dev):
        return fenced(fn, flat, dev) if self.fence else fn(flat, dev)

    def decompress(self, blocks: list, dev):
        """Nonzero values (evaluation or pattern order) from the compressed
        products, one ``(colors, length)`` array per block of the plan."""
        lay = self.plan.layout
        if lay.runs is not None:
            # a few contiguous runs: slices of the products and one concatenation,
            # no gather (slicing each product, not their flat concatenation, lets
            # XLA write every slice straight from the fused product)
            return jnp.concatenate([blocks[k][c, a:b] for k, c, a, b in lay.runs])
        flat = jnp.concatenate([b.reshape(-1) for b in blocks])
        if lay.order is not None:
            if lay.identity:
                return flat
            return self.fenced(lambda f, d: gather(f, d["eval_src"]), flat, dev)
        assert lay.plan is not None
        if not lay.plan.nnz:
            return flat[:0]
        tri = self.plan.tri_idx

        def decompress(f, d):
            values = lay.plan.values(f, d["plan"])
            return gather(values, d["tri"]) if tri is not None else values

        return self.fenced(decompress, flat, dev)


def jacobian_values(run: Runner, g: Callable, x: jax.Array, dev: dict):
    """``(y, aux, values)``: the value of ``g``, its aux and the Jacobian's nonzeros."""
    plan = run.plan
    chunk, constrain = plan.chunk_size, run.constrain
    rows = np.asarray(plan.sparsity.rows)
    cols = np.asarray(plan.sparsity.cols)
    keep = run.keep
    if plan.mode == "dense_fwd":
        eye = jnp.eye(x.size, dtype=x.dtype)
        y, aux, prods = jvp_products(g, x, eye, chunk, constrain, keep)
        return y, aux, prods[cols, rows]  # (n, m)
    if plan.mode == "dense_rev":
        y, aux, prods = vjp_products(
            g, x, lambda dt, m: jnp.eye(m, dtype=dt), chunk, constrain, keep
        )
        return y, aux, prods[rows, cols]  # (m, n)
    blocks = plan.layout.blocks
    parts = {}
    y = aux = None
    if "forward" in blocks and "reverse" in blocks:
        # bicoloring: one linearisation serves both the JVPs and, transposed,
        # the VJPs (no second forward pass)
        y, jvp_fn, aux = linearized(lambda z: jax.linearize(g, z, has_aux=True), x, keep)
        parts["forward"] = map_products(jvp_fn, run.seeds("forward", x.dtype), chunk, constrain)
        vjp_fn = jax.linear_transpose(jvp_fn, x)
        parts["reverse"] = map_products(
            lambda s: vjp_fn(s)[0], run.seeds("reverse", y.dtype), chunk, constrain
        )
    elif "forward" in blocks:
        y, aux, parts["forward"] = jvp_products(
            g, x, run.seeds("forward", x.dtype), chunk, constrain, keep
        )
    elif "reverse" in blocks:
        y, aux, parts["reverse"] = vjp_products(
            g, x, lambda dt, m: run.seeds("reverse", dt), chunk, constrain, keep
        )
    if y is None:  # no blocks (empty pattern): still compute the value
        y, aux = g(x)
    assert plan.layout.plan is not None
    if not plan.layout.plan.nnz:
        return y, aux, jnp.zeros(0, jnp.result_type(x.dtype, y.dtype))
    return y, aux, run.decompress([parts[name] for name in blocks], dev)


def hessian_values(run: Runner, g: Callable, x: jax.Array, dev: dict):
    """``(value, grad, aux, values)`` of scalar ``g`` and its Hessian's nonzeros."""
    plan = run.plan

    def scalar(z):
        y, aux = g(z)
        if y.size != 1:
            raise ValueError(f"a Hessian needs a scalar-valued f; its output has {y.size} elements")
        return y.reshape(()), aux

    holo = plan.model.holomorphic
    by_rows = not plan.facts.forward_ok  # reverse over reverse (see hvp_products)
    if plan.mode == "dense":
        seeds = jnp.eye(x.size, dtype=x.dtype)
        value, grad, aux, prods = hvp_products(
            scalar, x, seeds, plan.chunk_size, run.constrain, holomorphic=holo, keep=run.keep,
            by_rows=by_rows,
        )  # fmt: skip
        rows, cols = np.asarray(plan.sparsity.rows), np.asarray(plan.sparsity.cols)
        values = prods[rows, cols] if by_rows else prods[cols, rows]
        if plan.tri_idx is not None:
            values = values[plan.tri_idx]
        return value, grad, aux, values
    seeds = run.seeds("forward", x.dtype)
    value, grad, aux, prods = hvp_products(
        scalar, x, seeds, plan.chunk_size, run.constrain, holomorphic=holo, keep=run.keep,
        by_rows=by_rows,
    )  # fmt: skip
    return value, grad, aux, run.decompress([prods], dev)


def format_values(plan: Plan, values: Any, dev: dict):
    """Inside the jit: the dense output is scattered here; the sparse formats
    return their values, wrapped with the prepared indices outside."""
    if plan.output_format == "dense":
        return build_output(values, plan.output_pattern, "dense", dev["out"])
    return values
