"""NLP benchmark: time to solution with Ipopt, sparsediff against CasADi.

Usage::

    python -m benchmarks.nlp [--quick] [--problems NAME ...] [--no-casadi] [--json PATH]
                             [--timeout SECONDS]

Who solves nonlinear programs with Ipopt usually picks CasADi.  This benchmark measures, side by
side in one run, the time a user waits from the definition of a problem to its solution with
CasADi (``casadi.nlpsol("ipopt")`` on an ``SX`` expression graph, CasADi's bundled Ipopt) and
with sparsediff (``sparsediff.ipopt.IpoptProblem.solve``, which calls the system's Ipopt
library through its C interface, or cyipopt where that library is not found).

Problems (``--problems``; each written once against a tiny namespace of math functions, ``ops``,
that is either ``jax.numpy`` or CasADi, see :func:`jax_ops` and :func:`casadi_ops`):

* ``chain``: the COPS hanging chain (Dolan, Moré and Munson, "Benchmarking optimization software
  with COPS 3.0", 2004), ``a = 1``, ``b = 3``, ``L = 4``, ``N = 10^3, 10^4, 10^5`` intervals
  (``N + 1`` variables, one constraint).  sparsediff gets the JAX functions of
  ``sparsediff.problems.hanging_chain``; CasADi the same formulas written against ``ops``
  (the tests check that both agree).
* ``cartpole``: the cart-pole swing-up of Kelly ("An Introduction to Trajectory Optimization:
  How to Do Your Own Direct Collocation", SIAM Review 59(4), 2017): cart mass 1 kg, pole mass
  0.3 kg, pole length 0.5 m, final time ``T = 2 s``, minimise ``∫ u² dt`` by trapezoidal
  collocation on ``N = 1000, 4000, 16000`` intervals (``5 (N + 1)`` variables, ``4 N``
  defect constraints); from hanging at rest at ``x = 0`` to upright at rest at ``x = 1 m``,
  ``|u| <= 20 N``, ``|x| <= 2 m``.  Start: the states interpolated linearly, ``u = 0``.
* ``lukvle1``: CUTEst's LUKVLE1, problem 5.1 of Lukšan and Vlček, "Sparse and partially
  separable test problems for unconstrained and equality constrained optimization" (Technical
  Report 767, Academy of Sciences of the Czech Republic, 1999): the chained Rosenbrock
  function with trigonometric-exponential equality constraints, ``n = 10^3, 10^4, 10^5``
  (``n - 2`` constraints), started at ``x_i = -1.2`` (``i`` odd) and ``1`` (``i`` even).

Ipopt options, the same for both tools: ``tol = 1e-8``, ``max_iter =`` :data:`MAX_ITER`,
``print_level = 0``, ``sb = yes`` (no banner), ``linear_solver = mumps`` (set explicitly: a
build without MUMPS would fail the run, so MUMPS is what each one used); CasADi also gets
``print_time = False``.  The two tools run different Ipopt builds (their versions are printed):
iteration counts may differ, which the solve times include.  So, where casadi's Ipopt library
is another than the one sparsediff finds by itself, sparsediff runs once more at every size,
warm, with casadi's library (``SPARSEDIFF_IPOPT_LIBRARY``), in a table of its own: the same
Ipopt and MUMPS for both tools.  The main tables and the verdicts use sparsediff's own library.

Methodology.  Every (problem, size, tool) case runs in a fresh interpreter (``python -m
benchmarks.nlp --child ...``) twice in a row: a *cold* run with an empty temporary cache
directory and a *warm* run with the same directory, passed to the child as
``SPARSEDIFF_COMPILATION_CACHE``, which a sparsediff child hands to sparsediff's on-disk caches
(``SPARSEDIFF_CACHE``: chosen colorings and JAX's persistent compilation cache; the benchmarks
package otherwise turns them off), with ``JAX_ENABLE_X64=1``.  CasADi runs the same way
(the cache means nothing to it).  The child prints one JSON line; its columns:

* *import*: importing numpy and the tool (jax, sparsediff.ipopt; casadi);
* *preparation*: from the definition to a ready problem object: the starting point and bounds,
  then CasADi's symbolic graph and ``nlpsol`` (which builds the derivatives symbolically), or
  sparsediff's ``IpoptProblem`` (sparsity detection and coloring);
* *compilation*: sparsediff's first call of each callback (objective, gradient, constraints,
  Jacobian, Hessian), the JIT compilation; 0 for CasADi (its SX functions are interpreted,
  nothing is compiled);
* *solve*: the wall time of Ipopt's solve, callbacks included;
* *deriv./iter.*: time in the derivative callbacks (gradient of the objective, Jacobian of
  the constraints, Hessian of the Lagrangian) during the solve divided by Ipopt's iterations
  (CasADi: ``t_wall_nlp_grad_f + t_wall_nlp_jac_g + t_wall_nlp_hess_l`` of ``stats()`` over
  ``iter_count``; sparsediff: its ``"first_derivatives"`` and ``"hessian"`` evaluations of
  ``IpoptProblem.stats``, its iterations being its Hessian evaluations, one per iteration;
  sparsediff computes the gradient and the Jacobian's values in one call at each point where
  Ipopt asks for them, CasADi in two functions);
* *total*: import + preparation + compilation + solve, the definition-to-solution time of a
  fresh process (interpreter start-up and exit, the same for both, left out).

A second table splits the solve into the derivative callbacks, the function callbacks
(objective and constraint values) and Ipopt's own work (the rest: mostly MUMPS).

JAX's CPU dispatch: sparsediff's children run with ``jax_cpu_enable_async_dispatch`` off
(``--dispatch sync``, the default, as ``docs/how-to/ipopt.md`` recommends for Ipopt): a
compiled function then runs on the calling thread instead of a worker thread, which saves a
hand-over between threads on every callback.  At the smallest size of each problem
sparsediff also runs warm with the other setting (JAX's default, ``async``), in a table of
its own.

Verdicts (``benchmarks.verdicts.nlp_verdicts``): sparsediff ran every case, and Ipopt
converged with its derivatives wherever it converged with CasADi's (a case where Ipopt fails
with both is reported, not failed: the hanging chain from its parabola start is fragile, see
below); where both converged, the objectives agree to a relative ``1e-6`` at every size and
run (``WRONG`` otherwise); timing targets: the hanging chain with ``N = 10^4`` from definition
to solution no slower than CasADi on the warm run and at most 2x CasADi on the cold run, and
the derivative time per Ipopt iteration no higher than CasADi's from ``n = 10^3`` on every
problem (the best of the cold and warm runs of each tool).  The script exits with status 1
when a verdict fails (timing targets are not judged in a ``--quick`` run).  ``--no-casadi``
times sparsediff alone; without an importable casadi it does so after a one-line note.

The hanging chain from ``sparsediff.problems.chain_start`` is delicate for Ipopt: with the
default options it converges at ``N = 10^4`` with both tools, but diverges (the energy falls
without bound as the length constraint is given up) at ``N = 10^5`` with both and at ``N = 10^3``
with CasADi's Ipopt 3.14, depending on rounding.  :data:`MAX_ITER` bounds the cost of such
runs; their derivative times per iteration still count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from .nlp_problems import PROBLEMS, casadi_ops, chain_jax, instance, num_variables, size_label

# Only the standard library at module level: a child measures its imports (numpy included)
# from a clean interpreter.  The parent's helpers (numpy) are imported inside its functions.

TITLES = {
    "chain": "COPS hanging chain (size = N intervals, n = N + 1)",
    "cartpole": "Cart-pole swing-up, trapezoidal collocation (size = N intervals, n = 5 (N + 1))",
    "lukvle1": "LUKVLE1, Lukšan-Vlček 5.1 (size = n)",
}
SIZES = {
    "chain": (10**3, 10**4, 10**5),
    "cartpole": (1000, 4000, 16000),
    "lukvle1": (10**3, 10**4, 10**5),
}
QUICK_SIZES = {"chain": (10**3, 10**4), "cartpole": (250,), "lukvle1": (10**3,)}
TOOLS: tuple[str, ...] = ("casadi", "sparsediff")
TOOL_NAMES = {"casadi": "CasADi", "sparsediff": "sparsediff"}
RUNS: tuple[str, ...] = ("cold", "warm")
MAX_ITER = 500
IPOPT_OPTIONS: dict[str, Any] = {
    "tol": 1e-8,
    "max_iter": MAX_ITER,
    "print_level": 0,
    "sb": "yes",
    "linear_solver": "mumps",
}
#: the variable that passes the cache directory to a child
CACHE_ENV = "SPARSEDIFF_COMPILATION_CACHE"
#: the variable that tells a sparsediff child how JAX dispatches on the CPU (:data:`DISPATCHES`)
DISPATCH_ENV = "SPARSEDIFF_NLP_DISPATCH"
#: ``sync``: JAX's asynchronous CPU dispatch turned off, as the Ipopt how-to recommends;
#: ``async``: JAX's default
DISPATCHES: tuple[str, ...] = ("sync", "async")
#: the variable that tells a sparsediff child which Ipopt library to load (:data:`BUILDS`)
BUILD_ENV = "SPARSEDIFF_NLP_IPOPT"
#: ``default``: the library sparsediff loads in this environment (here the system's);
#: ``casadi``: the library inside the casadi package, the very build CasADi's runs use
BUILDS: tuple[str, ...] = ("default", "casadi")
#: seconds a child may take before it is stopped (``--timeout``)
CHILD_TIMEOUT = 1800.0

# --------------------------------------------------------------------------------------------
# One measurement (what a child process runs)
# --------------------------------------------------------------------------------------------


def _casadi_ipopt_version(casadi: Any) -> str:
    """The version of CasADi's bundled Ipopt, from its library's file name."""
    from pathlib import Path

    folder = Path(casadi.__file__).parent
    for lib in sorted(folder.glob("libipopt.so.*.*.*")) + sorted(folder.glob("libipopt*.dylib")):
        parts = lib.name.split(".so.")
        if len(parts) == 2:
            return parts[1]
    return "bundled (version unknown)"


def measure_casadi(problem: str, size: int, t_start: float | None = None) -> dict[str, Any]:
    """Import, build, solve with CasADi; the timings as a row."""
    t0 = time.perf_counter() if t_start is None else t_start
    import casadi
    import numpy as np

    t_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    inst = instance(problem, size)
    ops = casadi_ops()
    z = casadi.SX.sym("z", inst.n)
    nlp = {"x": z, "f": inst.objective(ops, z), "g": inst.constraints(ops, z)}
    solver = casadi.nlpsol(
        "solver", "ipopt", nlp, {"ipopt": dict(IPOPT_OPTIONS), "print_time": False}
    )
    t_prepare = time.perf_counter() - t0

    t0 = time.perf_counter()
    sol = solver(x0=inst.x0, lbx=inst.lb, ubx=inst.ub, lbg=inst.cl, ubg=inst.cu)
    t_solve = time.perf_counter() - t0
    st = solver.stats()
    iters = int(st["iter_count"])
    first = float(st["t_wall_nlp_grad_f"]) + float(st["t_wall_nlp_jac_g"])
    hess = float(st["t_wall_nlp_hess_l"])
    other = sum(float(st.get(k, 0.0)) for k in ("t_wall_nlp_f", "t_wall_nlp_g", "t_wall_nlp_grad"))
    return {
        "tool": "casadi",
        "problem": problem,
        "size": size,
        "n": inst.n,
        "m": inst.m,
        "version": casadi.__version__,
        "ipopt_version": _casadi_ipopt_version(casadi),
        "linear_solver": IPOPT_OPTIONS["linear_solver"],
        "import_s": t_import,
        "prepare_s": t_prepare,
        "compile_s": 0.0,
        "solve_s": t_solve,
        "grad_jac_s": first,
        "hess_s": hess,
        "other_s": other,
        "grad_jac_calls": int(st.get("n_call_nlp_grad_f", 0)) + int(st.get("n_call_nlp_jac_g", 0)),
        "hess_calls": int(st.get("n_call_nlp_hess_l", 0)),
        "iterations": iters,
        "objective": float(np.asarray(sol["f"]).reshape(-1)[0]),
        "status": str(st.get("return_status")),
        "success": bool(st.get("success")),
    }


def measure_sparsediff(problem: str, size: int, t_start: float | None = None) -> dict[str, Any]:
    """Import, prepare, compile, solve with sparsediff and Ipopt; the timings as a row."""
    t0 = time.perf_counter() if t_start is None else t_start
    cache_dir = os.environ.get(CACHE_ENV)
    if cache_dir:
        # importing the benchmarks package turned sparsediff's caches off
        # (SPARSEDIFF_CACHE=off): this child uses the directory its parent gave it
        os.environ["SPARSEDIFF_CACHE"] = cache_dir
    import jax

    dispatch = os.environ.get(DISPATCH_ENV, DISPATCHES[0])
    if dispatch not in DISPATCHES:
        raise ValueError(f"{DISPATCH_ENV}={dispatch!r}; expected one of {DISPATCHES}")
    # before JAX makes its CPU client (the setting is read then): see docs/how-to/ipopt.md
    jax.config.update("jax_cpu_enable_async_dispatch", dispatch == "async")
    import numpy as np

    import sparsediff
    from sparsediff.ipopt import IpoptProblem

    if problem == "chain":
        import sparsediff.problems.hanging_chain  # noqa: F401 - the chain's JAX functions
    t_import = time.perf_counter() - t0
    if not jax.config.jax_enable_x64:
        raise RuntimeError("JAX float64 is off: run with JAX_ENABLE_X64=1")

    t0 = time.perf_counter()
    inst = instance(problem, size)
    if problem == "chain":
        inst = chain_jax(inst)
    f, c = inst.jax_functions()
    nlp = IpoptProblem(f, inst.x0, c, lb=inst.lb, ub=inst.ub, cl=inst.cl, cu=inst.cu)
    t_prepare = time.perf_counter() - t0

    x0, lam = inst.x0, np.ones(nlp.m)
    first = {
        "objective": lambda: nlp.objective(x0),
        "gradient": lambda: nlp.gradient(x0),
        "constraints": lambda: nlp.constraints(x0),
        "jacobian": lambda: nlp.jacobian(x0),
        "hessian": lambda: nlp.hessian(x0, lam, 1.0),
    }
    compile_parts = {}
    for name, call in first.items():
        t0 = time.perf_counter()
        call()
        compile_parts[name] = time.perf_counter() - t0

    before = {k: tuple(v) for k, v in nlp.stats.items()}
    t0 = time.perf_counter()
    _, info = nlp.solve(**IPOPT_OPTIONS)
    t_solve = time.perf_counter() - t0
    used = {k: (nlp.stats[k][0] - before[k][0], nlp.stats[k][1] - before[k][1]) for k in before}
    msg = info.get("status_msg", b"")
    return {
        "tool": "sparsediff",
        "dispatch": dispatch,
        "ipopt_interface": _ipopt_interface(),
        "ipopt_build": os.environ.get(BUILD_ENV, BUILDS[0]),
        "problem": problem,
        "size": size,
        "n": inst.n,
        "m": inst.m,
        "version": getattr(sparsediff, "__version__", "?"),
        "ipopt_version": _ipopt_version(),
        "linear_solver": IPOPT_OPTIONS["linear_solver"],
        "import_s": t_import,
        "prepare_s": t_prepare,
        "compile_s": sum(compile_parts.values()),
        "compile_parts": compile_parts,
        "solve_s": t_solve,
        "grad_jac_s": used["first_derivatives"][1],
        "hess_s": used["hessian"][1],
        "other_s": used["functions"][1],
        "grad_jac_calls": used["first_derivatives"][0],
        "hess_calls": used["hessian"][0],
        # Ipopt evaluates the Lagrangian Hessian once per iteration
        "iterations": used["hessian"][0],
        "objective": float(info["obj_val"]),
        "status": msg.decode() if isinstance(msg, bytes) else str(msg),
        "ipopt_status": int(info["status"]),
        "success": int(info["status"]) == 0,
        "passes": [None if nlp.jac is None else nlp.jac.num_colors, nlp.hess.num_colors],
        "jax_cache_dir": jax.config.jax_compilation_cache_dir,
    }


def _ipopt_interface() -> str:
    """How sparsediff reached Ipopt in this process (see ``IpoptProblem.solve``)."""
    from sparsediff import ipopt_capi

    try:
        ipopt_capi.load_library()
    except ipopt_capi.IpoptLibraryError:
        return "cyipopt"
    return "C interface"


def _ipopt_version() -> str:
    """The version of the Ipopt library the C interface loaded (Ipopt >= 3.14 tells), else
    the one cyipopt reports (asked after the timings: importing cyipopt imports SciPy), else
    '?'."""
    from sparsediff import ipopt_capi

    try:
        version = ipopt_capi.library_version()
    except ipopt_capi.IpoptLibraryError:
        version = None
    if version is not None:
        return ".".join(str(v) for v in version)
    try:
        import cyipopt
    except ImportError:
        return "?"
    return ".".join(str(v) for v in getattr(cyipopt, "IPOPT_VERSION", ())) or "?"


def finish_row(row: dict[str, Any]) -> dict[str, Any]:
    """Adds the derived columns (total, derivative time, per-iteration time, Ipopt's own)."""
    row["total_s"] = row["import_s"] + row["prepare_s"] + row["compile_s"] + row["solve_s"]
    row["deriv_s"] = row["grad_jac_s"] + row["hess_s"]
    iters = row.get("iterations") or 0
    row["deriv_per_iter_ms"] = 1e3 * row["deriv_s"] / iters if iters else None
    row["ipopt_s"] = max(row["solve_s"] - row["deriv_s"] - row["other_s"], 0.0)
    return row


MEASURE = {"casadi": measure_casadi, "sparsediff": measure_sparsediff}


def child_main(tool: str, problem: str, size: int) -> int:
    """Measures one case and prints one JSON line (an ``error`` row when it failed)."""
    t_start = time.perf_counter()
    try:
        row = finish_row(MEASURE[tool](problem, size, t_start))
    except Exception as err:  # noqa: BLE001 - reported as a row
        traceback.print_exc(file=sys.stderr)
        first = (str(err).splitlines() or [""])[0][:200]
        row = {
            "tool": tool,
            "problem": problem,
            "size": size,
            "error": f"{type(err).__name__}: {first}",
        }
    sys.stdout.flush()
    print(json.dumps(row), flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# The parent: fresh processes, cold and warm
# --------------------------------------------------------------------------------------------


def child_environment(
    cache_dir: str, dispatch: str = DISPATCHES[0], ipopt_build: str = BUILDS[0]
) -> dict[str, str]:
    """The child's environment: importable benchmarks, float64, the cache directory, the
    Ipopt library.

    The directory goes to the child as ``SPARSEDIFF_COMPILATION_CACHE``; a sparsediff child
    hands it to sparsediff as ``SPARSEDIFF_CACHE``.  A JAX cache directory of the caller's is
    dropped, so that the cold run is cold.  ``ipopt_build="casadi"`` points
    ``SPARSEDIFF_IPOPT_LIBRARY`` at casadi's library; the default build keeps the caller's
    environment, so the child loads the library this process would
    (``sparsediff.ipopt_capi.library_path()``).
    """
    from sparsediff import ipopt_capi

    from .common import child_env

    env = child_env()
    env["JAX_ENABLE_X64"] = "1"
    env[CACHE_ENV] = cache_dir
    env[DISPATCH_ENV] = dispatch
    env[BUILD_ENV] = ipopt_build
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if ipopt_build == "casadi":
        path = ipopt_capi.casadi_library()
        if path is None:
            raise RuntimeError("casadi's Ipopt library was not found (is casadi installed?)")
        env["SPARSEDIFF_IPOPT_LIBRARY"] = path
    elif ipopt_build != BUILDS[0]:
        raise ValueError(f"ipopt_build={ipopt_build!r}; expected one of {BUILDS}")
    return env


def run_case(
    tool: str,
    problem: str,
    size: int,
    run: str,
    cache_dir: str,
    timeout: float = CHILD_TIMEOUT,
    dispatch: str = DISPATCHES[0],
    ipopt_build: str = BUILDS[0],
) -> dict[str, Any]:
    """Runs one case in a fresh interpreter; the child's row plus ``run``, labels, wall time
    (and, for sparsediff, JAX's CPU ``dispatch`` and the ``ipopt_build``)."""
    from .common import REPO_ROOT

    argv = [sys.executable, "-m", "benchmarks.nlp", "--child", tool, problem, str(size)]
    base = {
        "tool": tool,
        "problem": problem,
        "size": size,
        "run": run,
        "size_label": size_label(problem, size),
        "n": num_variables(problem, size),
    }
    if tool == "sparsediff":
        base["dispatch"] = dispatch
        base["ipopt_build"] = ipopt_build
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=child_environment(cache_dir, dispatch, ipopt_build),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {**base, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {**base, "error": f"child exited with code {proc.returncode}: {tail}"}
    row = {**json.loads(lines[-1]), **base, "process_s": wall}
    if tool == "sparsediff":
        row["cache_files"] = sum(len(files) for _, _, files in os.walk(cache_dir))
    return row


def run_all(
    problems: Sequence[str],
    sizes: Mapping[str, Sequence[int]],
    tools: Sequence[str],
    timeout: float = CHILD_TIMEOUT,
    dispatch: str = DISPATCHES[0],
    compare_dispatch: bool = True,
    compare_build: bool = True,
) -> list[dict[str, Any]]:
    """Every case, cold then warm, each tool in its own processes; one cache per case.

    sparsediff runs with JAX's CPU ``dispatch`` and the Ipopt library it finds by itself.
    With ``compare_dispatch``, at the smallest size of each problem it runs once more, warm,
    with the other dispatch setting; with ``compare_build``, where both tools run and
    casadi's Ipopt library is another than sparsediff's own, at every size once more, warm,
    with casadi's library (those rows carry ``dispatch`` and ``ipopt_build``;
    :func:`main_rows` leaves them out of the other tables)."""
    from sparsediff import ipopt_capi

    from .common import log

    other = next(d for d in DISPATCHES if d != dispatch)
    casadi_lib = ipopt_capi.casadi_library()
    own_lib = ipopt_capi.library_path()
    builds = compare_build and "casadi" in tools and "sparsediff" in tools
    builds = builds and casadi_lib is not None and own_lib != casadi_lib
    rows = []
    for problem in problems:
        for k, size in enumerate(sizes[problem]):
            cache_dir = tempfile.mkdtemp(prefix="sparsediff-nlp-cache-")
            cases = [(run, tool, dispatch, BUILDS[0]) for run in RUNS for tool in tools]
            if compare_dispatch and k == 0 and "sparsediff" in tools:
                cases.append(("warm", "sparsediff", other, BUILDS[0]))
            if builds:
                cases.append(("warm", "sparsediff", dispatch, "casadi"))
            try:
                for run, tool, how, build in cases:
                    note = f", {how} dispatch" if how != dispatch else ""
                    note += f", {build}'s Ipopt" if build != BUILDS[0] else ""
                    log(f"{problem} {size_label(problem, size)} {tool} ({run}{note}) ...")
                    row = run_case(tool, problem, size, run, cache_dir, timeout, how, build)
                    if "error" in row:
                        log(f"  {row['error']}")
                    else:
                        log(
                            f"  total {row['total_s']:.2f} s, {row['iterations']} "
                            f"iterations, objective {row['objective']:.10g}"
                        )
                    rows.append(row)
            finally:
                shutil.rmtree(cache_dir, ignore_errors=True)
    return rows


def main_rows(rows: Sequence[Mapping[str, Any]], dispatch: str) -> list[Mapping[str, Any]]:
    """The rows of the main runs: CasADi's, and sparsediff's with JAX's CPU ``dispatch`` and
    its own Ipopt library."""
    return [
        r
        for r in rows
        if r.get("dispatch", dispatch) == dispatch and r.get("ipopt_build", BUILDS[0]) == BUILDS[0]
    ]


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def _ratio(num: float | None, den: float | None) -> str:
    if num is None or not den:
        return "-"
    return f"{num / den:.2f}x"


def _obj(x: float | None) -> str:
    return "-" if x is None else f"{x:.10g}"


def _status(r: Mapping[str, Any]) -> str:
    """``solved``, or why not (Ipopt's status, shortened)."""
    if r.get("success"):
        return "solved"
    status = str(r.get("status", "?"))
    return f"NOT SOLVED: {status[:40]}" + ("..." if len(status) > 40 else "")


def results_table(rows: Sequence[Mapping[str, Any]], problem: str) -> str:
    """All runs of one problem: the timing columns per size, run and tool."""
    from .common import fmt_int, fmt_seconds, markdown_table

    body = []
    for r in rows:
        if r["problem"] != problem:
            continue
        head = [r["size_label"], fmt_int(r.get("n")), r["run"], TOOL_NAMES[r["tool"]]]
        if "error" in r:
            body.append([*head, *["-"] * 8, f"ERROR: {r['error']}"])
            continue
        body.append(
            [
                *head,
                fmt_seconds(r["import_s"]),
                fmt_seconds(r["prepare_s"]),
                fmt_seconds(r["compile_s"]) if r["compile_s"] else "0",
                fmt_seconds(r["solve_s"]),
                _ms(r["deriv_per_iter_ms"]),
                str(r["iterations"]),
                _obj(r["objective"]),
                fmt_seconds(r["total_s"]),
                _status(r),
            ]
        )
    headers = [
        "size",
        "n",
        "run",
        "tool",
        "import",
        "preparation",
        "compilation",
        "solve",
        "deriv./iter. (ms)",
        "iterations",
        "objective",
        "total",
        "Ipopt status",
    ]
    return markdown_table(headers, body, align="lrllrrrrrrrrl")


def comparison_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """sparsediff / CasADi per problem, size and run: totals, solves, derivatives, objectives."""
    from . import verdicts
    from .common import fmt_seconds, markdown_table

    body = []
    for (problem, _, run), (sd, cas) in verdicts.nlp_pairs(rows).items():
        if sd is None or cas is None or "error" in sd or "error" in cas:
            continue
        diff = verdicts.relative_difference(sd["objective"], cas["objective"])
        if sd.get("success") and cas.get("success"):
            check = f"{diff:.1e} {verdicts.check_status(diff, verdicts.NLP_TOLERANCE)}"
        else:
            who = [TOOL_NAMES[r["tool"]] for r in (sd, cas) if not r.get("success")]
            check = f"not compared ({' and '.join(who)} did not converge)"
        body.append(
            [
                problem,
                sd["size_label"],
                run,
                fmt_seconds(sd["total_s"]),
                fmt_seconds(cas["total_s"]),
                _ratio(sd["total_s"], cas["total_s"]),
                fmt_seconds(sd["solve_s"]),
                fmt_seconds(cas["solve_s"]),
                _ratio(sd["solve_s"], cas["solve_s"]),
                _ms(sd["deriv_per_iter_ms"]),
                _ms(cas["deriv_per_iter_ms"]),
                _ratio(sd["deriv_per_iter_ms"], cas["deriv_per_iter_ms"]),
                f"{sd['iterations']} / {cas['iterations']}",
                check,
            ]
        )
    headers = [
        "problem",
        "size",
        "run",
        "total sd",
        "total CasADi",
        "ratio",
        "solve sd",
        "solve CasADi",
        "ratio",
        "deriv./iter. sd (ms)",
        "CasADi (ms)",
        "ratio",
        "iterations sd / CasADi",
        "objective rel. diff",
    ]
    return markdown_table(headers, body, align="lll" + "r" * 11)


def breakdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Where the solve time goes: derivative callbacks, function callbacks, Ipopt itself."""
    from .common import fmt_seconds, markdown_table

    body = []
    for r in rows:
        if "error" in r or r["run"] != "warm":
            continue
        passes = r.get("passes")
        body.append(
            [
                r["problem"],
                r["size_label"],
                TOOL_NAMES[r["tool"]],
                fmt_seconds(r["solve_s"]),
                f"{fmt_seconds(r['grad_jac_s'])} / {r['grad_jac_calls']}",
                f"{fmt_seconds(r['hess_s'])} / {r['hess_calls']}",
                fmt_seconds(r["other_s"]),
                fmt_seconds(r["ipopt_s"]),
                "-" if not passes else f"{passes[0]} / {passes[1]}",
            ]
        )
    headers = [
        "problem",
        "size",
        "tool",
        "solve",
        "grad f, Jacobian (time / calls)",
        "Hessian (time / calls)",
        "f, c",
        "Ipopt itself",
        "AD passes J / H",
    ]
    return markdown_table(headers, body, align="lll" + "r" * 6)


def dispatch_table(rows: Sequence[Mapping[str, Any]], dispatch: str) -> str:
    """sparsediff's warm runs with both CPU dispatch settings, beside CasADi's warm run."""
    from .common import markdown_table

    def per_call(r: Mapping[str, Any], kind: str) -> str:
        calls = r.get(f"{kind}_calls") or 0
        return f"{1e6 * r[f'{kind}_s'] / calls:.0f}" if calls else "-"

    warm = [
        r
        for r in rows
        if r["run"] == "warm" and "error" not in r and r.get("ipopt_build", BUILDS[0]) == BUILDS[0]
    ]
    body = []
    for r in warm:
        if r["tool"] != "sparsediff" or r["dispatch"] == dispatch:
            continue
        key = (r["problem"], r["size"])
        main = next(
            (q for q in warm if q["tool"] == "sparsediff" and (q["problem"], q["size"]) == key
             and q["dispatch"] == dispatch), None,
        )  # fmt: skip
        cas = next(
            (q for q in warm if q["tool"] == "casadi" and (q["problem"], q["size"]) == key), None
        )
        if main is None:
            continue
        by = {dispatch: main, r["dispatch"]: r}
        sync, asyn = by["sync"], by["async"]
        body.append(
            [
                r["problem"],
                r["size_label"],
                _ms(cas["deriv_per_iter_ms"]) if cas else "-",
                _ms(sync["deriv_per_iter_ms"]),
                _ms(asyn["deriv_per_iter_ms"]),
                _ratio(asyn["deriv_per_iter_ms"], sync["deriv_per_iter_ms"]),
                f"{per_call(sync, 'grad_jac')} / {per_call(asyn, 'grad_jac')}",
                f"{per_call(sync, 'hess')} / {per_call(asyn, 'hess')}",
                f"{sync['solve_s'] * 1e3:.1f} / {asyn['solve_s'] * 1e3:.1f}",
            ]
        )
    headers = [
        "problem",
        "size",
        "CasADi deriv./iter. (ms)",
        "sparsediff, sync (ms)",
        "sparsediff, async: JAX's default (ms)",
        "async / sync",
        "grad f + Jacobian per call, sync / async (us)",
        "Hessian per call, sync / async (us)",
        "solve, sync / async (ms)",
    ]
    return markdown_table(headers, body, align="ll" + "r" * 7)


def build_table(rows: Sequence[Mapping[str, Any]], dispatch: str) -> str:
    """sparsediff's warm runs with its own Ipopt library and with casadi's, beside CasADi's."""
    from .common import fmt_seconds, markdown_table

    warm = [r for r in rows if r["run"] == "warm" and "error" not in r]

    def find(problem: str, size: int, tool: str, build: str) -> Mapping[str, Any] | None:
        return next(
            (q for q in warm if (q["problem"], q["size"], q["tool"]) == (problem, size, tool)
             and q.get("dispatch", dispatch) == dispatch
             and q.get("ipopt_build", BUILDS[0]) == build), None,
        )  # fmt: skip

    body = []
    for r in warm:
        if r["tool"] != "sparsediff" or r.get("ipopt_build") != "casadi":
            continue
        own = find(r["problem"], r["size"], "sparsediff", BUILDS[0])
        cas = find(r["problem"], r["size"], "casadi", BUILDS[0])
        if own is None or cas is None:
            continue
        body.append(
            [
                r["problem"],
                r["size_label"],
                " / ".join(fmt_seconds(q["total_s"]) for q in (cas, own, r)),
                " / ".join(_ratio(q["total_s"], cas["total_s"]) for q in (own, r)),
                " / ".join(fmt_seconds(q["solve_s"]) for q in (cas, own, r)),
                " / ".join(fmt_seconds(q["ipopt_s"]) for q in (cas, own, r)),
                " / ".join(str(q["iterations"]) for q in (cas, own, r)),
                f"{own.get('ipopt_version', '?')} / {r.get('ipopt_version', '?')}",
            ]
        )
    headers = [
        "problem",
        "size",
        "total: CasADi / sd / sd, CasADi's Ipopt",
        "total / CasADi's: sd / sd, CasADi's Ipopt",
        "solve: CasADi / sd / sd, CasADi's Ipopt",
        "Ipopt itself: CasADi / sd / sd, CasADi's Ipopt",
        "iterations",
        "Ipopt of sd: own / CasADi's",
    ]
    return markdown_table(headers, body, align="ll" + "r" * 6)


def versions_line(rows: Sequence[Mapping[str, Any]]) -> str:
    """Which Ipopt and linear solver each tool used (from the first row of each that ran)."""
    parts = []
    for tool in TOOLS:
        r = next((r for r in rows if r["tool"] == tool and "error" not in r), None)
        if r is None:
            continue
        via = r.get("ipopt_interface", "?")
        what = "CasADi" if tool == "casadi" else f"sparsediff (Ipopt through {via})"
        parts.append(
            f"{what} {r.get('version', '?')}: Ipopt {r.get('ipopt_version', '?')}, "
            f"linear solver {r.get('linear_solver', '?')}"
        )
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def import_problem(module: str) -> str | None:
    """``None`` when ``module`` imports, else why not (one line)."""
    try:
        __import__(module)
    except Exception as err:  # noqa: BLE001 - any failure means "not usable"
        return f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"
    return None


def ipopt_missing() -> str | None:
    """``None`` when sparsediff can run Ipopt (its library or cyipopt), else why not."""
    from sparsediff import ipopt_capi

    try:
        ipopt_capi.load_library()
    except ipopt_capi.IpoptLibraryError as err:
        why = import_problem("cyipopt")
        return None if why is None else f"{err}; cyipopt is not importable either ({why})"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.nlp", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes only (a few minutes)")
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    ap.add_argument("--no-casadi", action="store_true", help="time sparsediff only")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument(
        "--timeout",
        type=float,
        default=CHILD_TIMEOUT,
        help="seconds one case may take (default %(default)s)",
    )
    ap.add_argument(
        "--dispatch",
        choices=DISPATCHES,
        default=DISPATCHES[0],
        help="JAX's CPU dispatch for sparsediff's runs (default %(default)s, as the Ipopt "
        "how-to recommends; the smallest size of each problem also runs with the other)",
    )
    ap.add_argument("--child", nargs=3, metavar=("TOOL", "PROBLEM", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        tool, problem, size = args.child
        return child_main(tool, problem, int(size))

    from . import verdicts
    from .common import log

    t_all = time.perf_counter()
    print("# Nonlinear programs: time to solution with Ipopt, sparsediff against CasADi\n")
    notes = []
    tools = list(TOOLS)
    if args.no_casadi:
        tools.remove("casadi")
        notes.append("--no-casadi: sparsediff timed alone, no comparison.")
    elif (why := import_problem("casadi")) is not None:
        tools.remove("casadi")
        notes.append(f"casadi is not importable ({why}): sparsediff timed alone.")
    if (why := ipopt_missing()) is not None:
        tools.remove("sparsediff")
        notes.append(f"{why}: sparsediff cannot run Ipopt.")
    for note in notes:
        print(f"Note: {note}\n")
        log(note)
    opts = ", ".join(f"{k}={v}" for k, v in IPOPT_OPTIONS.items())
    print(
        f"Ipopt options for both: {opts}. Every case in a fresh process, run twice: cold "
        "(empty JAX compilation cache) and warm (the same cache). Times in seconds unless "
        "marked; ratios are sparsediff / CasADi (below 1: sparsediff is faster).\n"
    )

    sizes = QUICK_SIZES if args.quick else SIZES
    every = run_all(args.problems, sizes, tools, args.timeout, args.dispatch) if tools else []
    rows = main_rows(every, args.dispatch)
    if rows:
        print(versions_line(rows) + "\n")
    for problem in args.problems:
        print(f"## {TITLES[problem]}\n")
        print(results_table(rows, problem) + "\n")
    if "casadi" in tools and "sparsediff" in tools:
        print("## sparsediff / CasADi\n")
        print(comparison_table(rows) + "\n")
    if rows:
        print("## Where the solve time goes (warm runs)\n")
        print(breakdown_table(rows) + "\n")
        print(
            "Ipopt itself: the solve minus the callbacks (mostly MUMPS; the two tools link "
            "different Ipopt and MUMPS builds, see above).\n"
        )
    if len(every) > len(rows):
        print("## JAX's CPU dispatch (warm runs at the smallest size)\n")
        print(
            "JAX runs a compiled CPU function on a worker thread by default (asynchronous "
            'dispatch); with `jax.config.update("jax_cpu_enable_async_dispatch", False)`, '
            "set before JAX's first computation, it runs on the caller's thread. A small "
            "callback then skips the hand-over between threads. sparsediff's runs above use "
            f"**{args.dispatch}** dispatch.\n"
        )
        print(dispatch_table(every, args.dispatch) + "\n")
    if any(r.get("ipopt_build", BUILDS[0]) != BUILDS[0] for r in every):
        print("## The same Ipopt build for both tools (warm runs)\n")
        print(
            "The casadi wheel carries its own Ipopt library with MUMPS; sparsediff's C "
            "interface loads it when `SPARSEDIFF_IPOPT_LIBRARY` names it (and finds it by "
            "itself where no other Ipopt is installed). Here sparsediff runs once more, warm, "
            "with that library: both tools then call the same Ipopt and MUMPS, and what "
            "remains between them is theirs. The tables and verdicts above use sparsediff's "
            "own library.\n"
        )
        print(build_table(every, args.dispatch) + "\n")

    found = verdicts.nlp_verdicts(rows, args.quick, chain_size=10**4)
    print("## Verdicts\n")
    print(verdicts.format_verdicts(found, args.quick) + "\n")
    print(f"(total benchmark wall time {math.ceil(time.perf_counter() - t_all)} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(every, fh, indent=1, default=str)
    return verdicts.exit_code(found, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
