"""A sparse direct linear solver for lineax, optimistix and diffrax.

:class:`SparseLU` is a ``lineax.AbstractLinearSolver``. Given the linear
operator a Newton-type method hands it (a ``JacobianLinearOperator``, a
``FunctionLinearOperator`` from ``jax.linearize``, ``I - γ J`` from an implicit
ODE step, or any other lineax operator with a matrix-vector product), it

1. detects the sparsity pattern of the operator's matrix-vector product with
   respect to its input (the operator's own numbers, every floating-point or
   traced constant of that product, are made arguments first, so the pattern
   is valid at every linearisation point, not only at the one traced; constant
   integer arrays such as indices stay known and are part of the cache key);
2. colors its columns (cached: detection and coloring run once per operator
   computation and structure, whatever the numbers);
3. computes the matrix's nonzeros with one matrix-vector product per color
   (products of a linear map are its JVPs), inside the caller's ``jax.jit``;
4. solves with a sparse LU factorisation that runs inside ``jax.jit`` on CPU as
   an XLA custom call (no host callback): KLU through ``sparsax``, or, for large
   operators where ``pardiso-mkl-jax`` is installed, oneMKL Pardiso
   (``SparseLU(backend=...)``); both analyse each pattern once.

Transposed solves (needed to differentiate through a solve in reverse mode)
swap the pattern's rows and columns: same values, no new detection.

Requirements: ``pip install "sparsediff[lineax]"`` (lineax and sparsax), and
``"sparsediff[pardiso]"`` for the Pardiso backend (MKL, x86-64); both work in
float64, so ``jax_enable_x64`` must be on.

Usage::

    solver = sparsediff.lineax.SparseLU()
    optimistix.root_find(fn, optimistix.Newton(rtol, atol, linear_solver=solver), y0)
    diffrax.Kvaerno5(root_finder=diffrax.VeryChord(rtol, atol, linear_solver=solver))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

try:
    import lineax as lx
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'sparsediff.lineax needs lineax and sparsax: pip install "sparsediff[lineax]"'
    ) from err

from . import _pardiso
from .coloring import coloring as _color
from .decompression.jax_plan import JaxPlan
from .detection import jacobian_sparsity
from .patterns import SparsityPattern

__all__ = [
    "SparseLU",
    "sparse_matrix",
    "clear_cache",
    "PARDISO_MIN_SIZE",
    "PARDISO_MIN_BANDWIDTH",
    "auto_picks_pardiso",
]


def _sparsax():
    try:
        import sparsax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'SparseLU solves with sparsax (KLU): pip install "sparsediff[lineax]"'
        ) from err
    return sparsax


@dataclass(frozen=True)
class _Prepared:
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


def _rcm_bandwidth(pattern: SparsityPattern) -> int:
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


def _tall(pattern: SparsityPattern) -> tuple[np.ndarray, ...] | None:
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
        *_normal_equations(tall),
    )


def _normal_equations(pattern: SparsityPattern) -> tuple[np.ndarray, ...]:
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


_CACHE: dict[Any, _Prepared] = {}


def clear_cache() -> None:
    """Forget every prepared operator (patterns and colorings)."""
    _CACHE.clear()


class _Static:
    """A pytree leaf-less holder for static Python data inside a solver state."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


jax.tree_util.register_pytree_node(_Static, lambda s: ((), s.value), lambda v, _: _Static(v))


def _flat_size(structure) -> int:
    return sum(math.prod(s.shape) for s in jax.tree_util.tree_leaves(structure))


def _ravel(tree) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(tree)
    dtype = jnp.result_type(*leaves)
    return jnp.concatenate([jnp.ravel(x).astype(dtype) for x in leaves])


def _unravel(flat: jax.Array, structure):
    leaves, treedef = jax.tree_util.tree_flatten(structure)
    out, start = [], 0
    for s in leaves:
        size = math.prod(s.shape)
        out.append(flat[start : start + size].reshape(s.shape).astype(s.dtype))
        start += size
    return jax.tree_util.tree_unflatten(treedef, out)


def _split_consts(consts: list) -> tuple[list[int], list[int]]:
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


