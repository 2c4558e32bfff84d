"""Where the nonzero values come from: the decompression layout of a prepared derivative.

Built once at preparation from the coloring's plan, the output format and the
selected triangle; read by the evaluation (:mod:`.compute`).

When every nonzero is read directly from the compressed products, the values
are produced in the order of those reads (the products' memory order) and the
output's indices are permuted once instead: no permutation of the values at
evaluation, and none at all when every compressed entry is a nonzero. A few
contiguous runs of reads become slices of single products instead of a
gather. Other formats keep the pattern's row-major order.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..coloring.result import ColoringResult
from ..decompression.formats import output_arrays
from ..decompression.jax_plan import JaxPlan
from ..patterns import SparsityPattern

__all__ = ["Layout", "build_layout", "device_arrays", "segments", "MAX_RUNS"]

#: at most this many contiguous runs of compressed entries are sliced instead of gathered
MAX_RUNS = 32


@dataclass(frozen=True)
class Layout:
    """The decompression layout (see the module docstring).

    Attributes:
        plan: the coloring's decompression plan as JAX arrays' sources (or None
            for dense modes).
        blocks: names of the product blocks, in plan order (``"forward"``: JVPs
            or HVPs, ``"reverse"``: VJPs).
        fwd_seeds, rev_seeds: 0/1 seed matrices, ``(colors, size)``.
        order: permutation from evaluation order to pattern order (or None).
        identity: the products' entries are exactly the values, in order.
        src: flat product index of each value, in evaluation order.
        runs: contiguous runs ``(block, row, lo, hi)`` of the products, or None.
    """

    plan: JaxPlan | None
    blocks: tuple[str, ...]
    fwd_seeds: np.ndarray | None
    rev_seeds: np.ndarray | None
    order: np.ndarray | None = None
    identity: bool = False
    src: np.ndarray | None = None
    runs: tuple | None = None

    def block_shapes(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """(colors, length) of each block of compressed products, in plan order:
        JVPs have the output's length, VJPs the input's."""
        m, n = shape
        out = []
        for name in self.blocks:
            seeds = self.fwd_seeds if name == "forward" else self.rev_seeds
            assert seeds is not None
            out.append((seeds.shape[0], m if name == "forward" else n))
        return out

    def pattern_values(self, raw) -> np.ndarray:
        """Host copy of raw values, back in the output pattern's row-major order."""
        raw = np.asarray(raw)
        if self.order is None:
            return raw
        out = np.empty_like(raw)
        out[self.order] = raw
        return out


def build_layout(
    coloring: ColoringResult | None,
    output_format: str,
    tri_idx: np.ndarray | None,
    shape: tuple[int, int],
) -> Layout:
    if coloring is None:
        return Layout(None, (), None, None)
    plan = JaxPlan.from_plan(coloring.plan)
    base = Layout(
        plan,
        tuple(name for name, _ in coloring.plan.blocks),
        np.ascontiguousarray(coloring.forward_seeds(np.float32).T),
        np.ascontiguousarray(coloring.reverse_seeds(np.float32).T),
    )
    if not plan.nnz or plan.subst_nz.size or output_format not in ("bcoo", "dense"):
        return base
    src = np.empty(plan.nnz, dtype=np.int64)
    src[np.asarray(plan.direct_nz, dtype=np.int64)] = plan.direct_src
    if tri_idx is not None:
        src = src[tri_idx]
    order = np.argsort(src, kind="stable")
    src = src[order]
    identity = src.size == plan.size and bool(np.array_equal(src, np.arange(plan.size)))
    runs = None
    if src.size and not identity:
        breaks = np.flatnonzero(np.diff(src) != 1) + 1
        if breaks.size < MAX_RUNS:
            starts = src[np.concatenate([[0], breaks])]
            lengths = np.diff(np.concatenate([[0], breaks, [src.size]]))
            segs = segments(starts, starts + lengths, base.block_shapes(shape))
            runs = segs if len(segs) <= 2 * MAX_RUNS else None
    return Layout(
        base.plan,
        base.blocks,
        base.fwd_seeds,
        base.rev_seeds,
        order=order,
        identity=identity,
        src=src.astype(plan.direct_src.dtype),
        runs=runs,
    )


def segments(starts, stops, shapes) -> tuple:
    """Flat runs ``[start, stop)`` of the concatenated, row-major product blocks
    as slices ``(block, row, lo, hi)`` of single products."""
    offsets = np.cumsum([0] + [c * n for c, n in shapes])
    out = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        while a < b:
            k = int(np.searchsorted(offsets, a, side="right")) - 1
            n = shapes[k][1]
            row, lo = divmod(a - int(offsets[k]), n)
            hi = min(n, lo + (b - a))
            out.append((k, row, lo, hi))
            a += hi - lo
    return tuple(out)


def device_arrays(
    layout: Layout,
    output_pattern: SparsityPattern,
    output_format: str,
    tri_idx: np.ndarray | None,
) -> dict:
    """The index arrays the evaluation reads, as device arrays."""
    dev: dict = {}
    if layout.order is not None:
        if not layout.identity and layout.runs is None:
            dev["eval_src"] = jnp.asarray(layout.src)
    elif layout.plan is not None:
        dev["plan"] = layout.plan.arrays()
    if tri_idx is not None and layout.order is None:
        dev["tri"] = jnp.asarray(tri_idx.astype(np.int32))
    dev["out"] = output_arrays(output_pattern, output_format, layout.order)
    return dev
