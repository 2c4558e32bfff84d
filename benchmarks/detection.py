"""Sparsity-detection benchmark: sparsediff against asdex 0.5.1.

Usage::

    python -m benchmarks.detection [--quick] [--max-n N] [--no-asdex] [--memory]

For every problem of ``benchmarks.problems`` and every size, the script times the full
detection call (``jacobian_sparsity`` or ``hessian_sparsity``) of both tools and prints a
Markdown table with the times, the ratio ``asdex time / sparsediff time``, the number of
nonzeros each tool found, whether the two patterns are equal (and if not, which tool has extra
entries) and sparsediff's time per nonzero in ns, which should stay roughly flat across sizes.

Methodology
-----------
* sparsediff gets ``jax.ShapeDtypeStruct`` inputs, asdex concrete float32 numpy arrays (it does
  not accept abstract inputs); both are float32.
* Per problem and tool, one untimed warm-up call at the smallest size of the run absorbs import
  and first-trace costs.
* Each measurement is the best of ``k = 3`` calls, or of a single call for inputs with at least
  ``10^6`` elements; the same rule applies to both tools.  ``time.perf_counter`` wall time,
  ``gc.collect()`` before (outside) every call.
* asdex is skipped above a per-problem size cap (``Problem.asdex_max``) to keep the full run
  near ten minutes.
* After the tables, each problem is checked at a tiny size: both patterns are compared entry by
  entry, and against the nonzeros of the dense derivative computed with JAX at a random point.
* ``--memory`` runs ``(x[1:] - x[:-1])**2`` at ``n = 10^7`` with sparsediff in a fresh
  interpreter (before the timing runs) and reports its peak RSS against the 16 GB target.  The
  peak is ``VmHWM`` from ``/proc/self/status`` on Linux: ``ru_maxrss`` survives ``exec`` there
  and would include the parent's peak; it is reported alongside, and used on other systems.
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
from .problems import PROBLEMS, Problem, chained_diff, format_size, get_problem

__all__ = ["run", "small_checks", "memory_check", "summarize", "main", "TARGET_SPEEDUP"]

TARGET_SPEEDUP = 10.0
MEMORY_TARGET_BYTES = 16e9
MEMORY_N = 10**7
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
            timing = time_call(lambda: det(problem.fn, x), repeats)
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
        repeats: ``k`` of best-of-``k`` for inputs with fewer than ``10^6`` elements.
        verbose: print progress on stderr.

    Each row has the keys ``problem``, ``kind``, ``size``, ``size_label``, ``n_in``, ``shape``,
    ``sd_time``, ``sd_nnz``, ``sd_ns_per_nnz``, ``sd_repeats``, ``sd_error``, ``sd_warnings``,
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
            }
            if verbose:
                log(f"[{prob.name}] {prob.size_label(size)}: sparsediff (k={k}) ...")
            sd = _measure(SD, prob, size, k)
            sd_pat = sd.get("pattern")
            if "error" in sd:
                row["sd_error"] = sd["error"]
            else:
                row["sd_time"] = sd["time"]
                row["sd_nnz"] = int(sd_pat.nnz)
                row["sd_warnings"] = sd["warnings"]
                if sd_pat.nnz:
                    row["sd_ns_per_nnz"] = sd["time"] / sd_pat.nnz * 1e9
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
# Memory check (in a fresh interpreter)
# --------------------------------------------------------------------------------------------


def _memory_child(n: int) -> None:
    """Body of the ``--memory-child`` subprocess: prints one JSON line."""
    import jax.numpy as jnp

    import sparsediff

    # Warm up on a tiny size so that the baseline includes JAX's own start-up footprint.
    sparsediff.jacobian_sparsity(chained_diff, jax.ShapeDtypeStruct((10,), jnp.float32))
    base = peak_rss_bytes()
    t0 = time.perf_counter()
    pat = sparsediff.jacobian_sparsity(chained_diff, jax.ShapeDtypeStruct((n,), jnp.float32))
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "n": n,
                "nnz": int(pat.nnz),
                "time": elapsed,
                "baseline_rss": base,
                "peak_rss": peak_rss_bytes(),
                "ru_maxrss": ru_maxrss_bytes(),
            }
        )
    )


def memory_check(n: int = MEMORY_N, timeout: float = 600.0) -> dict[str, Any]:
    """Peak RSS of sparsediff detecting ``(x[1:] - x[:-1])**2`` at size ``n`` (fresh process)."""
    try:
        res = run_json_child(["-m", "benchmarks.detection", "--memory-child", str(n)], timeout)
    except Exception as exc:  # noqa: BLE001
        return {"n": n, "error": f"{type(exc).__name__}: {exc}", "target": MEMORY_TARGET_BYTES}
    res["target"] = MEMORY_TARGET_BYTES
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
        "patterns",
        "sd ns/nnz",
        "k",
    ]
    body = []
    for r in rows:
        sd_cell = "error" if r["sd_error"] else fmt_seconds(r["sd_time"])
        if r["sd_warnings"]:
            sd_cell += " (!)"
        ns = r["sd_ns_per_nnz"]
        body.append(
            [
                r["size_label"],
                _shape_str(r["shape"]),
                sd_cell,
                _asdex_cell(r),
                fmt_ratio(r["ratio"]),
                fmt_int(r["sd_nnz"]),
                fmt_int(r["asdex_nnz"]),
                r["patterns"] or "-",
                "-" if ns is None else f"{ns:.1f}",
                str(r["sd_repeats"]),
            ]
        )
    return markdown_table(headers, body, align="lrrrrrrlrr")


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
        out.append(s)
    return out


def _format_entries(entries: list[tuple[int, int]], limit: int = 12) -> str:
    if not entries:
        return "none"
    shown = ", ".join(f"({i},{j})" for i, j in entries[:limit])
    more = f" ... (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{len(entries)}: {shown}{more}"


def report(
    rows: Sequence[dict[str, Any]],
    checks: Sequence[dict[str, Any]] | None = None,
    memory: dict[str, Any] | None = None,
    quick: bool = False,
) -> str:
    lines = ["# Sparsity detection: sparsediff vs asdex", ""]
    if any(r["asdex_status"] in ("ran", "skipped", "error") for r in rows):
        asdex_label = f"asdex {asdex_version()}"
    else:
        status = rows[0]["asdex_status"] if rows else "disabled"
        asdex_label = f"asdex not run ({status})"
    lines.append(
        f"JAX {jax.__version__}, {asdex_label}, float32.  Times "
        "are best-of-k wall-clock (k=1 for inputs >= 10^6 elements) after an untimed warm-up "
        "per tool and problem.  asdex/sd = asdex time / sparsediff time; sd ns/nnz = "
        "sparsediff time per nonzero found.  (!) = sparsediff emitted a warning (see Notes)."
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

    if memory is not None:
        lines += ["## Memory", ""]
        n_label = format_size(memory["n"])
        if "error" in memory:
            lines.append(f"- (x[1:]-x[:-1])**2, n={n_label}: FAILED ({memory['error']})")
        else:
            lines.append(
                f"- (x[1:]-x[:-1])**2, n={n_label}, sparsediff in a fresh process: peak RSS "
                f"{fmt_bytes(memory['peak_rss'])} (after JAX start-up and warm-up: "
                f"{fmt_bytes(memory['baseline_rss'])}; "
                f"ru_maxrss {fmt_bytes(memory['ru_maxrss'])}), "
                f"detection {fmt_seconds(memory['time'])}, "
                f"nnz {fmt_int(memory['nnz'])}; target <= {fmt_bytes(memory['target'])}: "
                f"{'PASS' if memory['pass'] else 'FAIL'}"
            )
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
        if s["speedup"] is None:
            lines.append(f"- {s['problem']}: {s['verdict']}{ns}")
        else:
            eq = "patterns equal" if s["patterns_equal"] else "PATTERNS DIFFER"
            lines.append(
                f"- {s['problem']}: {fmt_ratio(s['speedup'])} faster than asdex at "
                f"{s['size_label']} (largest size both ran; target >= {TARGET_SPEEDUP:.0f}x): "
                f"{s['verdict']}; {eq}{ns}"
            )
    return "\n".join(lines)


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
        help=f"also measure sparsediff's peak RSS at n={format_size(MEMORY_N)} (subprocess)",
    )
    ap.add_argument("--problems", nargs="+", default=None, choices=[p.name for p in PROBLEMS])
    ap.add_argument("--repeats", type=int, default=3, help="k of best-of-k (default 3)")
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_child is not None:
        _memory_child(args.memory_child)
        return 0

    use_asdex = not args.no_asdex
    if use_asdex and not have_module("asdex"):
        print("note: asdex is not installed (pip install asdex==0.5.1); timing sparsediff only\n")
    t0 = time.perf_counter()
    memory = None
    if args.memory:
        # First, while this process is still small (see the note on ru_maxrss).
        log(f"memory check at n={format_size(MEMORY_N)} in a subprocess ...")
        memory = memory_check()
    rows = run(
        quick=args.quick,
        max_n=args.max_n,
        use_asdex=use_asdex,
        problems=args.problems,
        repeats=args.repeats,
    )
    log("tiny-size pattern checks ...")
    checks = small_checks(use_asdex=use_asdex)
    print(report(rows, checks, memory, quick=args.quick))
    print(f"\n(total benchmark wall time {math.ceil(time.perf_counter() - t0)} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
