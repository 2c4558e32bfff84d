"""Every conservative rule, pinned: the current (denser) result beside the truth.

Each case states what detection returns today and what the tightest global
pattern is, with the reason for the gap. A rule that gets tighter makes its
case fail on purpose: update the numbers (and docs/limitations.md) then.

The true count is not taken on trust: it is the number of entries dense AD
shows at the case's points (points chosen to take every branch where the
pattern depends on the data), and the detected pattern must contain them all.
A host callback is differentiated through the same computation written in JAX.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import sparsediff as sd
from tests.oracle import assert_sound, nonzero_entries, oracle_union

N = 6
x6 = np.ones(N, np.float32)


def _spd(x):
    return jnp.diag(x**2 + 1.0)  # diagonal: every solve with it is diagonal too


def _filled(*values):
    """Constant inputs: ``x.astype(int32)`` is ``floor(v)`` everywhere."""
    return [np.full(N, v, np.float32) for v in values]


def _truth(f, points) -> np.ndarray:
    """Dense AD's non-zeros: at ``points``, or at three random points when None."""
    if points is None:
        return oracle_union(f, (x6,), points=3)
    return np.any([nonzero_entries(f, (p,)) for p in points], axis=0)


# name -> (f, detected nnz today, true global nnz, why)
CASES = {
    "triangular_solve_dense_block": (
        lambda x: jax.scipy.linalg.solve_triangular(_spd(x), jnp.ones(N), lower=True),
        N * N,
        N,
        "linear algebra is dense within each matrix block; the matrix here is diagonal",
    ),
    "cholesky_dense_block": (
        lambda x: jnp.linalg.cholesky(_spd(x)).reshape(-1),
        126,  # the lower triangle of each of the 36 outputs' rows: 21 rows x 6
        N,
        "factorisations are dense within each block (the result keeps its triangle)",
    ),
    "gather_unbounded_index": (
        lambda x: x[x.astype(jnp.int32) % 3] * 1.0,
        N * N,
        N * 3,
        "x % 3 plus index normalisation defeats interval bounds (hull [-2, 11])",
    ),
    "scatter_unknown_index": (
        lambda x: jnp.zeros(N).at[jnp.clip(x.astype(jnp.int32), 0, 1)].add(x),
        2 * N,
        2 * N,
        "bounded: each update may land on element 0 or 1 (exact here)",
    ),
    "scatter_unbounded_index": (
        lambda x: jnp.zeros(N).at[x.astype(jnp.int32) % 2].add(x),
        N * N,
        2 * N,
        "x % 2 plus index normalisation defeats interval bounds: any element may be hit",
    ),
    "scatter_set_duplicate_indices": (
        lambda x: x.at[jnp.array([0, 0])].set(x[1:3]),
        N + 1,
        N,
        "colliding writes: which one wins is unspecified, so both are kept",
    ),
    "while_data_dependent_trip_count": (
        lambda x: lax.while_loop(
            lambda c: (c[1] < 2) & (jnp.sum(c[0] ** 2) < 1e6),
            lambda c: (c[0] * 0.5 + jnp.roll(c[0], 1), c[1] + 1),
            (x, 0.0),
        )[0],
        N * N,
        3 * N,
        "fixed point over the carries: sound for any trip count; at most two steps run here",
    ),
    "generic_reduce_unions_operands": (
        lambda x: lax.reduce(
            (x, x[::-1] * 2), (0.0, 0.0), lambda a, b: (a[0] + b[0], a[1] * b[1]), (0,)
        )[0],
        N,
        N,
        "variadic reduce with a user reducer: each output gets every operand's reduction",
    ),
    "product_with_cancelling_unknown_factor": (
        lambda x: x * (x[0] - x[0]),
        2 * N - 1,
        0,
        "an unknown operand is assumed non-zero; x[0] - x[0] is not folded",
    ),
    "unknown_primitive_callback": (
        lambda x: jax.pure_callback(
            lambda v: np.asarray(v) * 2,
            jax.ShapeDtypeStruct((N,), jnp.float32),
            x,
            vmap_method="sequential",
        ),
        N * N,
        N,
        "host callbacks are opaque: every output depends on every input",
    ),
}
#: points that take every branch of a data-dependent index (None: random points)
POINTS = {
    "gather_unbounded_index": _filled(0.5, 1.5, 2.5),  # indices 0, 1, 2
    "scatter_unknown_index": _filled(0.5, 1.5),  # targets 0 and 1
    "scatter_unbounded_index": _filled(0.5, 1.5),  # targets 0 and 1
}
#: what dense AD differentiates instead of a function JAX cannot differentiate
ORACLE_FN = {"unknown_primitive_callback": lambda x: x * 2}


@pytest.mark.parametrize("name", sorted(CASES))
def test_conservative_case(name):
    f, detected, truth, why = CASES[name]
    p = sd.jacobian_sparsity(f, x6)
    seen = _truth(ORACLE_FN.get(name, f), POINTS.get(name))
    missing = np.argwhere(seen & ~p.todense())
    assert missing.size == 0, f"{name}: unsound, misses {missing.tolist()}"
    assert seen.sum() == truth, f"{name}: dense AD shows {seen.sum()} entries, not {truth}"
    assert p.nnz == detected, f"{name}: detection changed ({why}); update the pinned figure"
    assert truth <= detected


def test_scan_beyond_unroll_budget():
    """Past the unroll budget a scan's stacked outputs see every step's input."""

    def f(x):
        return lax.scan(lambda c, xt: (c + xt, xt * 2.0), 0.0, x)[1]

    with sd.detection_options(unroll_budget=1):
        p = sd.jacobian_sparsity(f, x6)
    truth = assert_sound(p, f, (x6,))
    assert truth.sum() == N  # the diagonal
    assert p.nnz == N * N


def test_known_values_above_the_limit_are_unknown():
    mask = (np.arange(N) % 2).astype(np.float32)

    def f(x):
        return x * jnp.asarray(mask)

    with sd.detection_options(known_value_limit=2):
        p = sd.jacobian_sparsity(f, x6)
    truth = assert_sound(p, f, (x6,))
    assert truth.sum() == N // 2
    assert p.nnz == N
