"""Newton–Krylov on two processes: the Bratu problem decomposed by grid rows.

    python examples/distributed_newton_krylov.py            # starts 2 processes here
    python examples/distributed_newton_krylov.py --grid 64  # a finer grid

Without ``--process-id`` the script starts itself twice on this machine
(``jax.distributed`` on localhost, CPU collectives, 4 simulated devices per
process: a mesh of 8 devices over 2 processes), as a cluster would start it
once per host with ``--process-id``, ``--processes`` and ``--coordinator``.

Every process runs the same program:

1. the residual ``F(u) = -Δu - λ eᵘ`` of the Bratu problem (λ = 1, zero on the
   boundary) as a ``shard_map`` over the mesh, each device holding ``N / 8`` grid
   rows and exchanging its edge rows with its neighbours (``ppermute``);
2. ``sparsediff.sharded_jacobian`` prepares its Jacobian once: detection reads
   the five-point pattern through ``shard_map`` and ``ppermute``, a coloring
   gives a few JVPs, evaluated on the mesh, each device keeping its rows;
3. each Newton step solves ``J δ = F(u)`` with lineax's GMRES: the product
   ``J v`` runs on the row blocks (``RowBlocks.matvec``), and the preconditioner
   is block Jacobi: every device factorises its own diagonal block with
   ``sparsediff.lineax.SparseLU`` (KLU, inside the jitted step) and solves with it.

The iteration stops when ``max |F(u)| < 1e-8``; process 0 prints the history.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys

DEVICES_PER_PROCESS = 4
TOL = 1e-8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def launch(args: argparse.Namespace) -> int:
    """Start ``args.processes`` copies of this script on this machine and wait."""
    env = dict(os.environ)
    flag = f"--xla_force_host_platform_device_count={DEVICES_PER_PROCESS}"
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    env.setdefault("JAX_PLATFORMS", "cpu")
    coordinator = f"localhost:{_free_port()}"
    print(f"starting {args.processes} processes ({DEVICES_PER_PROCESS} CPU devices each) ...")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--grid",
                str(args.grid),
                "--processes",
                str(args.processes),
                "--process-id",
                str(i),
                "--coordinator",
                coordinator,
            ],
            env=env,
        )  # fmt: skip
        for i in range(args.processes)
    ]
    codes = [p.wait() for p in procs]
    return max(codes)


def run(args: argparse.Namespace) -> int:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.processes,
        process_id=args.process_id,
    )
    import jax.numpy as jnp
    import lineax as lx
    import numpy as np
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    import sparsediff as sd
    from sparsediff.lineax import SparseLU
    from sparsediff.problems import sharded_bratu_residual

    say = print if jax.process_index() == 0 else (lambda *a, **k: None)
    n_dev = jax.device_count()
    grid = args.grid
    if grid % n_dev:
        raise SystemExit(f"--grid {grid} must be a multiple of the {n_dev} devices")
    # automatic axes: the layout is a property of the arrays, not of their types
    # (lineax's operators compare the types of the vectors they are given)
    mesh = jax.make_mesh((n_dev,), ("x",), axis_types=(AxisType.Auto,))
    layout = NamedSharding(mesh, P("x"))
    F = sharded_bratu_residual(mesh, "x", lam=1.0)
    u = jax.make_array_from_callback((grid, grid), layout, lambda idx: np.zeros((grid, grid))[idx])
    jac = sd.sharded_jacobian(F, u)
    say(f"Bratu, {grid} x {grid} grid on {n_dev} devices of {jax.process_count()} processes")
    say(f"  {jac}")

    # Block Jacobi: each device's diagonal block, read from its own values. The
    # decomposition is uniform, so every diagonal block has the same structure
    # (a constant of the shard_map body, which SparseLU analyses once).
    per = grid * grid // n_dev
    blocks0 = jac(u)
    pos, rows, cols = [], [], []
    for d in range(n_dev):
        indptr, indices = blocks0.indptr[d], blocks0.indices[d]
        r = np.repeat(np.arange(per), np.diff(indptr))
        inside = (indices >= d * per) & (indices < (d + 1) * per)
        pos.append(np.flatnonzero(inside))
        rows.append(r[inside])
        cols.append(indices[inside] - d * per)
    if not all(np.array_equal(a, b) for x in (rows, cols) for a, b in zip(x, x[1:])):
        raise SystemExit("the diagonal blocks differ in structure")
    diag_rows, diag_cols = rows[0], cols[0]
    # where each device finds its diagonal block's entries among its values
    all_pos = np.concatenate(pos)
    diag_pos = jax.make_array_from_callback(all_pos.shape, layout, lambda idx: all_pos[idx])
    local_shape = (grid // n_dev, grid)

    def precondition(values, where, r):
        def local(vals, where, r_local):
            dv = vals[where]

            def block(z):
                return jax.ops.segment_sum(dv * z[diag_cols], diag_rows, num_segments=per)

            op = lx.FunctionLinearOperator(block, jax.ShapeDtypeStruct((per,), r_local.dtype))
            sol = lx.linear_solve(op, r_local.reshape(-1), SparseLU())
            return sol.value.reshape(local_shape)

        # check_vma=False: lineax evaluates the block operator on abstract inputs
        # that carry no per-device (varying) type
        return jax.shard_map(
            local, mesh=mesh, in_specs=(P("x"), P("x"), P("x")), out_specs=P("x"), check_vma=False
        )(values, where, r)

    structure = jax.ShapeDtypeStruct((grid, grid), u.dtype)

    @jax.jit
    def newton_step(u, blocks, where):
        residual = F(u)
        op = lx.FunctionLinearOperator(blocks.matvec, structure)
        pre = lx.FunctionLinearOperator(lambda r: precondition(blocks.values, where, r), structure)
        solver = lx.GMRES(rtol=1e-10, atol=1e-12, restart=50, max_steps=2000)
        sol = lx.linear_solve(op, residual, solver, options={"preconditioner": pre}, throw=False)
        return u - sol.value, jnp.max(jnp.abs(residual)), sol.stats["num_steps"]

    @jax.jit
    def residual_norm(u):
        return jnp.max(jnp.abs(F(u)))

    for it in range(1, 11):
        u, before, steps = newton_step(u, jac(u), diag_pos)
        after = float(residual_norm(u))
        cycles = f"{int(steps)} GMRES cycles of up to 50 iterations"
        say(f"  Newton {it}: max |F| {float(before):.3e} -> {after:.3e} ({cycles})")
        if after < TOL:
            say(f"converged in {it} Newton steps: max u = {float(jnp.max(u)):.6f}")
            return 0
    say("did not converge")
    return 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=32, help="grid side N (a multiple of 8)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--process-id", type=int, default=None)
    ap.add_argument("--coordinator", default=None, help="host:port of process 0")
    args = ap.parse_args(argv)
    if args.process_id is None:
        return launch(args)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
