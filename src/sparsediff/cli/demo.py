"""``sparsediff demo``: the sparse Jacobian of a 2D Brusselator, end to end."""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp

#: dense jax.jacfwd is skipped above this many Jacobian entries (memory)
DENSE_LIMIT = 2.5e8


def _best_time(fn, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def run(grid: int = 64, out=print) -> bool:
    """Run the demo; returns whether verification passed."""
    import sparsediff as sd
    from sparsediff.problems import brusselator_rhs

    n = 2 * grid * grid
    out(f"sparsediff demo: 2D Brusselator on a {grid}×{grid} periodic grid (n = {n:,})\n")
    sample = jax.ShapeDtypeStruct((2, grid, grid), jnp.float32)

    t = time.perf_counter()
    pattern = sd.jacobian_sparsity(brusselator_rhs, sample)
    t_detect = time.perf_counter() - t
    out(
        f"1. Detection ({t_detect:.3f} s): {pattern.nnz:,} nonzeros, "
        f"{pattern.row_counts.max()} per row at most"
    )
    out(repr(pattern))

    t = time.perf_counter()
    jac = sd.jacobian(brusselator_rhs, sample, sparsity=pattern)
    t_prepare = time.perf_counter() - t
    c = jac.coloring
    lower = c.lower_bound if c is not None else "-"
    out(
        f"\n2. Coloring ({t_prepare:.3f} s): mode {jac.mode!r}, {jac.num_colors} AD passes "
        f"(lower bound {lower}) instead of {n:,} for dense jax.jacfwd"
    )

    key = jax.random.key(0)
    y = 1.0 + 0.1 * jax.random.uniform(key, (2, grid, grid), jnp.float32)
    t = time.perf_counter()
    J = jac(y)
    jax.block_until_ready(J)
    t_first = time.perf_counter() - t
    t_eval = _best_time(lambda: jac(y))
    one_jvp = jax.jit(lambda p, t: jax.jvp(brusselator_rhs, (p,), (t,))[1])
    jax.block_until_ready(one_jvp(y, y))
    jvp_time = _best_time(lambda: one_jvp(y, y))
    out(
        f"\n3. Evaluation: first call (compile) {t_first:.3f} s, then {t_eval * 1e3:.2f} ms "
        f"per Jacobian; one JVP takes {jvp_time * 1e3:.3f} ms, so "
        f"eval / (passes × JVP) = {t_eval / max(jac.num_colors * jvp_time, 1e-12):.2f}"
    )
    if float(n) * n <= DENSE_LIMIT:
        dense = jax.jit(jax.jacfwd(brusselator_rhs))
        jax.block_until_ready(dense(y))
        t_dense = _best_time(lambda: dense(y), repeats=2)
        out(f"   dense jax.jacfwd: {t_dense * 1e3:.2f} ms ({t_dense / t_eval:.1f}× slower)")
    else:
        out(
            f"   dense jax.jacfwd skipped: its {n:,}×{n:,} float32 matrix would need "
            f"{4.0 * n * n / 2**30:.1f} GiB"
        )

    out("\n4. Verification against random JVPs and VJPs:")
    try:
        sd.check_jacobian(brusselator_rhs, y, prepared=jac)
    except sd.VerificationError as err:
        out(f"   FAILED: {err}")
        return False
    out("   passed")
    return True


def main(grid: int) -> int:
    ok = run(grid)
    sys.stdout.flush()
    return 0 if ok else 1


__all__ = ["run", "main"]
