"""The COPS hanging chain with 10^4 variables, solved by Ipopt with sparse derivatives.

Run: python examples/ipopt_hanging_chain.py [--intervals N] [--verbose]
(needs Ipopt: its shared library, or cyipopt)

Prints Ipopt's status, iterations, the solve time and the time spent in the
derivative callbacks (Jacobian of the length constraint, lower triangle of the
Lagrangian Hessian), both evaluated by prepared, jitted sparse derivatives. The
optimal energy for ``a = 1, b = 3, L = 4`` is about 5.0685 (COPS 3.0 reports
5.06848 for this catenary problem).
"""

from __future__ import annotations

import argparse
import time

import jax

from sparsediff.ipopt import IpoptProblem
from sparsediff.problems import chain_bounds, chain_energy, chain_length, chain_start


def solve(intervals: int = 9999, length: float = 4.0, quiet: bool = True) -> dict:
    lb, ub = chain_bounds(intervals)
    t0 = time.perf_counter()
    nlp = IpoptProblem(
        chain_energy,
        chain_start(intervals, length=length),
        lambda y: chain_length(y, length),
        lb=lb,
        ub=ub,
    )
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    options = {"print_level": 0, "sb": "yes"} if quiet else {"print_level": 5}  # sb: no banner
    y, info = nlp.solve(tol=1e-8, max_iter=500, **options)
    total = time.perf_counter() - t0
    msg = info["status_msg"]
    return {
        "n": nlp.n,
        "m": nlp.m,
        "status": info["status"],
        "message": msg.decode() if isinstance(msg, bytes) else str(msg),
        "objective": float(info["obj_val"]),
        # one Lagrangian Hessian per iteration
        "iterations": nlp.stats["hessian"][0],
        "prepare_s": prep,
        "solve_s": total,
        # the gradient and the Jacobian come from one evaluation per point
        "first_s": nlp.stats["first_derivatives"][1],
        "first_calls": nlp.stats["first_derivatives"][0],
        "hessian_s": nlp.stats["hessian"][1],
        "hessian_calls": nlp.stats["hessian"][0],
        "other_s": nlp.stats["functions"][1],
        "passes": (nlp.jac.num_colors, nlp.hess.num_colors),
        "constraint_error": float(abs(float(chain_length(y, length)[0]))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intervals", type=int, default=9999, help="intervals (variables: N + 1)")
    ap.add_argument("--verbose", action="store_true", help="show Ipopt's iteration log")
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)
    # the callbacks run on this thread, not on a JAX worker thread (see the Ipopt how-to);
    # set before JAX's first computation
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    r = solve(args.intervals, quiet=not args.verbose)
    print(f"hanging chain: n = {r['n']} variables, m = {r['m']} constraint")
    print(f"Ipopt status {r['status']}: {r['message']}")
    print(f"energy {r['objective']:.6f}, |length error| {r['constraint_error']:.2e}")
    print(f"iterations (Hessian evaluations): {r['iterations']}")
    print(f"preparation (detection + coloring): {r['prepare_s']:.2f} s")
    print(
        f"solve: {r['solve_s']:.2f} s, of which derivatives "
        f"{r['first_s'] + r['hessian_s']:.2f} s (gradient and Jacobian {r['first_calls']} "
        f"evaluations, {r['first_s']:.2f} s; Hessian {r['hessian_calls']} evaluations, "
        f"{r['hessian_s']:.2f} s) and function values {r['other_s']:.2f} s"
    )
    print(f"AD passes per evaluation: Jacobian {r['passes'][0]}, Hessian {r['passes'][1]}")


if __name__ == "__main__":
    main()