def _prepare(operator) -> tuple[_Prepared, Any, list]:
    """Pattern, coloring and plan of ``operator`` (cached), its flat
    matrix-vector product with the operator's numbers as arguments, and those numbers."""
    in_struct = operator.in_structure()
    n = _flat_size(in_struct)
    dtype = jnp.result_type(*[s.dtype for s in jax.tree_util.tree_leaves(in_struct)])

    def mv_flat(v):
        return _ravel(operator.mv(_unravel(v, in_struct)))

    v_spec = jax.ShapeDtypeStruct((n,), dtype)
    closed = jax.make_jaxpr(mv_flat)(v_spec)
    consts = list(closed.consts)
    kept, hoisted = _split_consts(consts)
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
    prep = _CACHE.get(key)
    if prep is None:
        pattern = jacobian_sparsity(converted, v_spec, *specs, argnums=0)
        col = _color(pattern, "column")
        prep = _Prepared(
            pattern=pattern,
            rows=np.asarray(pattern.rows, dtype=np.int32),
            cols=np.asarray(pattern.cols, dtype=np.int32),
            seeds=np.ascontiguousarray(col.forward_seeds(np.float64).T),
            plan=JaxPlan.from_plan(col.plan),
            normal=_tall(pattern),
            bandwidth=(
                _rcm_bandwidth(pattern)
                if pattern.shape[0] == pattern.shape[1] >= PARDISO_MIN_SIZE and _pardiso.available()
                else 0
            ),
        )
        _CACHE[key] = prep
    return prep, converted, args


def sparse_matrix(operator) -> tuple[SparsityPattern, jax.Array]:
    """The operator's sparsity pattern and nonzero values (in the pattern's
    row-major order), from one matrix-vector product per color."""
    prep, converted, consts = _prepare(operator)
    return prep.pattern, _values(prep, converted, consts)


def _values(prep: _Prepared, converted, consts) -> jax.Array:
    pattern = prep.pattern
    if pattern.nnz == 0:
        return jnp.zeros(0, jnp.result_type(float))
    dtype = jnp.result_type(*consts) if consts else jnp.result_type(float)
    seeds = jnp.asarray(prep.seeds, dtype)
    products = jax.vmap(lambda s: converted(s, *consts))(seeds)  # (colors, m)
    return prep.plan.values(products.reshape(-1), prep.plan.arrays())


_BACKENDS = ("auto", "klu", "pardiso")

#: ``SparseLU(backend="auto")`` uses Pardiso (where installed) from this many unknowns
PARDISO_MIN_SIZE = 2048
#: ... and when no reverse Cuthill–McKee ordering brings the bandwidth under this
PARDISO_MIN_BANDWIDTH = 100


def _wide(n: int, bandwidth: int) -> bool:
    """The ``auto`` rule: Pardiso for large operators that no banded ordering fits."""
    return n >= PARDISO_MIN_SIZE and bandwidth >= PARDISO_MIN_BANDWIDTH


def auto_picks_pardiso(pattern: SparsityPattern) -> bool:
    """Whether ``SparseLU(backend="auto")`` factorises an operator of this square
    pattern with Pardiso (installed, large, wide band) rather than KLU."""
    n = pattern.shape[0]
    if pattern.shape[1] != n or n < PARDISO_MIN_SIZE or not _pardiso.available():
        return False
    return _wide(n, _rcm_bandwidth(pattern))


