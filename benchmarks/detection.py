"""Sparsity-detection benchmark: sparsediff against asdex 0.5.1.

Usage::

    python -m benchmarks.detection [--quick] [--max-n N] [--no-asdex] [--memory]
                                   [--problems NAME ...] [--repeats K] [--no-exactness]
                                   [--no-small] [--json PATH]

For every problem of ``benchmarks.problems`` (``diff``, ``brusselator``, ``rosenbrock``,
``conv2d``, ``fori_stencil``, ``scan``) and every size, the script times the full detection
call (``jacobian_sparsity`` or ``hessian_sparsity``) of both tools and prints a Markdown table
with the times, the ratio ``asdex time / sparsediff time``, the number of nonzeros each tool
found beside the exact count (from a formula), whether the two patterns are equal (and if not,
which tool has extra entries) and sparsediff's time per nonzero in ns, which should stay
roughly flat across sizes.  The summary gives, per problem, PASS/FAIL against the target of a
``>= 10x`` speedup at the largest size both tools ran.

An exactness table follows: for the small cases of ``EXACTNESS_CASES`` (a convolution kernel
with zero taps, a counter-driven ``while_loop``, ``stop_gradient``, a constant banded matrix,
``where`` with a constant mask, a ``fori_loop`` writing one entry per step) it prints the
nonzeros found by each tool beside the true count and says whether each tool is exact,
conservative (extra entries) or unsound (missing entries).

Then the small, long programs of :mod:`benchmarks.small_programs` (a Python loop of 30 terms
over two variables, and its vectorised form), where the cost is per equation rather than per
nonzero.

Methodology
-----------
* sparsediff gets ``jax.ShapeDtypeStruct`` inputs, asdex concrete float32 numpy arrays (it does
  not accept abstract inputs); both are float32.
* Per problem and tool, one untimed warm-up call at the smallest size of the run absorbs import
  and first-trace costs.
* Each measurement is the best of ``k = 3`` calls, or of a single call for inputs with at least
  ``10^6`` elements; the repetitions also stop after any call that takes ``>= 5 s`` (then
  ``k = 1``).  The same rules apply to both tools; the ``k`` column gives sparsediff's and
  asdex's ``k``.  ``time.perf_counter`` wall time, ``gc.collect()`` before (outside) every call.
* asdex is skipped above a per-problem size cap (``Problem.asdex_max``) to keep the full run
  under fifteen minutes.
* Soundness at every size (the ``sd check`` column): sparsediff's pattern must contain every
  nonzero of the numeric derivative at a random point: the dense ``jax.jacfwd`` /
  ``jax.hessian`` where it has at most ``benchmarks.checks.DENSE_CHECK_ELEMENTS`` elements,
  else ``benchmarks.checks.PROBES`` random columns (and the first and last) computed with one
  JVP / HVP each (untimed).
* After the tables, each problem is checked at a tiny size: both patterns are compared entry by
  entry, and against the nonzeros of the dense derivative computed with JAX at a random point.
* The verdicts (``benchmarks.verdicts.detection_verdicts``) close the report; the script exits
  with status 1 when one fails (a missing nonzero, an error, an inexact count, an exactness
  case not exact, a memory target, or, in full runs, the speed-up target).
* Exactness cases: the true pattern is the union of the nonzeros of the dense ``jax.jacfwd``
  Jacobian at three random points, cross-checked against a hand-derived count.
* ``--memory`` runs, each in a fresh interpreter (before the timing runs), sparsediff on
  ``(x[1:] - x[:-1])**2`` at ``n = 10^7`` (16 GB target) and both tools on the scan recurrence
  at ``L = 10^4`` (``5 * 10^7`` nonzeros), and reports the peak RSS.  The peak is ``VmHWM``
  from ``/proc/self/status`` on Linux: ``ru_maxrss`` survives ``exec`` there and would include
  the parent's peak; it is reported alongside, and used on other systems.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from . import small_programs, verdicts
from .checks import pattern_missing
from .common import (
    compare_patterns,
    fmt_bytes,
    fmt_int,
    fmt_ratio,
    fmt_seconds,
    have_module,
    keys_to_entries,
    log,
    markdown_table,
    pattern_keys,
    peak_rss_bytes,
    repeats_for,
    ru_maxrss_bytes,
    run_json_child,
    time_call,
)
from .problems import (
    EXACTNESS_CASES,
    PROBLEMS,
    ExactnessCase,
    Problem,
    format_size,
    get_problem,
)

__all__ = [
    "run",
    "small_checks",
    "exactness_checks",
    "memory_check",
    "summarize",
    "summarize_exactness",
    "main",
    "TARGET_SPEEDUP",
]

TARGET_SPEEDUP = 10.0
MEMORY_TARGET_BYTES = 16e9
MEMORY_N = 10**7
#: (problem, size, tool) of the ``--memory`` runs, each in a fresh interpreter.
MEMORY_RUNS = (
    ("diff", MEMORY_N, "sparsediff"),
    ("scan", 10**4, "sparsediff"),
    ("scan", 10**4, "asdex"),
)
#: calls at least this long are not repeated (see the module docstring)
LONG_CALL = 5.0
#: random points whose dense Jacobians are united into the true pattern of an exactness case
EXACTNESS_SEEDS = (1, 2, 3)
SD = "sparsediff"
AS = "asdex"


def asdex_version() -> str | None:
    """Installed asdex version, or ``None`` when asdex is not installed."""
    try:
        return importlib.metadata.version("asdex")
    except importlib.metadata.PackageNotFoundError:
        return None


def _detector(tool: str, kind: str) -> Callable[..., Any]:
    if tool == SD:
        import sparsediff as mod
    elif tool == AS:
        import asdex as mod
    else:
        raise ValueError(tool)
    return mod.hessian_sparsity if kind == "hessian" else mod.jacobian_sparsity


def _make_input(tool: str, problem: Problem, size: int) -> Any:
    # sparsediff works from shapes alone; asdex needs a concrete array.
    return problem.spec(size) if tool == SD else problem.concrete(size)


def _true_nnz(problem: Problem, size: int) -> int | None:
    if problem.nnz_formula is None:
        return None
    nnz = problem.nnz_formula(size)
    return None if nnz is None else int(nnz)


def _output_size(problem: Problem, size: int) -> tuple[int, int]:
    n = problem.n_in(size)
    if problem.kind == "hessian":
        return n, n
    out = jax.eval_shape(problem.fn, problem.spec(size))
    return int(np.prod(out.shape, dtype=np.int64)), n


def _measure(tool: str, problem: Problem, size: int, repeats: int) -> dict[str, Any]:
    """Times one tool on one size; returns time, pattern and any warnings raised."""
    det = _detector(tool, problem.kind)
    x = _make_input(tool, problem, size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            timing = time_call(lambda: det(problem.fn, x), repeats, long_call=LONG_CALL)
        except Exception as exc:  # noqa: BLE001 - reported in the table, not fatal
            return {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
    msgs = sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught})
    return {"time": timing.best, "times": timing.times, "pattern": timing.result, "warnings": msgs}


def _warm_up(tool: str, problem: Problem, size: int) -> None:
    det = _detector(tool, problem.kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            det(problem.fn, _make_input(tool, problem, size))
        except Exception:  # noqa: BLE001 - the timed call will report it
            pass


def _soundness(row: dict[str, Any], prob: Problem, size: int, pattern: Any) -> None:
    """Fills ``sd_check`` and ``sd_missing``: the pattern against the numeric derivative."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = pattern_missing(
                prob.fn, prob.kind, prob.concrete(size, seed=1), pattern.rows, pattern.cols,
                row["shape"][0],
            )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the missing check is a failing verdict
        row["sd_check"] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:120]
        return
    row["sd_check"] = res["check"] if res["check"] == "dense" else f"{res['columns']} columns"
    row["sd_missing"] = res["missing"]
    if res["example"] is not None:
        row["sd_check"] += f", e.g. {res['example']}"


