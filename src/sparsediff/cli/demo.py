"""``sparsediff demo``: a sparse Jacobian or Hessian of a built-in problem, end to end.

Detection, coloring, evaluation (timed against one AD pass and against dense
JAX), verification against random products and, with ``--plot``, a spy plot of
the colored pattern.  The problems are those of
:data:`sparsediff.problems.DEMO_PROBLEMS`.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp

from .._text import plural
from ..problems import DEFAULT_PROBLEM, DEMO_PROBLEMS
from .progress import Progress

#: dense jax.jacfwd / jax.hessian is skipped above this many matrix entries (memory)
DENSE_LIMIT = 2.5e8


def _best_time(fn, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def _passes(prepared) -> str:
    c = prepared.coloring
    passes = plural(prepared.num_colors, "AD pass")
    if c is not None and c.num_forward and c.num_reverse:
        return f"{passes} ({c.num_forward} forward + {c.num_reverse} reverse)"
    return passes


def run(
    grid: int | None = None,
    out=print,
    *,
    problem: str = DEFAULT_PROBLEM,
    plot: str | None = None,
    progress: Progress | None = None,
) -> bool:
    """Run the demo for ``problem`` at size ``grid`` (its default if ``None``).

    Returns whether verification passed.  ``progress`` reports long stages
    (none by default).
    """
    import sparsediff as sd
    from sparsediff.evaluation.prepared import SparseDerivative

    progress = progress or Progress(enabled=False)

    spec = DEMO_PROBLEMS[problem]
    size = spec.default_size if grid is None else grid
    f = spec.function
    shape = spec.shape_of(size)
    hessian = spec.kind == "hessian"
    sample = jax.ShapeDtypeStruct(shape, jnp.float32)
    n = sample.size
    out(f"sparsediff demo: {spec.describe(size)} (n = {n:,})\n")

    t = time.perf_counter()
    detect = sd.hessian_sparsity if hessian else sd.jacobian_sparsity
    with progress.stage("detecting sparsity"):
        pattern = detect(f, sample)
    t_detect = time.perf_counter() - t
    out(
        f"1. Detection ({t_detect:.3f} s): {pattern.nnz:,} nonzeros, "
        f"{pattern.row_counts.max()} per row at most"
    )
    out(repr(pattern))

    t = time.perf_counter()
    prepare = sd.hessian if hessian else sd.jacobian
    with progress.stage("coloring"):
        prepared = prepare(f, sample, sparsity=pattern)
    assert isinstance(prepared, SparseDerivative)  # prepared from samples, not lazily
    assert isinstance(prepared, SparseDerivative)  # prepared from samples, not lazily
    assert isinstance(prepared, SparseDerivative)  # prepared from samples, not lazily
    assert isinstance(prepared, SparseDerivative)  # prepared from samples, not lazily
    t_prepare = time.perf_counter() - t
    c = prepared.coloring
    lower = c.lower_bound if c is not None else "-"
    dense_name = "jax.hessian" if hessian else "jax.jacfwd"
    out(
        f"\n2. Coloring ({t_prepare:.3f} s): mode {prepared.mode!r}, {_passes(prepared)} "
        f"(lower bound {lower}) instead of {pattern.n:,} for dense {dense_name}"
    )

    y = spec.point_of(jax.random.key(0), shape)
    with progress.stage("evaluating"):
        t = time.perf_counter()
        jax.block_until_ready(prepared(y))
        t_first = time.perf_counter() - t
        t_eval = _best_time(lambda: prepared(y))
    if hessian:
        one_pass = jax.jit(lambda p, v: jax.jvp(jax.grad(f), (p,), (v,))[1])
        pass_name = "Hessian-vector product"
    else:
        one_pass = jax.jit(lambda p, v: jax.jvp(f, (p,), (v,))[1])
        pass_name = "JVP"
    with progress.stage(f"timing one {pass_name}"):
        jax.block_until_ready(one_pass(y, y))
        pass_time = _best_time(lambda: one_pass(y, y))
    what = "Hessian" if hessian else "Jacobian"
    k = prepared.num_colors
    ratio = t_eval / max(k * pass_time, 1e-12)
    out(
        f"\n3. Evaluation: first call (compile) {t_first:.3f} s, then {t_eval * 1e3:.2f} ms "
        f"per {what}; one {pass_name} alone takes {pass_time * 1e3:.3f} ms.\n"
        f"   The whole sparse {what} ({plural(k, 'AD pass')} and decompression) takes "
        f"{ratio:.2f}× the time of {plural(k, pass_name)} run one after another "
        "(below 1: running the passes together in one batch saves time)"
    )
    m = pattern.m
    if float(m) * n <= DENSE_LIMIT:
        dense = jax.jit(jax.hessian(f) if hessian else jax.jacfwd(f))
        with progress.stage(f"dense {dense_name}"):
            jax.block_until_ready(dense(y))
            t_dense = _best_time(lambda: dense(y), repeats=2)
        out(f"   dense {dense_name}: {t_dense * 1e3:.2f} ms ({t_dense / t_eval:.1f}× slower)")
    else:
        out(
            f"   dense {dense_name} skipped: its {m:,}×{n:,} float32 matrix would need "
            f"{4.0 * m * n / 2**30:.1f} GiB"
        )

    products = "Hessian-vector products" if hessian else "JVPs and VJPs"
    out(f"\n4. Verification against random {products}:")
    check = sd.check_hessian if hessian else sd.check_jacobian
    try:
        with progress.stage("verifying"):
            check(f, y, prepared=prepared)
    except sd.VerificationError as err:
        out(f"   FAILED: {err}")
        return False
    out("   passed")

    if plot:
        from .common import save_spy

        with progress.stage("plotting"):
            save_spy(plot, pattern, coloring=c)
        how = "colored by color group" if c is not None else "no coloring (dense mode)"
        out(f"\n5. Plot: spy plot of the pattern ({how}) written to {plot}")
    return True


def main(grid: int | None = None, problem: str = DEFAULT_PROBLEM, plot: str | None = None) -> int:
    ok = run(grid, problem=problem, plot=plot)
    sys.stdout.flush()
    return 0 if ok else 1


__all__ = ["run", "main", "DENSE_LIMIT"]
