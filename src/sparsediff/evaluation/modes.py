"""Choosing the AD mode: which coloring, or plain dense AD, costs least.

Costs are counted in JVP-equivalents. A VJP costs :data:`VJP_COST` JVPs and a
Hessian-vector product (forward over reverse) is the unit for Hessians. The
weight was measured with ``benchmarks/evaluation.py`` (CPU, JAX 0.10, 8 seeds
vmapped, n ≈ 10^5): a vmapped VJP took 1.0–1.8× a vmapped JVP (geometric mean
1.2–1.3 over three runs: about 1.0 for a convolution, 0.9–1.3 for stencils and
the Brusselator, 1.7–1.8 for a ``fori_loop`` stencil); we use 1.3.

For Hessians, acyclic coloring needs fewer products than star coloring but its
substitution (a cumulative sum) costs time and float32 accuracy on long
trees, so it is chosen only when it saves at least two products. A plain
column (distance-2) coloring of the symmetric pattern never needs fewer
products than a star coloring, but when it needs no more it is preferred
(``mode="column"``): every nonzero is then read from the product of its own
column's color, so the values are the products' entries in memory order and
decompression shrinks to a few contiguous slices (a tridiagonal Hessian's
three colors cover all but two compressed entries), where a star coloring's
two-sided reads need a full gather.

A Hessian pattern is that of the Jacobian of the gradient. A function with
custom derivative rules that disagree with it (a ``jax.custom_vjp`` whose
backward rule is denser than its primal) can have a "Hessian" that is not
symmetric: ``jax.hessian`` gives ``H[i, j] != H[j, i]``, and its pattern is not
symmetric either. A star or acyclic coloring reads one of the two entries from
the other's product and would match neither, so a function with custom rules
(``symmetric_ok=False``) and a pattern that is not symmetric gets a column
coloring, which reads every entry from its own column as ``jax.hessian`` does.
Without custom rules JAX's second derivatives are symmetric, and a pattern that
is not (a conservative rule) keeps the symmetric colorings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import cache
from ..coloring.io import load_coloring, save_coloring
from ..coloring.problems import BidirectionalProblem, ColumnProblem, RowProblem, SymmetricProblem
from ..coloring.result import ColoringResult
from ..patterns import SparsityPattern

__all__ = [
    "VJP_COST",
    "DENSE_FRACTION",
    "JACOBIAN_MODES",
    "HESSIAN_MODES",
    "REVERSE_MODES",
    "choose",
    "choose_cached",
    "is_symmetric",
    "mode_of",
]

#: cost of one VJP in JVPs
VJP_COST = 1.3
#: use dense AD when coloring saves less than this fraction of the passes
DENSE_FRACTION = 0.9

JACOBIAN_MODES = ("fwd", "rev", "bidirectional", "dense_fwd", "dense_rev")
#: Jacobian modes that take VJPs
REVERSE_MODES = ("rev", "bidirectional", "dense_rev")
HESSIAN_MODES = ("star", "acyclic", "column", "dense")

_PROBLEM = {
    "fwd": "column",
    "rev": "row",
    "bidirectional": "bidirectional",
    "star": "symmetric",
    "acyclic": "acyclic",
    "column": "column",
}


@dataclass(frozen=True)
class Choice:
    mode: str
    coloring: ColoringResult | None


def color(pattern: SparsityPattern, problem: str) -> ColoringResult:
    """:func:`sparsediff.color`, imported on first use: the coloring kernels (and
    numba) load only when a coloring is computed, not when one is read from the
    cache."""
    from ..coloring.api import color as compute

    return compute(pattern, problem)


def is_symmetric(pattern: SparsityPattern) -> bool:
    """Whether ``pattern`` is square and holds ``(j, i)`` for every entry ``(i, j)``:
    its column-major row indices are then its row-major column indices."""
    return (
        pattern.m == pattern.n
        and np.array_equal(pattern.row_counts, pattern.col_counts)
        and np.array_equal(pattern.col_indices, pattern.cols)
    )


def color_for(pattern: SparsityPattern, mode: str) -> ColoringResult | None:
    problem = _PROBLEM.get(mode)
    return None if problem is None else color(pattern, problem)


def choose(
    pattern: SparsityPattern,
    kind: str,
    mode: str | None,
    forward_ok: bool = True,
    reverse_ok: bool = True,
    symmetric_ok: bool = True,
) -> Choice:
    """The mode (and its coloring) for a Jacobian (``kind="jacobian"``) or Hessian.

    ``forward_ok=False`` (the function uses ``jax.custom_vjp``, which JAX can
    only differentiate in reverse mode) restricts Jacobians to VJPs, and makes a
    Hessian's products rows (reverse over reverse), so a Hessian pattern that is
    not symmetric gets ``"dense"``, not ``"column"``;
    ``reverse_ok=False`` (a primitive without a transpose rule) to JVPs.
    ``symmetric_ok=False`` (custom derivative rules) rules out the symmetric
    colorings for a Hessian pattern that is not symmetric (see the module docstring).
    """
    m, n = pattern.shape
    modes = JACOBIAN_MODES if kind == "jacobian" else HESSIAN_MODES
    if mode is not None:
        if mode not in modes:
            raise ValueError(
                f"mode {mode!r} is not valid for a {kind}; choose one of {', '.join(modes)} "
                "or None (automatic)"
            )
        if not forward_ok and mode in ("fwd", "bidirectional", "dense_fwd"):
            raise ValueError(
                f"mode {mode!r} needs forward-mode AD, which JAX cannot apply to this function "
                "(it uses jax.custom_vjp); use mode='rev' or None"
            )
        if not forward_ok and mode == "column" and not is_symmetric(pattern):
            raise ValueError(
                "mode 'column' reads this non-symmetric Hessian pattern from Hessian-vector "
                "products, which need forward-mode AD, and JAX cannot apply it to this "
                "function (it uses jax.custom_vjp); use mode='dense' or None"
            )
        return Choice(mode, color_for(pattern, mode))
    if kind == "hessian" and not forward_ok and not is_symmetric(pattern):
        return Choice("dense", None)  # products are rows here: a column coloring needs columns
    if kind == "jacobian" and not reverse_ok:
        col = color(pattern, "column")
        if col.num_colors >= DENSE_FRACTION * n and n > 0:
            return Choice("dense_fwd", None)
        return Choice("fwd", col)
    if kind == "jacobian" and not forward_ok:
        row = color(pattern, "row")
        if row.num_colors >= DENSE_FRACTION * m and m > 0:
            return Choice("dense_rev", None)
        return Choice("rev", row)
    if kind == "hessian" and not symmetric_ok and not is_symmetric(pattern):
        column = color(pattern, "column")
        if column.num_colors >= DENSE_FRACTION * n and n > 0:
            return Choice("dense", None)
        return Choice("column", column)
    if kind == "hessian":
        star = color(pattern, "symmetric")
        best = Choice("star", star)
        column = color(pattern, "column")
        if column.num_colors <= star.num_colors:
            best = Choice("column", column)
        elif star.num_colors > 3:
            acyclic = color(pattern, "acyclic")
            if acyclic.num_colors + 2 <= star.num_colors:
                best = Choice("acyclic", acyclic)
        colors = best.coloring.num_colors if best.coloring is not None else n
        if colors >= DENSE_FRACTION * n and n > 0:
            return Choice("dense", None)
        return best
    col = color(pattern, "column")
    row = color(pattern, "row")
    options = [
        (col.num_colors, Choice("fwd", col)),
        (VJP_COST * row.num_colors, Choice("rev", row)),
    ]
    if min(col.num_colors, row.num_colors) > 2:
        bi = color(pattern, "bidirectional")
        options.append((bi.num_forward + VJP_COST * bi.num_reverse, Choice("bidirectional", bi)))
    cost, best = min(options, key=lambda t: t[0])
    dense_cost = min(n, VJP_COST * m)
    if cost >= DENSE_FRACTION * dense_cost and dense_cost > 0:
        return Choice("dense_fwd" if n <= VJP_COST * m else "dense_rev", None)
    return best


def choose_cached(
    pattern: SparsityPattern,
    kind: str,
    mode: str | None,
    forward_ok: bool = True,
    reverse_ok: bool = True,
    symmetric_ok: bool = True,
) -> Choice:
    """:func:`choose`, read from the on-disk cache (:mod:`sparsediff.cache`) when an
    earlier run made the same choice for the same pattern, and written to it otherwise."""
    key = cache.choice_key(
        pattern.rows, pattern.cols, pattern.shape, kind, mode, forward_ok, reverse_ok,
        symmetric_ok, VJP_COST, DENSE_FRACTION,
    )  # fmt: skip
    path = cache.choice_path(key)
    if path is not None and path.exists():
        hit = _load_choice(path, pattern, kind)
        if hit is not None:
            return hit
    choice = choose(
        pattern, kind, mode, forward_ok=forward_ok, reverse_ok=reverse_ok,
        symmetric_ok=symmetric_ok,
    )  # fmt: skip
    if path is not None:
        if choice.coloring is None:
            cache.write_atomically(path, lambda tmp: np.savez(tmp, dense_mode=choice.mode))
        else:
            cache.write_atomically(path, lambda tmp: save_coloring(choice.coloring, tmp))
    return choice


def _load_choice(path: Any, pattern: SparsityPattern, kind: str) -> Choice | None:
    """The cached choice, or ``None`` when the file is unreadable or is not for ``pattern``
    (a hash collision or a damaged file costs a recomputation, never a wrong plan)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "dense_mode" in data.files:
                dense = str(data["dense_mode"])
                return Choice(dense, None) if dense.startswith("dense") else None
        c = load_coloring(path)
        if c.pattern.shape != pattern.shape or not (
            np.array_equal(c.pattern.rows, pattern.rows)
            and np.array_equal(c.pattern.cols, pattern.cols)
        ):
            return None
        return Choice(mode_of(c, kind), c)
    except Exception:  # any damage to a cache file: recompute  # noqa: BLE001
        return None


def mode_of(c: ColoringResult, kind: str) -> str:
    """The AD mode a coloring's problem implies."""
    if isinstance(c.problem, ColumnProblem):
        return "column" if kind == "hessian" else "fwd"
    if kind == "hessian" and not isinstance(c.problem, SymmetricProblem):
        raise ValueError(
            f"a Hessian needs a symmetric (star or acyclic) or column coloring; got a "
            f"{type(c.problem).__name__} coloring"
        )
    if isinstance(c.problem, RowProblem):
        return "rev"
    if isinstance(c.problem, BidirectionalProblem):
        return "bidirectional"
    if isinstance(c.problem, SymmetricProblem):
        return "acyclic" if c.problem.decompression == "substitution" else "star"
    raise ValueError(f"unsupported coloring problem {c.problem!r}")
