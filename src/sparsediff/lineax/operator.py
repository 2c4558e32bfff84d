"""An operator's sparse matrix: detection, coloring and values (see :mod:`sparsediff.lineax`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..coloring import color
from ..decompression.jax_plan import JaxPlan
from ..detection import jacobian_sparsity
from ..patterns import SparsityPattern
from . import pardiso

__all__ = [
    "Prepared",
    "prepare",
    "operator_values",
    "sparse_matrix",
    "clear_cache",
    "Static",
    "ravel",
    "unravel",
    "auto_picks_pardiso",
    "wide",
    "PARDISO_MIN_SIZE",
    "PARDISO_MIN_BANDWIDTH",
]


#: ``SparseLU(backend="auto")`` uses Pardiso (where installed) from this many unknowns
PARDISO_MIN_SIZE = 2048
#: ... and when no reverse Cuthill–McKee ordering brings the bandwidth under this
PARDISO_MIN_BANDWIDTH = 100


@dataclass(frozen=True)
class Prepared:
    """What one operator computation needs, whatever its numbers."""

    pattern: SparsityPattern
    rows: np.ndarray
    cols: np.ndarray
    seeds: np.ndarray  # (colors, n) 0/1
    plan: JaxPlan
    # non-square operators, in their tall orientation A (the operator or its transpose):
    # A's rows and cols, the permutation taking the values to A's row-major order,
    # and AᵀA: rows, cols, pair_p, pair_q, pair_dest
    normal: tuple[np.ndarray, ...] | None = None
    # bandwidth after reverse Cuthill–McKee (square operators of PARDISO_MIN_SIZE or
    # more, where Pardiso is installed: it only decides between the two backends)
    bandwidth: int = 0


def rcm_bandwidth(pattern: SparsityPattern) -> int:
    """Bandwidth of the pattern after a reverse Cuthill–McKee ordering: a banded
    factorisation holds at most about ``n`` times this many entries."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    n = pattern.shape[0]
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    graph = sp.csr_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n, n))
    order = reverse_cuthill_mckee(graph, symmetric_mode=False)
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    return int(np.abs(position[rows] - position[cols]).max()) if rows.size else 0


def tall_orientation(pattern: SparsityPattern) -> tuple[np.ndarray, ...] | None:
    """Normal-equation data of a non-square pattern, in its tall orientation."""
    m, n = pattern.shape
    if m == n:
        return None
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    if m > n:
        perm = np.arange(rows.size)
        tall = pattern
    else:  # wide: A = the transpose, its nonzeros ordered by (col, row)
        perm = np.lexsort((rows, cols))
        tall = SparsityPattern(cols[perm], rows[perm], (n, m))
    return (
        np.asarray(tall.rows, dtype=np.int32),
        np.asarray(tall.cols, dtype=np.int32),
        perm.astype(np.int32),
        *normal_equations(tall),
    )


def normal_equations(pattern: SparsityPattern) -> tuple[np.ndarray, ...]:
    """Pattern of ``AᵀA`` and, for its values, every pair of nonzeros of ``A``
    sharing a row: ``(AᵀA)[dest] += A[p] * A[q]``."""
    import scipy.sparse as sp

    m, n = pattern.shape
    rows = np.asarray(pattern.rows, dtype=np.int64)
    cols = np.asarray(pattern.cols, dtype=np.int64)
    indptr = np.asarray(pattern.indptr, dtype=np.int64)
    counts = np.diff(indptr)
    # all ordered pairs (p, q) within each row
    rep = np.repeat(counts, counts)  # per nonzero p: its row's length
    p = np.repeat(np.arange(rows.size), rep)
    start = np.repeat(indptr[:-1], counts)
    q = (np.arange(p.size) - np.repeat(np.cumsum(rep) - rep, rep)) + np.repeat(start, rep)
    ata = sp.csr_array((np.ones(p.size), (cols[p], cols[q])), shape=(n, n))
    ata.sum_duplicates()
    ata_rows = np.repeat(np.arange(n), np.diff(ata.indptr))
    key = cols[p] * n + cols[q]
    dest = np.searchsorted(ata_rows.astype(np.int64) * n + ata.indices, key)
    return (
        ata_rows.astype(np.int32),
        ata.indices.astype(np.int32),
        p.astype(np.int32),
        q.astype(np.int32),
        dest.astype(np.int32),
    )


CACHE: dict[Any, Prepared] = {}


def clear_cache() -> None:
    """Forget every prepared operator (patterns and colorings)."""
    CACHE.clear()


