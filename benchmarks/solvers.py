"""Solver benchmark: sparse derivatives where solvers consume them.

Usage::

    python -m benchmarks.solvers [--quick] [--parts NAME ...] [--no-asdex] [--json PATH]

Parts (``--parts``; default all):

* ``diffrax``: the stiff 2D Brusselator (``sparsediff.problems.brusselator_rhs``,
  ``alpha = 10``) integrated with diffrax's ``Kvaerno5`` over ``t in [0, 0.5]``
  (``PIDController(rtol=1e-6, atol=1e-8)``, ``VeryChord(rtol=1e-8, atol=1e-8)``),
  grids ``N = 16 .. 128`` (``n = 2 N^2`` up to 32,768), with three linear solvers
  in the root finder: lineax's dense ``LU()`` (where the dense matrix and its
  ``O(n^3)`` factorisation are affordable: ``n <= 512``), splineax's
  ``AutoSparseLinearSolver`` (built on asdex; when installed; its ``KLU`` where
  ``pardiso-mkl-jax`` is installed, as Auto would then pick Pardiso) and
  ``sparsediff.lineax.SparseLU()``. Same tolerances; the final states are
  compared to sparsediff's.
* ``newton``: ``optimistix.Newton`` (``rtol = atol = 1e-10``) on the Broyden
  tridiagonal system, ``n = 10^3 .. 10^6``, same three solvers (dense up to
  ``n = 2000``). splineax gets the operator's sparsity through its own tag
  (``splineax.sparsity_coloring_tag``, asdex detection and coloring, prepared
  before the timed calls); diffrax offers no way to tag its root finder's
  operators, so splineax is reported as not applicable there.
* ``scipy``: ``scipy.optimize.least_squares`` (``trf``, ``lsmr``) on Broyden
  tridiagonal ``n = 10^5``: the Jacobian from ``sparsediff.scipy.Residual``
  against SciPy's own finite differences with ``jac_sparsity`` (SciPy colors the
  columns itself); time, Jacobian evaluations, final residual.
* ``ipopt``: the COPS hanging chain with ``10^4`` variables through
  ``sparsediff.ipopt.IpoptProblem`` (cyipopt): solve time, iterations and the
  time spent in the derivative callbacks.

Methodology: float64 (``jax_enable_x64``). For the JAX solvers each case is one
jitted function of the initial state; the first call (compile and run) and the
best of two further calls (run only; one only when the first took over 30 s) are
reported; ``sparsediff SparseLU`` is the default solver (oneMKL Pardiso for the
Brusselator grids from ``N = 32`` where ``pardiso-mkl-jax`` is installed, KLU
otherwise), with a ``(KLU)`` row beside it up to ``n = 8192`` where the default
chose Pardiso and a ``(Pardiso)`` row where it chose KLU (Pardiso installed);
the ratio columns compare run times measured in the same process,
one case after the other. The dense solver
is skipped above its size cap; a solver that fails prints its error instead.

The verdicts (``benchmarks.verdicts.solver_verdicts``) close the report; the script exits with
status 1 when sparsediff's solver raised, when another solver's solution differs from
sparsediff's by more than ``1e-6`` (one of them is wrong), or when Ipopt did not converge.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import verdicts
from .common import fmt_seconds, have_module, log, markdown_table  # noqa: E402

#: largest n for lineax's dense LU (diffrax factorises once per step: kept smaller)
DENSE_MAX_N = {"diffrax": 512, "newton": 2000}
_USE_SPLINEAX = True
#: largest n for the extra KLU row (the default solver uses Pardiso from PARDISO_MIN_SIZE)
KLU_ROW_MAX_N = 8192
#: a case whose first call took longer than this is timed once more instead of twice
SLOW_S = 30.0


def _pardiso_installed() -> bool:
    from sparsediff.lineax import pardiso as pardiso_backend

    return pardiso_backend.available()


def _pardiso_chosen(n: int, part: str) -> bool:
    """Whether the default SparseLU picks Pardiso for this case's Jacobian."""
    import sparsediff.lineax as sdlx
    from sparsediff import jacobian_sparsity

    if not _pardiso_installed() or n < sdlx.PARDISO_MIN_SIZE:
        return False
    if part.startswith("diffrax"):
        from sparsediff.problems import brusselator_rhs

        grid = math.isqrt(n // 2)
        pattern = jacobian_sparsity(
            brusselator_rhs, jax.ShapeDtypeStruct((2, grid, grid), jnp.float64)
        )
    else:
        pattern = jacobian_sparsity(broyden, jax.ShapeDtypeStruct((n,), jnp.float64))
    return sdlx.auto_picks_pardiso(pattern)


def _backend_note() -> str:
    import sparsediff.lineax as sdlx
    from sparsediff.lineax import pardiso as pardiso_backend

    if not pardiso_backend.available():
        return "sparsediff SparseLU: KLU (sparsax); pardiso-mkl-jax is not installed."
    return (
        f"sparsediff SparseLU (the default, backend='auto'): oneMKL Pardiso "
        f"(pardiso-mkl-jax installed) for n >= {sdlx.PARDISO_MIN_SIZE:,} with a bandwidth "
        f"after reverse Cuthill-McKee >= {sdlx.PARDISO_MIN_BANDWIDTH} (here: the Brusselator "
        "grids from N = 32), KLU (sparsax) otherwise (the tridiagonal Broyden system); "
        "'(KLU)': backend='klu', '(Pardiso)': backend='pardiso'. splineax: its Auto solver, "
        "or its KLU where Auto would pick Pardiso (slower on the tridiagonal Newton system)."
    )


def _time_jitted(fn: Callable, *args: Any, runs: int = 2) -> tuple[float, float, Any]:
    """(first call, best later call, result); one later call only after a slow first one."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t
    best = math.inf
    for _ in range(runs if first < SLOW_S else 1):
        t = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return first, best, out


def _solvers(n: int, part: str) -> list[tuple[str, Callable[[], Any] | None, str]]:
    """(name, factory or None, reason when None)."""
    import lineax as lx

    import sparsediff.lineax as sdlx

    out: list[tuple[str, Callable[[], Any] | None, str]] = []
    out.append(("sparsediff SparseLU", sdlx.SparseLU, ""))
    if _pardiso_chosen(n, part):  # the default picked Pardiso: KLU alongside, where affordable
        if n <= KLU_ROW_MAX_N:
            out.append(("sparsediff SparseLU (KLU)", lambda: sdlx.SparseLU(backend="klu"), ""))
        else:
            out.append(("sparsediff SparseLU (KLU)", None, f"n > {KLU_ROW_MAX_N:,}"))
    elif _pardiso_installed():  # the default picked KLU: Pardiso alongside, to show why
        out.append(("sparsediff SparseLU (Pardiso)", lambda: sdlx.SparseLU(backend="pardiso"), ""))
    if not _USE_SPLINEAX:
        out.append(("splineax Auto", None, "--no-asdex"))
    elif have_module("splineax") and part.startswith("diffrax"):
        out.append(
            (
                "splineax Auto",
                None,
                "splineax needs a sparsity tag on the operator; diffrax's root finder "
                "builds its operators internally, untagged",
            )
        )
    elif have_module("splineax"):
        import splineax

        if _pardiso_installed():
            # with pardiso-mkl-jax installed, splineax's Auto picks Pardiso, 10x slower
            # than KLU on this tridiagonal system: give splineax its faster choice
            out.append(("splineax KLU", splineax.KLU, ""))
        else:
            out.append(("splineax Auto", splineax.AutoSparseLinearSolver, ""))
    else:
        out.append(("splineax Auto", None, "not installed"))
    cap = DENSE_MAX_N["diffrax" if part.startswith("diffrax") else "newton"]
    if n <= cap:
        out.append(("lineax LU (dense)", lx.LU, ""))
    else:
        out.append(("lineax LU (dense)", None, f"n > {cap}"))
    return out


def _run_cases(
    title: str, sizes: Sequence[int], make: Callable[[int, Any], Callable], init: Callable
) -> list[dict]:
    rows = []
    for size in sizes:
        x0 = init(size)
        n = int(x0.size)
        ref = None
        for name, factory, reason in _solvers(n, title):
            row = {"part": title, "size": size, "n": n, "solver": name}
            if factory is None:
                row["skipped"] = reason
                rows.append(row)
                continue
            log(f"{title} size={size} {name} ...")
            try:
                fn = jax.jit(make(size, factory(), x0))
                first, best, out = _time_jitted(fn, x0)
            except Exception as err:  # noqa: BLE001 - reported in the table
                row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
                rows.append(row)
                continue
            row.update(first=first, run=best)
            if ref is None:
                ref = np.asarray(out)
            else:
                row["max_diff"] = float(np.abs(np.asarray(out) - ref).max())
            rows.append(row)
    return rows


# -- diffrax -------------------------------------------------------------------------


def _diffrax_make(grid: int, solver: Any, y0: Any) -> Callable:
    import diffrax

    from sparsediff.problems import brusselator_rhs

    term = diffrax.ODETerm(lambda t, y, args: brusselator_rhs(y))
    stepper = diffrax.Kvaerno5(
        root_finder=diffrax.VeryChord(rtol=1e-8, atol=1e-8, linear_solver=solver)
    )

    def run(y0):
        sol = diffrax.diffeqsolve(
            term,
            stepper,
            t0=0.0,
            t1=0.5,
            dt0=1e-3,
            y0=y0,
            stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8),
            max_steps=100_000,
        )
        return sol.ys[-1]

    return run


def _diffrax_init(grid: int) -> jax.Array:
    t = np.linspace(0.0, 1.0, grid, endpoint=False)
    u = 1.0 + np.sin(2 * np.pi * t)[:, None] * np.ones(grid)[None, :]
    v = 3.0 * np.ones((grid, grid))
    return jnp.asarray(np.stack([u, v]), jnp.float64)


# -- optimistix Newton ----------------------------------------------------------------


def broyden(x, args=None):
    left = jnp.concatenate([jnp.zeros(1, x.dtype), x[:-1]])
    right = jnp.concatenate([x[1:], jnp.zeros(1, x.dtype)])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def _newton_make(n: int, solver: Any, x0: Any) -> Callable:
    import optimistix as optx

    tags: frozenset = frozenset()
    if type(solver).__module__.startswith("splineax"):
        import splineax

        # splineax materialises an operator only through a sparsity tag (asdex
        # detection and coloring, done here, outside the timing of the solve)
        tags = frozenset({splineax.sparsity_coloring_tag(lambda x, a: broyden(x), x0)})

    def run(x0):
        newton = optx.Newton(1e-10, 1e-10, linear_solver=solver)
        return optx.root_find(broyden, newton, x0, tags=tags).value

    return run


def _newton_init(n: int) -> jax.Array:
    return -jnp.ones(n, jnp.float64)


def _ratio_lines(rows: list[dict]) -> list[str]:
    out = []
    by_size: dict[Any, dict[str, dict]] = {}
    for r in rows:
        by_size.setdefault((r["part"], r["size"]), {})[r["solver"]] = r
    for (part, size), solvers in by_size.items():
        ours = solvers.get("sparsediff SparseLU", {})
        if "run" not in ours:
            continue
        for name, r in solvers.items():
            if name == "sparsediff SparseLU" or "run" not in r:
                continue
            out.append(
                f"- {part} size {size}: {name} / sparsediff = {r['run'] / ours['run']:.1f}x "
                f"(run), {r['first'] / ours['first']:.1f}x (first call)"
            )
    return out


def _table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        if "skipped" in r or "error" in r:
            note = r.get("skipped") or r.get("error")
            body.append([str(r["size"]), f"{r['n']:,}", r["solver"], "-", "-", "-", note])
            continue
        body.append(
            [
                str(r["size"]),
                f"{r['n']:,}",
                r["solver"],
                fmt_seconds(r["first"]),
                fmt_seconds(r["run"]),
                "-" if "max_diff" not in r else f"{r['max_diff']:.1e}",
                "",
            ]
        )
    return markdown_table(
        ["size", "n", "solver", "first call", "run", "max diff vs sparsediff", "note"], body
    )


# -- SciPy ------------------------------------------------------------------------------


def scipy_part(n: int) -> tuple[str, dict]:
    import scipy.optimize

    import sparsediff.scipy as sds

    x0 = -np.ones(n)
    res = sds.Residual(broyden, x0)
    res.jac(x0)  # compile
    res.fun(x0)
    out = {}
    t = time.perf_counter()
    ours = scipy.optimize.least_squares(
        res.fun, x0, jac=res.jac, method="trf", tr_solver="lsmr", xtol=1e-12, ftol=1e-12
    )
    out["sparsediff"] = (time.perf_counter() - t, ours)
    t = time.perf_counter()
    fd = scipy.optimize.least_squares(
        res.fun,
        x0,
        jac_sparsity=res.jac_sparsity,
        method="trf",
        tr_solver="lsmr",
        xtol=1e-12,
        ftol=1e-12,
    )
    out["scipy finite differences"] = (time.perf_counter() - t, fd)
    body = []
    for name, (secs, r) in out.items():
        body.append(
            [
                name,
                fmt_seconds(secs),
                str(r.nfev),
                str(r.njev),
                f"{np.abs(r.fun).max():.1e}",
                f"{np.abs(r.x - ours.x).max():.1e}",
            ]
        )
    ratio = out["scipy finite differences"][0] / out["sparsediff"][0]
    text = markdown_table(
        ["Jacobian", "time", "fun evals", "jac evals", "max |residual|", "max |x - x_sd|"], body
    )
    text += f"\n\nSciPy finite differences / sparsediff time: {ratio:.2f}x"
    max_dx = float(np.abs(fd.x - ours.x).max())
    return text, {"n": n, "ratio": ratio, "max_dx": max_dx, **{k: v[0] for k, v in out.items()}}


# -- Ipopt --------------------------------------------------------------------------------


def ipopt_part(intervals: int) -> tuple[str, dict]:
    if not have_module("cyipopt"):
        return "cyipopt is not installed: skipped (see the Ipopt how-to)", {}
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "ipopt_hanging_chain.py"
    spec = importlib.util.spec_from_file_location("ipopt_hanging_chain", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    r = mod.solve(intervals)
    deriv = r["jacobian_s"] + r["hessian_s"]
    text = markdown_table(
        ["n", "status", "iterations", "prepare", "solve", "derivatives", "share", "energy"],
        [
            [
                f"{r['n']:,}",
                str(r["status"]),
                str(r["iterations"]),
                fmt_seconds(r["prepare_s"]),
                fmt_seconds(r["solve_s"]),
                fmt_seconds(deriv),
                f"{100 * deriv / r['solve_s']:.0f}%",
                f"{r['objective']:.6f}",
            ]
        ],
    )
    return text, r


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark in float64 (switched on for the run only, so that importing
    this module, as the tests do, changes nothing)."""
    with jax.enable_x64(True):
        return _main(argv)


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.solvers", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["diffrax", "newton", "scipy", "ipopt"],
        choices=["diffrax", "newton", "scipy", "ipopt"],
    )
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--no-asdex", action="store_true", help="skip splineax (built on asdex)")
    args = ap.parse_args(argv)
    global _USE_SPLINEAX
    _USE_SPLINEAX = not args.no_asdex
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    print("# Solver benchmark\n")
    print(f"JAX {jax.__version__}, float64, {sys.platform}. {_backend_note()}\n")
    if "diffrax" in args.parts:
        grids = (8, 16) if args.quick else (16, 32, 64, 128)
        rows = _run_cases("diffrax Kvaerno5 Brusselator", grids, _diffrax_make, _diffrax_init)
        results["diffrax"] = rows
        print("## diffrax Kvaerno5, 2D Brusselator (size = N, n = 2 N^2)\n")
        print(_table(rows))
        print("\n" + "\n".join(_ratio_lines(rows)) + "\n")
    if "newton" in args.parts:
        sizes = (10**3, 10**4) if args.quick else (10**3, 10**4, 10**5, 10**6)
        rows = _run_cases("optimistix Newton Broyden", sizes, _newton_make, _newton_init)
        results["newton"] = rows
        print("## optimistix Newton, Broyden tridiagonal\n")
        print(_table(rows))
        print("\n" + "\n".join(_ratio_lines(rows)) + "\n")
    if "scipy" in args.parts:
        n = 10**4 if args.quick else 10**5
        log(f"scipy least_squares n={n} ...")
        text, data = scipy_part(n)
        results["scipy"] = data
        print(f"## scipy.optimize.least_squares, Broyden tridiagonal n = {n:,}\n")
        print(text + "\n")
    if "ipopt" in args.parts:
        intervals = 999 if args.quick else 9999
        log(f"ipopt hanging chain intervals={intervals} ...")
        text, data = ipopt_part(intervals)
        results["ipopt"] = data
        print("## Ipopt (cyipopt), COPS hanging chain\n")
        print(text + "\n")
    found = verdicts.solver_verdicts(results)
    print("## Verdicts\n")
    print(verdicts.format_verdicts(found, args.quick) + "\n")
    print(f"(total benchmark wall time {math.ceil(time.perf_counter() - t0)} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)
    return verdicts.exit_code(found, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
