"""A stiff 2D Brusselator with diffrax's Kvaerno5 and a sparse LU in its root finder.

Run: python examples/diffrax_brusselator.py [--grid N]   (needs sparsediff[lineax], diffrax)

Compares the wall time with lineax's default dense LU where that fits (n <= 2048).
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


def integrate(linear_solver, y0):
    stepper = diffrax.Kvaerno5(
        root_finder=diffrax.VeryChord(rtol=1e-8, atol=1e-8, linear_solver=linear_solver)
    )
    return diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: brusselator_rhs(y)),
        stepper,
        t0=0.0,
        t1=0.5,
        dt0=1e-3,
        y0=y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8),
        max_steps=100_000,
    ).ys[-1]


def timed(fn, y0):
    t = time.perf_counter()
    out = jax.block_until_ready(fn(y0))
    first = time.perf_counter() - t
    t = time.perf_counter()
    out = jax.block_until_ready(fn(y0))
    return out, first, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=64)
    grid = ap.parse_args().grid
    t = np.linspace(0.0, 1.0, grid, endpoint=False)
    y0 = jnp.asarray(
        np.stack(
            [1.0 + np.sin(2 * np.pi * t)[:, None] * np.ones(grid), 3.0 * np.ones((grid, grid))]
        )
    )
    n = y0.size
    sparse, first, run = timed(jax.jit(lambda y: integrate(sdlx.SparseLU(), y)), y0)
    print(f"N = {grid} (n = {n:,}): SparseLU first call {first:.2f} s, then {run:.2f} s")
    if n <= 2048:
        dense, first, run = timed(jax.jit(lambda y: integrate(lx.LU(), y)), y0)
        print(
            f"dense LU: first call {first:.2f} s, then {run:.2f} s; "
            f"max |difference| {float(jnp.abs(dense - sparse).max()):.1e}"
        )


if __name__ == "__main__":
    main()
