"""Quick start: detect global sparsity patterns of a PDE residual and a Hessian.

Run with ``python examples/quickstart.py``.
"""

import time

import jax
import jax.numpy as jnp

import sparsediff as sd


def brusselator_rhs(y, a=1.0, b=3.0, alpha=0.02):
    """2D Brusselator right-hand side on a periodic grid; y has shape (2, N, N)."""
    u, v = y[0], y[1]

    def lap(w):
        return (
            jnp.roll(w, 1, 0) + jnp.roll(w, -1, 0) + jnp.roll(w, 1, 1) + jnp.roll(w, -1, 1) - 4 * w
        )

    du = b + u**2 * v - (a + 1) * u + alpha * lap(u)
    dv = a * u - u**2 * v + alpha * lap(v)
    return jnp.stack([du, dv])


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def main() -> None:
    n_grid = 64
    y = jax.ShapeDtypeStruct((2, n_grid, n_grid), jnp.float32)
    t = time.perf_counter()
    jac = sd.jacobian_sparsity(brusselator_rhs, y)
    print(f"Brusselator Jacobian, N={n_grid}: detected in {time.perf_counter() - t:.3f} s")
    print(jac)
    print(f"max nonzeros per row: {jac.row_counts.max()}, per column: {jac.col_counts.max()}")
    print("column 0 is", jac.locate_col(0))

    x = jax.ShapeDtypeStruct((10**6,), jnp.float32)
    t = time.perf_counter()
    hess = sd.hessian_sparsity(rosenbrock, x)
    print(f"\nRosenbrock Hessian, n=10^6: detected in {time.perf_counter() - t:.3f} s")
    print(hess)


if __name__ == "__main__":
    main()
