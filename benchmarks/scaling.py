"""Scale-out benchmark: a row-decomposed PDE Jacobian on 1, 2, 4 and 8 devices.

Usage::

    python -m benchmarks.scaling [--quick] [--grid N] [--json PATH]

The Bratu residual ``-Δu - λ eᵘ`` on an ``N × N`` grid (``sparsediff.problems``)
written with ``shard_map``: each of ``D`` devices holds ``N / D`` grid rows and
exchanges its edge rows with its neighbours (``ppermute``). For each ``D`` a
fresh process with ``D`` simulated CPU devices
(``--xla_force_host_platform_device_count``) times:

* *prepare*: ``sparsediff.sharded_jacobian`` (detection through ``shard_map``
  and the collectives, coloring, the row-block layout);
* *first call*: the first evaluation (compilation included);
* *eval*: best of k evaluations of the row blocks (compressed JVPs under the
  residual's sharding, decompression on each device);
* *J v*: best of k row-block products ``RowBlocks.matvec`` inside ``jax.jit``.

What two cores can show: whether detection stays exact and cheap as the
mesh grows (the pattern is the same five-point pattern whatever ``D``),
whether evaluation and decompression stay local (per-device work shrinks as
``1 / D``, no gather of the Jacobian), and the overhead of the decomposition.
What they cannot show: a speedup. Simulated devices share the machine's cores
(here 2), so ``D = 8`` runs eight devices' work on two cores, and the
collectives are memory copies, not a network.

Verdicts (``benchmarks.verdicts.scaling_verdicts``): for every ``D``, the
pattern has exactly the five-point count ``5 N² - 4 N`` of nonzeros and the
values equal those of the one-device sparse Jacobian (``sparsediff.jacobian``
of the same residual without ``shard_map``) to 1e-12.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import verdicts
from .common import REPO_ROOT, child_env, fmt_seconds, markdown_table

__all__ = ["DEVICES", "run", "report", "main"]

DEVICES = (1, 2, 4, 8)
GRID = 256
QUICK_GRID = 32
REPEATS = 5


def _child(devices: int, grid: int, repeats: int) -> dict[str, Any]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    import sparsediff as sd
    from sparsediff.problems import bratu_residual, sharded_bratu_residual

    assert jax.device_count() == devices, jax.devices()
    mesh = jax.make_mesh((devices,), ("x",), axis_types=(AxisType.Auto,))
    host = np.random.default_rng(0).uniform(0.0, 1.0, (grid, grid))
    u = jax.device_put(jnp.asarray(host), NamedSharding(mesh, P("x")))
    residual = sharded_bratu_residual(mesh, "x")

    t0 = time.perf_counter()
    jac = sd.sharded_jacobian(residual, u)
    prepare = time.perf_counter() - t0
    t0 = time.perf_counter()
    blocks = jac(u)
    blocks.values.block_until_ready()
    first = time.perf_counter() - t0

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - t0)
        return min(times)

    evaluate = best(lambda: jac(u).values)
    v = jax.device_put(
        jnp.asarray(np.random.default_rng(1).standard_normal((grid, grid))), u.sharding
    )
    product = jax.jit(lambda b, w: b.matvec(w))
    product(blocks, v)
    matvec = best(lambda: product(blocks, v))

    # the one-device sparse Jacobian of the same residual, as the reference
    reference = sd.jacobian(bratu_residual, jnp.asarray(host), output_format="scipy_csr", devices=1)
    ref = reference(jnp.asarray(host))
    diff = abs(blocks.to_scipy() - ref)
    error = float(diff.max()) / float(abs(ref).max()) if ref.nnz else 0.0
    jv = np.asarray(product(blocks, v)).reshape(-1)
    jv_error = float(np.abs(jv - ref @ np.asarray(v).reshape(-1)).max()) / float(np.abs(jv).max())
    return {
        "devices": devices,
        "grid": grid,
        "n": grid * grid,
        "nnz": int(jac.sparsity.nnz),
        "true_nnz": 5 * grid * grid - 4 * grid,
        "colors": jac.num_colors,
        "block_width": int(blocks.width),
        "prepare_s": prepare,
        "first_s": first,
        "eval_s": evaluate,
        "matvec_s": matvec,
        "error": error,
        "matvec_error": jv_error,
    }


def run(grid: int = GRID, devices: Sequence[int] = DEVICES, repeats: int = REPEATS) -> list[dict]:
    """One row per device count, each measured in a fresh process."""
    rows = []
    for d in devices:
        env = child_env()
        flag = f"--xla_force_host_platform_device_count={d}"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
        env["JAX_PLATFORMS"] = "cpu"
        argv = [sys.executable, "-m", "benchmarks.scaling", "--child", str(d), "--grid", str(grid)]
        argv += ["--repeats", str(repeats)]
        print(f"[scaling] {d} device(s), grid {grid} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(
            argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            rows.append({"devices": d, "grid": grid, "error_text": tail[0][:200]})
            continue
        rows.append(json.loads(lines[-1]))
    return rows


def report(rows: Sequence[dict[str, Any]], quick: bool = False) -> str:
    import jax

    lines = [
        "# Scale-out: a row-decomposed PDE Jacobian on 1 to 8 devices",
        "",
        f"JAX {jax.__version__}, {os.cpu_count()} CPU cores, float64; devices simulated on "
        "the CPU (they share its cores: no speedup can show; see the module docstring).  Bratu "
        "residual on an N x N grid as a shard_map with halo exchange, rows split over the "
        "devices.  prepare: sharded_jacobian (detection, coloring, layout); first call: with "
        f"compilation; eval: best of {REPEATS} row-block evaluations; J v: best of {REPEATS} "
        "row-block products in jit; error: max |J - J_1| / max |J_1| against the one-device "
        "sparse Jacobian.",
        "",
    ]
    header = ["devices", "grid", "n", "nnz / five-point", "colors", "values per device",
              "prepare", "first call", "eval", "J v", "error", "J v error"]  # fmt: skip
    body = []
    for r in rows:
        if "error_text" in r:
            body.append([str(r["devices"]), str(r["grid"]), "-", r["error_text"]] + ["-"] * 8)
            continue
        body.append(
            [
                str(r["devices"]),
                str(r["grid"]),
                f"{r['n']:,}",
                f"{r['nnz']:,} / {r['true_nnz']:,}",
                str(r["colors"]),
                f"{r['block_width']:,}",
                fmt_seconds(r["prepare_s"]),
                fmt_seconds(r["first_s"]),
                fmt_seconds(r["eval_s"]),
                fmt_seconds(r["matvec_s"]),
                f"{r['error']:.1e}",
                f"{r['matvec_error']:.1e}",
            ]
        )
    lines += [markdown_table(header, body), "", "## Verdicts", ""]
    lines.append(verdicts.format_verdicts(verdicts.scaling_verdicts(rows), quick))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help=f"grid {QUICK_GRID}")
    ap.add_argument("--grid", type=int, default=None, help=f"grid side (default {GRID})")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--no-asdex", action="store_true", help="(no asdex here: accepted, ignored)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    grid = args.grid or (QUICK_GRID if args.quick else GRID)
    if args.child is not None:
        print(json.dumps(_child(args.child, grid, args.repeats)))
        return 0
    t0 = time.perf_counter()
    rows = run(grid, repeats=args.repeats)
    print(report(rows, quick=args.quick))
    print(f"\n(total benchmark wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return verdicts.exit_code(verdicts.scaling_verdicts(rows), args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