def run(
    quick: bool = False,
    max_n: int | None = None,
    use_asdex: bool = True,
    problems: Sequence[str] | None = None,
    repeats: int = 3,
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Runs the detection benchmark and returns one dict per (problem, size).

    Args:
        quick: use the small ``quick_sizes`` of each problem.
        max_n: skip sizes whose input has more than ``max_n`` elements.
        use_asdex: also time asdex (ignored, with a note, when asdex is not installed).
        problems: names of the problems to run (default: all).
        repeats: ``k`` of best-of-``k`` for inputs with fewer than ``10^6`` elements (calls of
            ``>= 5 s`` are not repeated).
        verbose: print progress on stderr.

    Each row has the keys ``problem``, ``kind``, ``size``, ``size_label``, ``n_in``, ``shape``,
    ``true_nnz`` (exact count from ``Problem.nnz_formula``, or ``None``), ``sd_time``,
    ``sd_nnz``, ``sd_ns_per_nnz``, ``sd_repeats`` (calls made), ``sd_error``, ``sd_warnings``,
    ``asdex_status`` (``"ran"``, ``"skipped"``, ``"not installed"``, ``"disabled"`` or
    ``"error"``), ``asdex_time``, ``asdex_nnz``, ``asdex_repeats``, ``asdex_error``,
    ``ratio`` (asdex time / sparsediff time), ``patterns`` (``"equal"``, a difference summary,
    or ``None``), ``only_sd`` and ``only_asdex`` (numbers of entries found by one tool only).
    Missing values are ``None``.
    """
    asdex_installed = have_module("asdex")
    asdex_on = use_asdex and asdex_installed
    if use_asdex and not asdex_installed and verbose:
        log("note: asdex is not installed; timing sparsediff only")
    selected = [get_problem(p) for p in problems] if problems else list(PROBLEMS)

    rows: list[dict[str, Any]] = []
    for prob in selected:
        sizes = list(prob.quick_sizes if quick else prob.sizes)
        if max_n is not None:
            sizes = [s for s in sizes if prob.n_in(s) <= max_n]
        if not sizes:
            continue
        tools = [SD] + ([AS] if asdex_on else [])
        for tool in tools:
            if verbose:
                log(f"[{prob.name}] warm-up {tool} at {prob.size_label(sizes[0])}")
            _warm_up(tool, prob, sizes[0])

        for size in sizes:
            n_in = prob.n_in(size)
            k = repeats_for(n_in, repeats)
            row: dict[str, Any] = {
                "problem": prob.name,
                "kind": prob.kind,
                "size": size,
                "size_label": prob.size_label(size),
                "n_in": n_in,
                "shape": _output_size(prob, size),
                "true_nnz": _true_nnz(prob, size),
                "sd_time": None,
                "sd_nnz": None,
                "sd_ns_per_nnz": None,
                "sd_repeats": k,
                "sd_error": None,
                "sd_warnings": [],
                "asdex_status": "disabled" if not use_asdex else "not installed",
                "asdex_time": None,
                "asdex_nnz": None,
                "asdex_repeats": None,
                "asdex_error": None,
                "ratio": None,
                "patterns": None,
                "only_sd": None,
                "only_asdex": None,
                "sd_check": None,
                "sd_missing": None,
            }
            if verbose:
                log(f"[{prob.name}] {prob.size_label(size)}: sparsediff (k={k}) ...")
            sd = _measure(SD, prob, size, k)
            sd_pat = sd.get("pattern")
            if "error" in sd:
                row["sd_error"] = sd["error"]
            else:
                row["sd_time"] = sd["time"]
                row["sd_repeats"] = len(sd["times"])
                row["sd_nnz"] = int(sd_pat.nnz)
                row["sd_warnings"] = sd["warnings"]
                if sd_pat.nnz:
                    row["sd_ns_per_nnz"] = sd["time"] / sd_pat.nnz * 1e9
                _soundness(row, prob, size, sd_pat)
            if verbose:
                log(f"    sparsediff: {fmt_seconds(row['sd_time'])} {row['sd_error'] or ''}")

            if asdex_on and size > prob.asdex_max:
                row["asdex_status"] = "skipped"
            elif asdex_on:
                if verbose:
                    log(f"[{prob.name}] {prob.size_label(size)}: asdex (k={k}) ...")
                row["asdex_repeats"] = k
                ad = _measure(AS, prob, size, k)
                if "error" in ad:
                    row["asdex_status"] = "error"
                    row["asdex_error"] = ad["error"]
                else:
                    row["asdex_status"] = "ran"
                    row["asdex_time"] = ad["time"]
                    row["asdex_repeats"] = len(ad["times"])
                    row["asdex_nnz"] = int(ad["pattern"].nnz)
                    if sd_pat is not None:
                        diff = compare_patterns(sd_pat, ad["pattern"])
                        row["patterns"] = diff.describe(SD, AS)
                        row["only_sd"] = int(diff.only_a.size)
                        row["only_asdex"] = int(diff.only_b.size)
                        row["ratio"] = ad["time"] / row["sd_time"]
                del ad
                if verbose:
                    log(f"    asdex: {fmt_seconds(row['asdex_time'])} {row['asdex_error'] or ''}")
            del sd, sd_pat
            rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Small-size correctness checks
# --------------------------------------------------------------------------------------------


def _numeric_keys(prob: Problem, size: int) -> tuple[np.ndarray, int]:
    """Linear keys of the nonzeros of the dense derivative at a random point (float64 numpy)."""
    x = prob.concrete(size, seed=1)
    if prob.kind == "hessian":
        mat = jax.hessian(prob.fn)(x)
    else:
        mat = jax.jacfwd(prob.fn)(x)
    mat = np.asarray(mat)
    ncols = int(np.prod(x.shape))
    mat = mat.reshape(-1, ncols)
    r, c = np.nonzero(mat)
    return pattern_keys(r, c, ncols), ncols


def small_checks(use_asdex: bool = True) -> list[dict[str, Any]]:
    """Compares the tools' patterns with each other and with the dense derivative, tiny sizes.

    Returns one dict per problem with ``problem``, ``size_label``, ``shape``, ``numeric_nnz``
    (nonzeros of the dense derivative at a random point) and, per tool, ``<tool>_nnz``,
    ``<tool>_missing`` (numeric nonzeros absent from the pattern: a soundness bug) and
    ``<tool>_extra`` (pattern entries that are zero at the random point), as lists of
    ``(row, col)``; plus ``sd_vs_asdex`` (entries only in sparsediff / only in asdex).
    """
    tools = [SD] + ([AS] if use_asdex and have_module("asdex") else [])
    out = []
    for prob in PROBLEMS:
        size = prob.check_size
        num, ncols = _numeric_keys(prob, size)
        res: dict[str, Any] = {
            "problem": prob.name,
            "size_label": prob.size_label(size),
            "numeric_nnz": int(num.size),
        }
        keys = {}
        for tool in tools:
            det = _detector(tool, prob.kind)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pat = det(prob.fn, _make_input(tool, prob, size))
            except Exception as exc:  # noqa: BLE001
                res[f"{tool}_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                continue
            res["shape"] = tuple(int(s) for s in pat.shape)
            k = pattern_keys(pat.rows, pat.cols, ncols)
            keys[tool] = k
            res[f"{tool}_nnz"] = int(k.size)
            res[f"{tool}_missing"] = keys_to_entries(np.setdiff1d(num, k), ncols)
            res[f"{tool}_extra"] = keys_to_entries(np.setdiff1d(k, num), ncols)
        if len(keys) == 2:
            res["sd_vs_asdex"] = (
                keys_to_entries(np.setdiff1d(keys[SD], keys[AS]), ncols),
                keys_to_entries(np.setdiff1d(keys[AS], keys[SD]), ncols),
            )
        out.append(res)
    return out


# --------------------------------------------------------------------------------------------
# Exactness cases (patterns that value-blind detection over-approximates)
# --------------------------------------------------------------------------------------------


def _true_keys(case: ExactnessCase) -> np.ndarray:
    """Union of the nonzeros of the dense Jacobian at the points of ``EXACTNESS_SEEDS``."""
    jac = jax.jit(jax.jacfwd(case.fn))
    keys = []
    for seed in EXACTNESS_SEEDS:
        mat = np.asarray(jac(case.concrete(seed=seed))).reshape(-1, case.n_in)
        rows, cols = np.nonzero(mat)
        keys.append(pattern_keys(rows, cols, case.n_in))
    return np.unique(np.concatenate(keys))


def _verdict(found: np.ndarray, truth: np.ndarray) -> tuple[str, int, int]:
    """``("exact" | "conservative" | "UNSOUND", missing, extra)`` of a pattern vs the truth."""
    missing = int(np.setdiff1d(truth, found, assume_unique=True).size)
    extra = int(np.setdiff1d(found, truth, assume_unique=True).size)
    if missing:
        return "UNSOUND", missing, extra
    return ("conservative" if extra else "exact"), missing, extra


def exactness_checks(
    use_asdex: bool = True, cases: Sequence[ExactnessCase] = EXACTNESS_CASES
) -> list[dict[str, Any]]:
    """Runs both tools on the exactness cases and compares their patterns with the truth.

    Returns one dict per case with ``case``, ``title``, ``shape`` (of the Jacobian),
    ``analytic_nnz``, ``true_nnz`` (nonzeros of the union of dense Jacobians at three random
    points) and, per tool, ``<tool>_nnz``, ``<tool>_verdict`` (``"exact"``,
    ``"conservative"`` or ``"UNSOUND"``), ``<tool>_missing`` and ``<tool>_extra`` (counts of
    entries vs the truth), or ``<tool>_error``.
    """
    tools = [SD] + ([AS] if use_asdex and have_module("asdex") else [])
    out = []
    for case in cases:
        truth = _true_keys(case)
        res: dict[str, Any] = {
            "case": case.name,
            "title": case.title,
            "analytic_nnz": case.analytic_nnz,
            "true_nnz": int(truth.size),
        }
        for tool in tools:
            det = _detector(tool, "jacobian")
            x = case.spec() if tool == SD else case.concrete()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pat = det(case.fn, x)
            except Exception as exc:  # noqa: BLE001 - reported in the table
                res[f"{tool}_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                continue
            res["shape"] = tuple(int(d) for d in pat.shape)
            found = pattern_keys(pat.rows, pat.cols, case.n_in)
            verdict, missing, extra = _verdict(found, truth)
            res[f"{tool}_nnz"] = int(found.size)
            res[f"{tool}_verdict"] = verdict
            res[f"{tool}_missing"] = missing
            res[f"{tool}_extra"] = extra
        out.append(res)
    return out


def summarize_exactness(exact: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per tool that ran: how many cases were exact, conservative, unsound or errors."""
    out: dict[str, dict[str, int]] = {}
    for tool in (SD, AS):
        if not any(f"{tool}_nnz" in e or f"{tool}_error" in e for e in exact):
            continue
        counts = {"exact": 0, "conservative": 0, "UNSOUND": 0, "error": 0, "total": len(exact)}
        for e in exact:
            counts[e.get(f"{tool}_verdict", "error")] += 1
        out[tool] = counts
    return out


# --------------------------------------------------------------------------------------------
# Memory check (in a fresh interpreter)
# --------------------------------------------------------------------------------------------


def _memory_child(n: int, problem: str = "diff", tool: str = SD) -> None:
    """Body of the ``--memory-child`` subprocess: prints one JSON line."""
    prob = get_problem(problem)
    det = _detector(tool, prob.kind)
    # Warm up on a tiny size so that the baseline includes JAX's own start-up footprint.
    det(prob.fn, _make_input(tool, prob, prob.check_size))
    x = _make_input(tool, prob, n)
    base = peak_rss_bytes()
    t0 = time.perf_counter()
    pat = det(prob.fn, x)
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "problem": problem,
                "tool": tool,
                "n": n,
                "nnz": int(pat.nnz),
                "time": elapsed,
                "baseline_rss": base,
                "peak_rss": peak_rss_bytes(),
                "ru_maxrss": ru_maxrss_bytes(),
            }
        )
    )


