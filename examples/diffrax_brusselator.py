"""A stiff 2D Brusselator with diffrax's Kvaerno5 and a sparse LU in its root finder.

Run: python examples/diffrax_brusselator.py [--grid N | --full]
     (needs sparsediff[lineax] and diffrax)

The default grid (N = 8, n = 2 N² = 128 unknowns) runs in well under a minute and
compares the result and the wall time with lineax's dense LU.  ``--full`` integrates
the N = 64 grid (n = 8,192; several minutes, SparseLU only: the dense LU is not
tried beyond n = 512), printing the progress of each integration.
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import lineax as lx  # noqa: E402
import numpy as np  # noqa: E402

import sparsediff.lineax as sdlx  # noqa: E402
from sparsediff.problems import brusselator_rhs  # noqa: E402

#: the dense LU is compared up to this many unknowns (it materialises n × n)
DENSE_MAX = 512
DEFAULT_GRID = 8
FULL_GRID = 64


def integrate(linear_solver, y0, progress: bool):
    stepper = diffrax.Kvaerno5(
        root_finder=diffrax.VeryChord(rtol=1e-8, atol=1e-8, linear_solver=linear_solver)
    )
    meter = diffrax.TextProgressMeter(minimum_increase=0.1) if progress else None
    return diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: brusselator_rhs(y)),
        stepper,
        t0=0.0,
        t1=0.5,
        dt0=1e-3,
        y0=y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8),
        max_steps=100_000,
        progress_meter=meter if meter is not None else diffrax.NoProgressMeter(),
    ).ys[-1]


def timed(name: str, fn, y0):
    """Two calls of ``fn``: the first compiles; each is announced before it runs."""
    print(f"{name}: first call (compilation and integration) ...", flush=True)
    t = time.perf_counter()
    out = jax.block_until_ready(fn(y0))
    first = time.perf_counter() - t
    print(f"{name}: second call (integration only) ...", flush=True)
    t = time.perf_counter()
    out = jax.block_until_ready(fn(y0))
    return out, first, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument(
        "--grid", type=int, default=DEFAULT_GRID, help=f"grid side N (default {DEFAULT_GRID})"
    )
    size.add_argument(
        "--full", action="store_true", help=f"the large grid, N = {FULL_GRID} (minutes)"
    )
    args = ap.parse_args()
    grid = FULL_GRID if args.full else args.grid
    progress = grid >= 32  # long integrations print their progress
    t = np.linspace(0.0, 1.0, grid, endpoint=False)
    y0 = jnp.asarray(
        np.stack(
            [1.0 + np.sin(2 * np.pi * t)[:, None] * np.ones(grid), 3.0 * np.ones((grid, grid))]
        )
    )
    n = y0.size
    print(f"2D Brusselator, N = {grid} (n = {n:,} unknowns), Kvaerno5 from t = 0 to 0.5")
    sparse, first, run = timed(
        "SparseLU", jax.jit(lambda y: integrate(sdlx.SparseLU(), y, progress)), y0
    )
    print(f"SparseLU: first call {first:.2f} s, then {run:.2f} s")
    if n <= DENSE_MAX:
        dense, first, run = timed(
            "dense LU", jax.jit(lambda y: integrate(lx.LU(), y, progress)), y0
        )
        print(
            f"dense LU: first call {first:.2f} s, then {run:.2f} s; "
            f"max |difference| {float(jnp.abs(dense - sparse).max()):.1e}"
        )
    else:
        print(f"dense LU skipped (n > {DENSE_MAX}: its n × n matrix per step is too slow)")


if __name__ == "__main__":
    main()
