"""Newton's method on Broyden's tridiagonal system with a sparse LU, inside jax.jit.

Run: python examples/optimistix_newton.py [--n N]    (needs sparsediff[lineax], optimistix)
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import optimistix as optx  # noqa: E402

import sparsediff.lineax as sdlx  # noqa: E402


def broyden(x, args):
    left = jnp.concatenate([jnp.zeros(1, x.dtype), x[:-1]])
    right = jnp.concatenate([x[1:], jnp.zeros(1, x.dtype)])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**6)
    n = ap.parse_args().n
    newton = optx.Newton(rtol=1e-10, atol=1e-10, linear_solver=sdlx.SparseLU())
    solve = jax.jit(lambda x0: optx.root_find(broyden, newton, x0).value)
    x0 = -jnp.ones(n)
    t = time.perf_counter()
    x = jax.block_until_ready(solve(x0))
    first = time.perf_counter() - t
    t = time.perf_counter()
    x = jax.block_until_ready(solve(x0))
    print(f"n = {n:,}: max |F(x)| = {float(jnp.abs(broyden(x, None)).max()):.1e}")
    print(
        f"first call (detection, coloring, compilation, solve) {first:.2f} s; "
        f"later calls {time.perf_counter() - t:.2f} s"
    )


if __name__ == "__main__":
    main()