class Static:
    """A pytree leaf-less holder for static Python data inside a solver state."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


jax.tree_util.register_pytree_node(Static, lambda s: ((), s.value), lambda v, _: Static(v))


def flat_size(structure) -> int:
    return sum(math.prod(s.shape) for s in jax.tree_util.tree_leaves(structure))


def ravel(tree) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(tree)
    dtype = jnp.result_type(*leaves)
    return jnp.concatenate([jnp.ravel(x).astype(dtype) for x in leaves])


def unravel(flat: jax.Array, structure):
    leaves, treedef = jax.tree_util.tree_flatten(structure)
    out, start = [], 0
    for s in leaves:
        size = math.prod(s.shape)
        out.append(flat[start : start + size].reshape(s.shape).astype(s.dtype))
        start += size
    return jax.tree_util.tree_unflatten(treedef, out)


def split_consts(consts: list) -> tuple[list[int], list[int]]:
    """Indices of the constants kept as known values (concrete, non-floating:
    index arrays and the like) and of those made arguments (numbers of the
    operator, and anything only known at run time)."""
    kept, hoisted = [], []
    for i, c in enumerate(consts):
        concrete = not isinstance(c, jax.core.Tracer)
        if concrete and not jnp.issubdtype(jnp.result_type(c), jnp.inexact):
            kept.append(i)
        else:
            hoisted.append(i)
    return kept, hoisted


def prepare(operator) -> tuple[Prepared, Any, list]:
    """Pattern, coloring and plan of ``operator`` (cached), its flat
    matrix-vector product with the operator's numbers as arguments, and those numbers."""
    in_struct = operator.in_structure()
    n = flat_size(in_struct)
    dtype = jnp.result_type(*[s.dtype for s in jax.tree_util.tree_leaves(in_struct)])

    def mv_flat(v):
        return ravel(operator.mv(unravel(v, in_struct)))

    v_spec = jax.ShapeDtypeStruct((n,), dtype)
    closed = jax.make_jaxpr(mv_flat)(v_spec)
    consts = list(closed.consts)
    kept, hoisted = split_consts(consts)
    jaxpr = closed.jaxpr

    def converted(v, *args):
        full = list(consts)
        for i, a in zip(hoisted, args):
            full[i] = a
        return jax.core.eval_jaxpr(jaxpr, full, v)[0]

    args = [consts[i] for i in hoisted]
    specs = [jax.ShapeDtypeStruct(jnp.shape(c), jnp.result_type(c)) for c in args]
    known = tuple(
        (np.asarray(consts[i]).dtype.str, np.shape(consts[i]), np.asarray(consts[i]).tobytes())
        for i in kept
    )
    key = (str(jaxpr), n, tuple(hoisted), known)
    prep = CACHE.get(key)
    if prep is None:
        pattern = jacobian_sparsity(converted, v_spec, *specs, argnums=0)
        col = color(pattern, "column")
        prep = Prepared(
            pattern=pattern,
            rows=np.asarray(pattern.rows, dtype=np.int32),
            cols=np.asarray(pattern.cols, dtype=np.int32),
            seeds=np.ascontiguousarray(col.forward_seeds(np.float64).T),
            plan=JaxPlan.from_plan(col.plan),
            normal=tall_orientation(pattern),
            bandwidth=(
                rcm_bandwidth(pattern)
                if pattern.shape[0] == pattern.shape[1] >= PARDISO_MIN_SIZE and pardiso.available()
                else 0
            ),
        )
        CACHE[key] = prep
    return prep, converted, args


def sparse_matrix(operator) -> tuple[SparsityPattern, jax.Array]:
    """The operator's sparsity pattern and nonzero values (in the pattern's
    row-major order), from one matrix-vector product per color."""
    prep, converted, consts = prepare(operator)
    return prep.pattern, operator_values(prep, converted, consts)


def operator_values(prep: Prepared, converted, consts) -> jax.Array:
    pattern = prep.pattern
    if pattern.nnz == 0:
        return jnp.zeros(0, jnp.result_type(float))
    dtype = jnp.result_type(*consts) if consts else jnp.result_type(float)
    # Solvers prepare inside the caller's jax.jit, so the seeds and the index arrays
    # are compile-time constants there, and XLA would constant-fold every linear
    # operation of the JVPs applied to the seeds (a slice, a concatenate, a scaling
    # of a colors x n array each): seconds of compilation at n = 10^6 and XLA's
    # "Constant folding an instruction is taking > 1s" error logs.  The barrier
    # makes them run-time values.
    seeds, arrays = jax.lax.optimization_barrier(
        (jnp.asarray(prep.seeds, dtype), prep.plan.arrays())
    )
    products = jax.vmap(lambda s: converted(s, *consts))(seeds)  # (colors, m)
    return prep.plan.values(products.reshape(-1), arrays)


def wide(n: int, bandwidth: int) -> bool:
    """The ``auto`` rule: Pardiso for large operators that no banded ordering fits."""
    return n >= PARDISO_MIN_SIZE and bandwidth >= PARDISO_MIN_BANDWIDTH


def auto_picks_pardiso(pattern: SparsityPattern) -> bool:
    """Whether ``SparseLU(backend="auto")`` factorises an operator of this square
    pattern with Pardiso (installed, large, wide band) rather than KLU."""
    n = pattern.shape[0]
    if pattern.shape[1] != n or n < PARDISO_MIN_SIZE or not pardiso.available():
        return False
    return wide(n, rcm_bandwidth(pattern))