def memory_check(
    n: int = MEMORY_N, timeout: float = 600.0, problem: str = "diff", tool: str = SD
) -> dict[str, Any]:
    """Peak RSS of ``tool`` detecting the pattern of ``problem`` at size ``n`` (fresh process).

    The default is sparsediff on ``(x[1:] - x[:-1])**2`` at ``n = 10^7``.
    """
    args = ["-m", "benchmarks.detection", "--memory-child", str(n)]
    args += ["--memory-problem", problem, "--memory-tool", tool]
    base = {"problem": problem, "tool": tool, "n": n, "target": MEMORY_TARGET_BYTES}
    try:
        res = run_json_child(args, timeout)
    except Exception as exc:  # noqa: BLE001
        return {**base, "error": f"{type(exc).__name__}: {exc}"}
    res.update(base)
    res["pass"] = res["peak_rss"] <= MEMORY_TARGET_BYTES
    return res


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _shape_str(shape: tuple[int, int]) -> str:
    return f"{shape[0]:,} x {shape[1]:,}"


def _asdex_cell(row: dict[str, Any]) -> str:
    status = row["asdex_status"]
    if status == "ran":
        return fmt_seconds(row["asdex_time"])
    if status == "error":
        return "error"
    return status


def format_table(rows: Sequence[dict[str, Any]], problem: Problem) -> str:
    headers = [
        "size",
        "shape",
        "sparsediff",
        "asdex",
        "asdex/sd",
        "sd nnz",
        "asdex nnz",
        "true nnz",
        "patterns",
        "sd ns/nnz",
        "k",
        "sd check",
    ]
    body = []
    for r in rows:
        sd_cell = "error" if r["sd_error"] else fmt_seconds(r["sd_time"])
        if r["sd_warnings"]:
            sd_cell += " (!)"
        ns = r["sd_ns_per_nnz"]
        k = str(r["sd_repeats"])
        if r["asdex_repeats"] is not None:
            k += f"/{r['asdex_repeats']}"
        body.append(
            [
                r["size_label"],
                _shape_str(r["shape"]),
                sd_cell,
                _asdex_cell(r),
                fmt_ratio(r["ratio"]),
                fmt_int(r["sd_nnz"]),
                fmt_int(r["asdex_nnz"]),
                fmt_int(r.get("true_nnz")),
                r["patterns"] or "-",
                "-" if ns is None else f"{ns:.1f}",
                k,
                _check_cell(r),
            ]
        )
    return markdown_table(headers, body, align="lrrrrrrrlrrl")