class SparseLU(lx.AbstractLinearSolver):
    """Sparse LU of a colored, compressed operator matrix.

    ``backend``: ``"klu"`` (KLU through sparsax, partial pivoting), ``"pardiso"``
    (oneMKL Pardiso through ``pardiso-mkl-jax``, ``pip install
    "sparsediff[pardiso]"``: supernodal and multithreaded, many times faster on
    the matrices of 2D and 3D PDEs, static pivoting with a residual check that
    hands inaccurate solves to KLU, see :mod:`sparsediff._pardiso`) or
    ``"auto"`` (the default: Pardiso where it is installed, the operator has at
    least :data:`PARDISO_MIN_SIZE` unknowns and its bandwidth after a reverse
    Cuthill–McKee ordering is at least :data:`PARDISO_MIN_BANDWIDTH`, else KLU).
    Pardiso factorises matrices with much fill (2D and 3D PDEs) far faster, but
    each of its solves costs more than KLU's and it is slower on nearly banded
    matrices: in diffrax's Kvaerno5 on the 2D Brusselator (one factorisation and
    about 20 solves per step) KLU was faster at ``n = 512``, Pardiso 2.1x faster
    at ``n = 2,048`` and 3.5x at ``n = 8,192`` (``benchmarks/results.md``); on the
    tridiagonal Broyden system (Newton, ``n = 10^6``) KLU was 13x faster.

    Square operators are factorised directly. Tall ones (more outputs than
    inputs, as the damped systems of Levenberg–Marquardt) are solved in the
    least-squares sense through the normal equations ``AᵀA x = Aᵀb``, and wide
    ones in the least-norm sense (``x = Aᵀ (AAᵀ)⁻¹ b``), as lineax defines
    solves of non-square operators; the pattern of the product and the pairing
    of nonzeros behind it are computed once. The normal equations square the
    condition number: fine for damped or well-conditioned systems. See the
    module documentation.
    """

    backend: str = "auto"

    def __check_init__(self):
        if self.backend not in _BACKENDS:
            raise ValueError(
                f"SparseLU: unknown backend {self.backend!r}; choose one of {_BACKENDS}"
            )

    def _use_pardiso(self, prep: _Prepared) -> bool:
        if self.backend == "klu":
            return False
        if self.backend == "auto" and not _wide(prep.pattern.shape[0], prep.bandwidth):
            return False
        if _pardiso.available():
            return True
        if self.backend == "pardiso":
            raise ImportError(
                'SparseLU(backend="pardiso") needs pardiso-mkl-jax: '
                'pip install "sparsediff[pardiso]"'
            )
        return False

    def init(self, operator, options: dict[str, Any]):
        del options
        m, n = operator.out_size(), operator.in_size()
        if not jax.config.jax_enable_x64:
            raise RuntimeError(
                "SparseLU factorises in float64 (sparsax/KLU): enable it with "
                'jax.config.update("jax_enable_x64", True)'
            )
        _sparsax()
        prep, converted, consts = _prepare(operator)
        values = _values(prep, converted, consts).astype(jnp.float64)
        out_struct, in_struct = operator.out_structure(), operator.in_structure()
        if prep.normal is None:
            rows, cols = jnp.asarray(prep.rows), jnp.asarray(prep.cols)
            if prep.pattern.nnz and self._use_pardiso(prep):
                # (CSR row pointers, factorisation token); rows and cols stay A's
                indptr = jnp.asarray(prep.pattern.indptr, jnp.int32)
                lu = (indptr, _pardiso.factor(indptr, cols, values))
                static = (in_struct, out_struct, m, n, False)
                return (rows, cols, values, lu, _Static(static + ("pardiso",)))
            static = (in_struct, out_struct, m, n, False)
            return (rows, cols, values, None, _Static(static))
        t_rows, t_cols, perm, ata_rows, ata_cols, p, q, dest = (jnp.asarray(a) for a in prep.normal)
        if m < n:  # wide: store its transpose A (tall); solving with it is A's transposed solve
            values = values[perm]
            static = (out_struct, in_struct, n, m, True)
        else:
            static = (in_struct, out_struct, m, n, False)
        ata_values = jax.ops.segment_sum(values[p] * values[q], dest, ata_rows.size)
        return (t_rows, t_cols, values, (ata_rows, ata_cols, ata_values), _Static(static))

    def compute(self, state, vector, options: dict[str, Any]):
        del options
        rows, cols, values, normal, static = state
        a_in, a_out, m, n, transposed = static.value[:5]
        b = _ravel(vector).astype(jnp.float64)
        if static.value[-1] == "pardiso":
            indptr, token = normal
            x = _pardiso.solve(token, indptr, cols, rows, cols, values, b, transposed)
            return _unravel(x, a_out if transposed else a_in), lx.RESULTS.successful, {}
        lu_solve = _sparsax().lu_solve
        if normal is None:
            x = lu_solve(rows, cols, values, b)
        elif not transposed:  # least squares with tall A: (AᵀA) x = Aᵀ b
            atb = jax.ops.segment_sum(values * b[rows], cols, n)
            x = lu_solve(*normal, atb)
        else:  # least norm of Aᵀ y = b: y = A (AᵀA)⁻¹ b
            z = lu_solve(*normal, b)
            x = jax.ops.segment_sum(values * z[cols], rows, m)
        return _unravel(x, a_out if transposed else a_in), lx.RESULTS.successful, {}

    def transpose(self, state, options: dict[str, Any]):
        rows, cols, values, normal, static = state
        a_in, a_out, m, n, transposed = static.value[:5]
        if static.value[-1] == "pardiso":  # the same factorisation, solved transposed
            flipped = (a_in, a_out, m, n, not transposed, "pardiso")
            return (rows, cols, values, normal, _Static(flipped)), {}
        if normal is None:  # square: the transposed matrix
            return (cols, rows, values, None, _Static((a_out, a_in, n, m, False))), {}
        return (rows, cols, values, normal, _Static((a_in, a_out, m, n, not transposed))), {}

    def conj(self, state, options: dict[str, Any]):
        rows, cols, values, normal, static = state
        if static.value[-1] == "pardiso":  # real matrices only (float64)
            return state, {}
        if normal is not None:
            normal = (normal[0], normal[1], jnp.conj(normal[2]))
        return (rows, cols, jnp.conj(values), normal, static), {}

    def assume_full_rank(self) -> bool:
        return True