def _check_cell(r: dict[str, Any]) -> str:
    """``ok (dense)``, ``ok (6 columns)``, ``MISSING 3 (...)`` or the failure."""
    if r.get("sd_missing") is None:
        return r.get("sd_check") or "-"
    if r["sd_missing"]:
        return f"WRONG: {r['sd_missing']:,} missing ({r['sd_check']})"
    return f"ok ({r['sd_check']})"


def _exact_cell(e: dict[str, Any], tool: str) -> tuple[str, str]:
    """(nnz, verdict) cells of one tool in the exactness table."""
    if f"{tool}_error" in e:
        return "error", e[f"{tool}_error"][:60]
    if f"{tool}_nnz" not in e:
        return "-", "-"
    verdict = e[f"{tool}_verdict"]
    if verdict == "conservative":
        verdict += f" (+{e[f'{tool}_extra']:,})"
    elif verdict == "UNSOUND":
        verdict += f" (missing {e[f'{tool}_missing']:,})"
    return fmt_int(e[f"{tool}_nnz"]), verdict


def format_exactness_table(exact: Sequence[dict[str, Any]]) -> str:
    headers = ["case", "jacobian", "analytic nnz", "true nnz", "sd nnz", "sparsediff"]
    headers += ["asdex nnz", "asdex"]
    body = []
    for e in exact:
        shape = e.get("shape")
        sd_nnz, sd_v = _exact_cell(e, SD)
        as_nnz, as_v = _exact_cell(e, AS)
        body.append(
            [
                e["title"],
                "-" if shape is None else _shape_str(shape),
                fmt_int(e["analytic_nnz"]),
                fmt_int(e["true_nnz"]),
                sd_nnz,
                sd_v,
                as_nnz,
                as_v,
            ]
        )
    return markdown_table(headers, body, align="lrrrrlrl")


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per problem: speedup at the largest size both tools ran, and PASS/FAIL vs the target."""
    out = []
    for name in dict.fromkeys(r["problem"] for r in rows):
        prs = [r for r in rows if r["problem"] == name]
        both = [r for r in prs if r["ratio"] is not None]
        ns = [r["sd_ns_per_nnz"] for r in prs if r["sd_ns_per_nnz"] is not None]
        s: dict[str, Any] = {
            "problem": name,
            "ns_per_nnz_min": min(ns) if ns else None,
            "ns_per_nnz_max": max(ns) if ns else None,
            "largest_sd": max(
                (r for r in prs if r["sd_time"] is not None), key=lambda r: r["n_in"], default=None
            ),
        }
        if both:
            best = max(both, key=lambda r: r["n_in"])
            s.update(
                size_label=best["size_label"],
                speedup=best["ratio"],
                verdict="PASS" if best["ratio"] >= TARGET_SPEEDUP else "FAIL",
                patterns_equal=all(r["patterns"] == "equal" for r in both),
            )
        else:
            s.update(
                size_label=None, speedup=None, verdict="n/a (asdex not run)", patterns_equal=None
            )
        counted = [r for r in prs if r["sd_nnz"] is not None and r.get("true_nnz") is not None]
        s["sd_nnz_true"] = all(r["sd_nnz"] == r["true_nnz"] for r in counted) if counted else None
        out.append(s)
    return out


def _format_entries(entries: list[tuple[int, int]], limit: int = 12) -> str:
    if not entries:
        return "none"
    shown = ", ".join(f"({i},{j})" for i, j in entries[:limit])
    more = f" ... (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{len(entries)}: {shown}{more}"


def _memory_line(m: dict[str, Any]) -> str:
    prob = get_problem(m.get("problem", "diff"))
    tool = m.get("tool", SD)
    tag = f"{prob.name} {prob.size_label(m['n'])}, {tool} in a fresh process"
    if "error" in m:
        return f"- {tag}: FAILED ({m['error']})"
    line = (
        f"- {tag}: peak RSS {fmt_bytes(m['peak_rss'])} (after JAX start-up and warm-up: "
        f"{fmt_bytes(m['baseline_rss'])}; ru_maxrss {fmt_bytes(m['ru_maxrss'])}), "
        f"detection {fmt_seconds(m['time'])}, nnz {fmt_int(m['nnz'])}"
    )
    if tool == SD:
        line += f"; target <= {fmt_bytes(m['target'])}: {'PASS' if m['pass'] else 'FAIL'}"
    return line


def report(
    rows: Sequence[dict[str, Any]],
    checks: Sequence[dict[str, Any]] | None = None,
    memory: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
    quick: bool = False,
    exactness: Sequence[dict[str, Any]] | None = None,
    small: Sequence[dict[str, Any]] | None = None,
) -> str:
    lines = ["# Sparsity detection: sparsediff vs asdex", ""]
    if any(r["asdex_status"] in ("ran", "skipped", "error") for r in rows):
        asdex_label = f"asdex {asdex_version()}"
    else:
        status = rows[0]["asdex_status"] if rows else "disabled"
        asdex_label = f"asdex not run ({status})"
    lines.append(
        f"JAX {jax.__version__}, {asdex_label}, float32.  Times "
        "are best-of-k wall-clock (k=1 for inputs >= 10^6 elements or calls >= "
        f"{LONG_CALL:.0f} s; k column: sparsediff/asdex) after an untimed warm-up per tool and "
        "problem.  asdex/sd = asdex time / sparsediff time; true nnz = exact count (formula); "
        "sd ns/nnz = sparsediff time per nonzero found.  (!) = sparsediff emitted a warning "
        "(see Notes)."
    )
    lines.append("")
    for name in dict.fromkeys(r["problem"] for r in rows):
        prob = get_problem(name)
        lines.append(f"## {prob.title}")
        lines.append("")
        lines.append(format_table([r for r in rows if r["problem"] == name], prob))
        lines.append("")

    notes = []
    for r in rows:
        tag = f"{r['problem']} {r['size_label']}"
        if r["sd_error"]:
            notes.append(f"- {tag}: sparsediff raised {r['sd_error']}")
        for w in r["sd_warnings"]:
            notes.append(f"- {tag}: sparsediff warned {w}")
        if r["asdex_error"]:
            notes.append(f"- {tag}: asdex raised {r['asdex_error']}")
    if notes:
        lines += ["### Notes", "", *notes, ""]

    if small:
        lines += [
            "## Small, long programs",
            "",
            "A 2-variable constraint of 30 terms as a Python loop (loop30) and with arrays "
            "(vector30).  same function = the trace is reused by both tools (the analysis "
            "alone); new function = a fresh function object per call (tracing included).  "
            "Best of 7 after a warm-up; missing = dense or asdex nonzeros absent from "
            "sparsediff's pattern.",
            "",
            small_programs.format_table(list(small)),
            "",
        ]

    if checks:
        lines += ["## Tiny-size pattern check (vs nonzeros of the dense derivative)", ""]
        for c in checks:
            tag = f"{c['problem']} {c['size_label']}"
            parts = [f"numeric nnz {c['numeric_nnz']}"]
            for tool in (SD, AS):
                if f"{tool}_error" in c:
                    parts.append(f"{tool} raised {c[f'{tool}_error']}")
                elif f"{tool}_nnz" in c:
                    parts.append(
                        f"{tool} nnz {c[f'{tool}_nnz']} (missing "
                        f"{_format_entries(c[f'{tool}_missing'])}; extra "
                        f"{_format_entries(c[f'{tool}_extra'])})"
                    )
            if "sd_vs_asdex" in c:
                only_sd, only_as = c["sd_vs_asdex"]
                if only_sd or only_as:
                    parts.append(
                        f"only in sparsediff {_format_entries(only_sd)}; "
                        f"only in asdex {_format_entries(only_as)}"
                    )
                else:
                    parts.append("sparsediff == asdex")
            lines.append(f"- {tag}: " + "; ".join(parts))
        lines.append("")

    if exactness:
        lines += [
            "## Exactness (small cases where value-blind detection is conservative)",
            "",
            "true nnz = nonzeros of the union of dense jax.jacfwd Jacobians at "
            f"{len(EXACTNESS_SEEDS)} random points; analytic nnz = hand-derived count.  "
            "exact = pattern equals the true pattern; conservative (+k) = k extra entries; "
            "UNSOUND = true nonzeros missing.",
            "",
            format_exactness_table(exactness),
            "",
        ]
        mismatched = [
            e["case"]
            for e in exactness
            if e["analytic_nnz"] is not None and e["analytic_nnz"] != e["true_nnz"]
        ]
        if mismatched:
            lines += [f"(analytic and numeric true counts differ for: {', '.join(mismatched)})", ""]

    if memory is not None:
        lines += ["## Memory", ""]
        mems = [memory] if isinstance(memory, dict) else list(memory)
        lines += [_memory_line(m) for m in mems]
        lines.append("")

    lines += ["## Summary", ""]
    if quick:
        lines += ["(quick run: sizes are too small for the speedup verdicts to be meaningful)", ""]
    for s in summarize(rows):
        ns = ""
        if s["ns_per_nnz_min"] is not None:
            ns = f"; sparsediff {s['ns_per_nnz_min']:.1f}-{s['ns_per_nnz_max']:.1f} ns/nnz"
            big = s["largest_sd"]
            if big is not None:
                ns += f" (largest: {big['size_label']} in {fmt_seconds(big['sd_time'])})"
        if s["sd_nnz_true"] is not None:
            ns += "; sd nnz = true nnz" if s["sd_nnz_true"] else "; SD NNZ != TRUE NNZ"
        if s["speedup"] is None:
            lines.append(f"- {s['problem']}: {s['verdict']}{ns}")
        else:
            eq = "patterns equal" if s["patterns_equal"] else "PATTERNS DIFFER"
            if s["speedup"] >= 1.0:
                speed = f"{fmt_ratio(s['speedup'])} faster than asdex"
            else:
                speed = f"{fmt_ratio(1.0 / s['speedup'])} SLOWER than asdex"
            lines.append(
                f"- {s['problem']}: {speed} at "
                f"{s['size_label']} (largest size both ran; target >= {TARGET_SPEEDUP:.0f}x): "
                f"{s['verdict']}; {eq}{ns}"
            )
    if exactness:
        for tool, c in summarize_exactness(exactness).items():
            parts = [f"exact on {c['exact']}/{c['total']} exactness cases"]
            if c["conservative"]:
                parts.append(f"conservative on {c['conservative']}")
            if c["UNSOUND"]:
                parts.append(f"UNSOUND on {c['UNSOUND']}")
            if c["error"]:
                parts.append(f"errors on {c['error']}")
            lines.append(f"- {tool}: " + ", ".join(parts))
    lines += ["", "## Verdicts", ""]
    lines.append(
        verdicts.format_verdicts(verdicts_of(rows, checks, memory, exactness, small), quick)
    )
    return "\n".join(lines)


def verdicts_of(
    rows: Sequence[dict[str, Any]],
    checks: Sequence[dict[str, Any]] | None,
    memory: dict[str, Any] | Sequence[dict[str, Any]] | None,
    exactness: Sequence[dict[str, Any]] | None,
    small: Sequence[dict[str, Any]] | None = None,
) -> list[verdicts.Verdict]:
    mems = [memory] if isinstance(memory, dict) else list(memory or [])
    out = verdicts.detection_verdicts(
        rows, checks or [], exactness or [], mems, target_speedup=TARGET_SPEEDUP
    )
    return out + verdicts.small_program_verdicts(small or [])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.detection", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="small sizes only (< 1 minute)")
    ap.add_argument(
        "--max-n", type=int, default=None, help="skip sizes whose input has more than N elements"
    )
    ap.add_argument("--no-asdex", action="store_true", help="time sparsediff only")
    ap.add_argument(
        "--memory",
        action="store_true",
        help=f"also measure peak RSS (sparsediff on diff at n={format_size(MEMORY_N)}, both "
        "tools on scan at L=10^4), each in a subprocess",
    )
    ap.add_argument("--problems", nargs="+", default=None, choices=[p.name for p in PROBLEMS])
    ap.add_argument("--repeats", type=int, default=3, help="k of best-of-k (default 3)")
    ap.add_argument("--no-exactness", action="store_true", help="skip the exactness table")
    ap.add_argument(
        "--no-small", action="store_true", help="skip the small-program table (loop30, vector30)"
    )
    ap.add_argument("--json", default=None, help="also write the timing rows to this JSON file")
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--memory-problem", default="diff", help=argparse.SUPPRESS)
    ap.add_argument("--memory-tool", default=SD, choices=[SD, AS], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_child is not None:
        _memory_child(args.memory_child, args.memory_problem, args.memory_tool)
        return 0

    use_asdex = not args.no_asdex
    if use_asdex and not have_module("asdex"):
        print("note: asdex is not installed (pip install asdex==0.5.1); timing sparsediff only\n")
    t0 = time.perf_counter()
    memory = None
    if args.memory:
        # First, while this process is still small (see the note on ru_maxrss).
        memory = []
        for name, n, tool in MEMORY_RUNS:
            if tool == AS and not (use_asdex and have_module("asdex")):
                continue
            log(f"memory check: {tool} on {name} at {format_size(n)} in a subprocess ...")
            memory.append(memory_check(n, problem=name, tool=tool))
    rows = run(
        quick=args.quick,
        max_n=args.max_n,
        use_asdex=use_asdex,
        problems=args.problems,
        repeats=args.repeats,
    )
    log("tiny-size pattern checks ...")
    checks = small_checks(use_asdex=use_asdex)
    exactness = None
    if not args.no_exactness:
        log("exactness cases ...")
        exactness = exactness_checks(use_asdex=use_asdex)
    small = None
    if not args.no_small:
        log("small, long programs ...")
        small = small_programs.run(use_asdex=use_asdex, repeats=3 if args.quick else 7)
    print(report(rows, checks, memory, quick=args.quick, exactness=exactness, small=small))
    print(f"\n(total benchmark wall time {math.ceil(time.perf_counter() - t0)} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)
    return verdicts.exit_code(verdicts_of(rows, checks, memory, exactness, small), args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
