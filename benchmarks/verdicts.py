"""Verdicts of the benchmarks: pure functions from result rows to PASS / FAIL and an exit code.

Every benchmark turns its rows into a list of :class:`Verdict` with the functions below, prints
them with :func:`format_verdicts` and exits with :func:`exit_code`.  Nothing here runs JAX or a
benchmark, so the logic is unit-tested on hand-written rows (``tests/benchmarks``).

Statuses:

* ``PASS``: the target is met, or the result agrees with its reference;
* ``FAIL``: a target is missed;
* ``WRONG``: a result disagrees with its reference (dense AD, a JVP / HVP probe, a
  validator, another solver);
* ``ERROR``: sparsediff raised where it should have produced a result;
* ``MISSING``: a measurement that a verdict needs is absent (e.g. no correctness check ran);
* ``N/A``: the target could not be judged for a reason outside sparsediff (asdex not
  installed, a size not run in a quick run); ``INFO``: a remark, never failing.

``WRONG``, ``ERROR`` and ``MISSING`` always fail.  ``FAIL`` fails too, except for *timing*
targets in a ``--quick`` run: quick sizes are too small for speed-ups to mean anything, so
they are printed but not judged there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PASS",
    "FAIL",
    "WRONG",
    "ERROR",
    "MISSING",
    "NA",
    "INFO",
    "Verdict",
    "check_status",
    "failures",
    "exit_code",
    "format_verdicts",
    "detection_verdicts",
    "small_program_verdicts",
    "scaling_verdicts",
    "evaluation_verdicts",
    "coloring_verdicts",
    "solver_verdicts",
    "NLP_TOLERANCE",
    "relative_difference",
    "nlp_pairs",
    "nlp_verdicts",
]

PASS, FAIL, WRONG, ERROR, MISSING, NA, INFO = (
    "PASS", "FAIL", "WRONG", "ERROR", "MISSING", "N/A", "INFO",
)  # fmt: skip
ALWAYS_FAILING = frozenset({WRONG, ERROR, MISSING})


@dataclass(frozen=True)
class Verdict:
    """One judged target or correctness check."""

    target: str
    status: str
    detail: str = ""
    timing: bool = False  # a timing target: not judged in a quick run

    def fails(self, quick: bool = False) -> bool:
        if self.status in ALWAYS_FAILING:
            return True
        return self.status == FAIL and not (quick and self.timing)

    def line(self, quick: bool = False) -> str:
        text = f"- {self.target}: {self.status}"
        if self.detail:
            text += f" ({self.detail})"
        if quick and self.timing and self.status in (PASS, FAIL):
            text += " [timing target, not judged in a quick run]"
        return text


def check_status(error: float | None, tolerance: float) -> str:
    """``PASS`` / ``WRONG`` for a relative error against its tolerance; ``MISSING`` for None."""
    if error is None:
        return MISSING
    if math.isnan(error) or error > tolerance:
        return WRONG
    return PASS


def failures(verdicts: Iterable[Verdict], quick: bool = False) -> list[Verdict]:
    return [v for v in verdicts if v.fails(quick)]


def exit_code(verdicts: Iterable[Verdict], quick: bool = False) -> int:
    """0 when no verdict fails, else 1."""
    return 1 if failures(verdicts, quick) else 0


def format_verdicts(verdicts: Sequence[Verdict], quick: bool = False) -> str:
    """One line per verdict, then the overall result (the line the exit code follows)."""
    lines = [v.line(quick) for v in verdicts]
    bad = failures(verdicts, quick)
    if bad:
        names = "; ".join(f"{v.target} ({v.status})" for v in bad)
        lines.append(f"\n**Overall: FAIL** ({len(bad)} of {len(verdicts)}: {names})")
    else:
        lines.append(f"\n**Overall: PASS** ({len(verdicts)} verdicts, none failing)")
    return "\n".join(lines)


def _labels(rows: Iterable[Mapping[str, Any]], key: str = "size_label") -> str:
    return ", ".join(str(r.get(key, "?")) for r in rows)


def _correctness(
    name: str, rows: Sequence[Mapping[str, Any]], err_key: str, tol: float, ran_key: str
) -> Verdict:
    """Correctness of the rows where sparsediff produced a result (``ran_key`` present)."""
    ran = [r for r in rows if r.get(ran_key) is not None]
    if not ran:
        return Verdict(name, NA, "sparsediff produced no result to check")
    status = {id(r): check_status(r.get(err_key), tol) for r in ran}
    wrong = [r for r in ran if status[id(r)] == WRONG]
    missing = [r for r in ran if status[id(r)] == MISSING]
    if wrong:
        return Verdict(name, WRONG, f"at {_labels(wrong)}")
    if missing:
        return Verdict(name, MISSING, f"no check at {_labels(missing)}")
    return Verdict(name, PASS, f"{len(ran)} sizes checked")


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------


def detection_verdicts(
    rows: Sequence[Mapping[str, Any]],
    checks: Sequence[Mapping[str, Any]] = (),
    exactness: Sequence[Mapping[str, Any]] = (),
    memory: Sequence[Mapping[str, Any]] = (),
    target_speedup: float = 10.0,
) -> list[Verdict]:
    """Verdicts of ``benchmarks.detection``.

    Per problem: sparsediff ran at every size (``ERROR`` otherwise); no nonzero of the
    derivative is missing from its pattern at any size (``sd_missing``: from the dense
    derivative where it fits, from JVP / HVP probes of random columns above; ``WRONG`` when
    positive, ``MISSING`` when no check ran); its nonzero count equals the exact count where a
    formula gives one (fewer: ``WRONG``, more: ``FAIL``); and, a timing target, it is
    ``target_speedup`` times faster than asdex at the largest size both ran.  Then the tiny
    checks (no missing entries), the exactness cases (exact) and the memory runs (within the
    target).
    """
    out: list[Verdict] = []
    for name in dict.fromkeys(r["problem"] for r in rows):
        prs = [r for r in rows if r["problem"] == name]
        errs = [r for r in prs if r.get("sd_error")]
        if errs:
            out.append(Verdict(f"{name}: sparsediff detects", ERROR, f"raised at {_labels(errs)}"))
        ok = [r for r in prs if not r.get("sd_error")]
        if ok:
            out.append(_correctness(f"{name}: no nonzero missing", ok, "sd_missing", 0.0, "sd_nnz"))
        counted = [r for r in ok if r.get("true_nnz") is not None and r.get("sd_nnz") is not None]
        fewer = [r for r in counted if r["sd_nnz"] < r["true_nnz"]]
        more = [r for r in counted if r["sd_nnz"] > r["true_nnz"]]
        if fewer:
            out.append(Verdict(f"{name}: nnz = exact count", WRONG, f"fewer at {_labels(fewer)}"))
        elif more:
            out.append(Verdict(f"{name}: nnz = exact count", FAIL, f"more at {_labels(more)}"))
        elif counted:
            out.append(Verdict(f"{name}: nnz = exact count", PASS))
        both = [r for r in prs if r.get("ratio") is not None]
        target = f"{name}: >= {target_speedup:g}x faster than asdex"
        if both:
            best = max(both, key=lambda r: r["n_in"])
            status = PASS if best["ratio"] >= target_speedup else FAIL
            detail = f"{best['ratio']:.1f}x at {best['size_label']}"
            out.append(Verdict(target, status, detail, timing=True))
        elif errs and len(errs) == len(prs):
            out.append(Verdict(target, ERROR, "sparsediff never ran", timing=True))
        else:
            out.append(Verdict(target, NA, "asdex not run", timing=True))
    for c in checks:
        name = f"{c['problem']} {c.get('size_label', '')}: tiny-size check vs dense"
        if "sparsediff_error" in c:
            out.append(Verdict(name, ERROR, c["sparsediff_error"]))
        elif "sparsediff_missing" not in c:
            out.append(Verdict(name, MISSING))
        elif c["sparsediff_missing"]:
            out.append(Verdict(name, WRONG, f"{len(c['sparsediff_missing'])} nonzeros missing"))
        else:
            out.append(Verdict(name, PASS))
    for e in exactness:
        name = f"exactness {e['case']}"
        verdict = e.get("sparsediff_verdict")
        if "sparsediff_error" in e:
            out.append(Verdict(name, ERROR, e["sparsediff_error"]))
        elif verdict is None:
            out.append(Verdict(name, MISSING))
        elif verdict == "UNSOUND":
            out.append(Verdict(name, WRONG, f"{e['sparsediff_missing']} nonzeros missing"))
        elif verdict == "conservative":
            out.append(Verdict(name, FAIL, f"{e['sparsediff_extra']} extra entries"))
        else:
            out.append(Verdict(name, PASS))
    for m in memory:
        if m.get("tool", "sparsediff") != "sparsediff":
            continue
        name = f"memory {m.get('problem', '?')} n={m.get('n', '?')}"
        if "error" in m:
            out.append(Verdict(name, ERROR, str(m["error"])[:120]))
        else:
            out.append(Verdict(name, PASS if m.get("pass") else FAIL))
    return out


def small_program_verdicts(rows: Sequence[Mapping[str, Any]]) -> list[Verdict]:
    """Verdicts of the small-program table (``benchmarks.small_programs``): every
    pattern holds the dense nonzeros and asdex's entries (``WRONG`` otherwise), and,
    a timing target, sparsediff is no slower than asdex on ``loop30`` (both kinds,
    both ways of calling)."""
    out: list[Verdict] = []
    for r in rows:
        label = f"small {r['program']} {r['kind']} ({r['mode']})"
        if r.get("sd_error"):
            out.append(Verdict(f"{label}: sparsediff detects", ERROR, r["sd_error"]))
            continue
        missing = r.get("sd_missing")
        if missing is None:
            out.append(Verdict(f"{label}: no nonzero missing", MISSING))
        elif missing:
            out.append(Verdict(f"{label}: no nonzero missing", WRONG, f"{missing} missing"))
        else:
            out.append(Verdict(f"{label}: no nonzero missing", PASS))
        if r["program"] == "loop30":
            target = f"{label}: no slower than asdex"
            ratio = r.get("ratio")
            if ratio is None:
                out.append(Verdict(target, NA, "asdex not run", timing=True))
            else:
                status = PASS if ratio >= 1.0 else FAIL
                out.append(Verdict(target, status, f"asdex/sd = {ratio:.2f}", timing=True))
    return out


def scaling_verdicts(rows: Sequence[Mapping[str, Any]], tolerance: float = 1e-12) -> list[Verdict]:
    """Verdicts of ``benchmarks.scaling``: per device count, the run finished
    (``ERROR``), the pattern has the five-point count (``WRONG`` otherwise) and the
    row blocks and their product equal the one-device sparse Jacobian."""
    out: list[Verdict] = []
    for r in rows:
        label = f"scaling {r['devices']} device(s), grid {r['grid']}"
        if "error_text" in r:
            out.append(Verdict(f"{label}: ran", ERROR, r["error_text"]))
            continue
        exact = r["nnz"] == r["true_nnz"]
        out.append(
            Verdict(
                f"{label}: five-point pattern",
                PASS if exact else WRONG,
                f"{r['nnz']} nonzeros, {r['true_nnz']} expected",
            )
        )
        for key, what in (("error", "values"), ("matvec_error", "J v")):
            err = r.get(key)
            out.append(
                Verdict(
                    f"{label}: {what} equal the one-device Jacobian's",
                    check_status(err, tolerance),
                    "" if err is None else f"{err:.1e}",
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluation_verdicts(
    rows: Sequence[Mapping[str, Any]],
    quick: bool = False,
    use_asdex: bool = True,
    *,
    tolerance: float = 1e-3,
    ratio_target: float = 1.5,
    ratio_from_n: int = 10**4,
    asdex_tolerance: float = 1.1,
    injit_target: float = 1.1,
) -> list[Verdict]:
    """Verdicts of ``benchmarks.evaluation`` (rows with ``table == "evaluation"``).

    Per problem: sparsediff ran at every size it was not skipped at (``ERROR``), and its result
    matches dense AD, or JVP / HVP probes where dense AD was not run, at every such size
    (``sd_check_error`` within ``tolerance``).  Then the targets: ``eval / floor <=
    ratio_target`` from ``n >= ratio_from_n``, called inside the caller's jit with its nonzeros
    used there no slower than ``injit_target`` times the direct call and within the same floor
    ratio, and no slower than asdex at equal colors (timing
    targets), far fewer passes than asdex on the dense row + column, and the Brusselator at
    ``N = 512`` prepared and evaluated (full runs only).
    """
    ev = [r for r in rows if r.get("table", "evaluation") == "evaluation"]
    out: list[Verdict] = []
    for name in dict.fromkeys(r["problem"] for r in ev):
        prs = [r for r in ev if r["problem"] == name]
        errs = [r for r in prs if "sd_error" in r]
        if errs:
            out.append(Verdict(f"{name}: sparsediff evaluates", ERROR, f"at {_labels(errs)}"))
        ran = [r for r in prs if "sd_error" not in r and "sd_skip" not in r]
        if ran:
            out.append(_correctness(f"{name}: correct", ran, "sd_check_error", tolerance, "n"))

    big = [r for r in ev if r["n"] >= ratio_from_n and "eval_over_floor" in r]
    target = f"eval/(colors x pass) <= {ratio_target} from n = {ratio_from_n:,}"
    if not big:
        out.append(Verdict(target, NA, "not measured", timing=True))
    else:
        bad = [r for r in big if r["eval_over_floor"] > ratio_target]
        detail = ", ".join(
            f"{r['problem']} {r['size_label']}: {r['eval_over_floor']:.2f}" for r in bad
        )
        out.append(
            Verdict(target, FAIL if bad else PASS, detail or f"{len(big)} rows", timing=True)
        )

    for key, limit, target in (
        ("injit_used_over_eval", injit_target,
         f"inside the caller's jit (nonzeros used) <= {injit_target}x the direct call "
         f"from n = {ratio_from_n:,}"),
        ("injit_used_over_floor", ratio_target,
         f"inside the caller's jit: eval/(colors x pass) <= {ratio_target} "
         f"from n = {ratio_from_n:,}"),
    ):  # fmt: skip
        measured = [r for r in ev if r["n"] >= ratio_from_n and key in r]
        if not measured:
            out.append(Verdict(target, NA, "not measured", timing=True))
            continue
        bad = [r for r in measured if r[key] > limit]
        detail = ", ".join(f"{r['problem']} {r['size_label']}: {r[key]:.2f}" for r in bad)
        out.append(
            Verdict(target, FAIL if bad else PASS, detail or f"{len(measured)} rows", timing=True)
        )

    target = "evaluation no slower than asdex at equal colors"
    same = [r for r in ev if "asdex_over_sd" in r and r.get("sd_colors") == r.get("asdex_colors")]
    if not use_asdex or not same:
        out.append(Verdict(target, NA, "asdex not run" if not use_asdex else "not measured", True))
    else:
        slow = [r for r in same if r["asdex_over_sd"] * asdex_tolerance < 1.0]
        detail = ", ".join(
            f"{r['problem']} {r['size_label']}: {1 / r['asdex_over_sd']:.2f}x asdex's time"
            for r in slow
        )
        out.append(Verdict(target, FAIL if slow else PASS, detail or f"{len(same)} rows", True))

    target = "far fewer passes than asdex on the dense row + column"
    drc = [r for r in ev if r["problem"] == "dense_row_col" and "sd_colors" in r]
    drc = [r for r in drc if "asdex_colors" in r]
    if not drc:
        out.append(Verdict(target, NA, "asdex not run" if not use_asdex else "not measured"))
    else:
        r = drc[-1]
        ok = r["sd_colors"] <= 5 and r["asdex_colors"] >= 10 * r["sd_colors"]
        detail = f"{r['size_label']}: sparsediff {r['sd_colors']}, asdex {r['asdex_colors']}"
        out.append(Verdict(target, PASS if ok else FAIL, detail))

    target = "Brusselator N=512 prepared and evaluated"
    bruss = [r for r in ev if r["problem"] == "brusselator"]
    b512 = [r for r in bruss if r.get("size") == 512]
    if not b512:
        # a full run of the Brusselator must reach N = 512; a quick run or another selection
        # of problems does not run it
        out.append(Verdict(target, MISSING if bruss and not quick else NA, "not run"))
    elif "sd_eval" in b512[0]:
        out.append(Verdict(target, PASS))
    else:
        r = b512[0]
        out.append(Verdict(target, FAIL, str(r.get("sd_error") or r.get("sd_skip"))))
    return out


# --------------------------------------------------------------------------------------------
# Coloring
# --------------------------------------------------------------------------------------------


def coloring_verdicts(
    rows: Sequence[Mapping[str, Any]],
    asdex: Mapping[tuple[str, str], Mapping[str, Any] | None],
    half_bandwidths: Mapping[str, int] | None = None,
) -> list[Verdict]:
    """Verdicts of ``benchmarks.coloring``.

    Every sparsediff coloring passed ``check_coloring`` (``row["valid"]`` is ``True``; a
    message: ``WRONG``; absent: ``MISSING``).  asdex's colorings are checked too where they
    could be converted (``asdex[...]["valid"]``); an invalid one is left out of the color
    comparison and reported (``INFO``: it is asdex's error, not sparsediff's).  Targets: never
    more colors than a valid asdex coloring, at most 3 passes on the arrowhead Jacobian,
    acyclic coloring with ``k + 1`` colors on a band of half-bandwidth ``k``
    (``half_bandwidths``), and (timing) each single-order coloring of a pattern with ``>= 5 *
    10^5`` columns under 1 s.
    """
    out: list[Verdict] = []
    invalid = [r for r in rows if r.get("valid") not in (True, None)]
    unchecked = [r for r in rows if r.get("valid") is None]
    name = "every sparsediff coloring valid (check_coloring)"
    if invalid:
        detail = "; ".join(
            f"{r['pattern']}/{r['problem']}/{r['algorithm']}: {r['valid']}" for r in invalid[:5]
        )
        out.append(Verdict(name, WRONG, detail))
    elif unchecked:
        out.append(Verdict(name, MISSING, f"{len(unchecked)} colorings not checked"))
    else:
        out.append(Verdict(name, PASS if rows else NA, f"{len(rows)} colorings"))

    bad_asdex = {k: a for k, a in asdex.items() if a and a.get("valid") not in (True, None)}
    checked_asdex = [a for a in asdex.values() if a and a.get("valid") is True]
    if bad_asdex:
        detail = "; ".join(f"{p}/{q}: {a['valid']}" for (p, q), a in bad_asdex.items())
        out.append(Verdict("asdex colorings valid", INFO, f"left out of the comparison: {detail}"))
    elif checked_asdex:
        out.append(Verdict("asdex colorings valid", PASS, f"{len(checked_asdex)} checked"))

    worse, compared = [], 0
    for r in rows:
        a = asdex.get((r["pattern"], r["problem"]))
        if not r["algorithm"].startswith("default") or not a or a.get("colors") is None:
            continue
        if (r["pattern"], r["problem"]) in bad_asdex:
            continue
        compared += 1
        if r["colors"] > a["colors"]:
            worse.append(f"{r['pattern']}/{r['problem']}: {r['colors']} > {a['colors']}")
    name = "never more colors than asdex"
    if compared:
        out.append(Verdict(name, FAIL if worse else PASS, "; ".join(worse) or f"{compared} rows"))
    else:
        out.append(Verdict(name, NA, "asdex not run"))

    default = [r for r in rows if r["algorithm"].startswith("default")]
    arrow = [r for r in default if r["pattern"] == "arrow_jac" and "bi" in r["problem"]]
    if arrow:
        ok = all(r["colors"] <= 3 for r in arrow)
        got = ", ".join(f"{r['problem']} {r['colors']}" for r in arrow)
        out.append(Verdict("arrowhead Jacobian at most 3 passes", PASS if ok else FAIL, got))
    for pattern, k in (half_bandwidths or {}).items():
        acy = [r for r in default if r["pattern"] == pattern and r["problem"] == "acyclic"]
        if acy:
            ok = all(r["colors"] == k + 1 for r in acy)
            got = ", ".join(str(r["colors"]) for r in acy)
            name = f"acyclic at k + 1 = {k + 1} on {pattern}"
            out.append(Verdict(name, PASS if ok else FAIL, got))
    big = [r for r in rows if r["n"] >= 5 * 10**5 and r["single"]]
    if big:
        slow = [r for r in big if r["time"] >= 1.0]
        detail = "; ".join(
            f"{r['pattern']}/{r['problem']}/{r['algorithm']} {r['time']:.2f} s" for r in slow
        )
        name = "each single-order coloring of a ~10^6-column problem < 1 s"
        out.append(Verdict(name, FAIL if slow else PASS, detail or f"{len(big)} rows", True))
    return out


# --------------------------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------------------------


def solver_verdicts(results: Mapping[str, Any], tolerance: float = 1e-6) -> list[Verdict]:
    """Verdicts of ``benchmarks.solvers`` from its JSON results.

    For the diffrax and Newton parts: every ``sparsediff SparseLU`` row ran (``ERROR``) and
    every other solver's result agrees with sparsediff's to ``tolerance`` (``max_diff``;
    ``WRONG`` otherwise: one of the two is wrong).  SciPy: sparsediff's solution matches the
    finite-difference one (``max_dx``).  Ipopt: status 0 (solved) when it ran.
    """
    out: list[Verdict] = []
    for part in ("diffrax", "newton"):
        rows = results.get(part)
        if not rows:
            continue
        ours = [r for r in rows if r["solver"].startswith("sparsediff")]
        errs = [r for r in ours if "error" in r]
        if errs:
            detail = "; ".join(f"{r['solver']} size {r['size']}: {r['error']}" for r in errs)
            out.append(Verdict(f"{part}: sparsediff SparseLU solves", ERROR, detail))
        bad = [
            r for r in rows if r.get("max_diff") is not None
            and check_status(r["max_diff"], tolerance) == WRONG
        ]  # fmt: skip
        compared = [r for r in rows if r.get("max_diff") is not None]
        name = f"{part}: solutions agree with sparsediff's (max diff <= {tolerance:g})"
        if bad:
            detail = "; ".join(f"{r['solver']} size {r['size']}: {r['max_diff']:.1e}" for r in bad)
            out.append(Verdict(name, WRONG, detail))
        elif compared:
            out.append(Verdict(name, PASS, f"{len(compared)} comparisons"))
        else:
            out.append(Verdict(name, NA, "no other solver ran"))
    sc = results.get("scipy")
    if sc:
        name = f"scipy: solution matches finite differences' (<= {tolerance:g})"
        dx = sc.get("max_dx")
        detail = "not measured" if dx is None else f"max |x - x_fd| = {dx:.1e}"
        out.append(Verdict(name, check_status(dx, tolerance), detail))
    ip = results.get("ipopt")
    if ip:
        out.append(Verdict("ipopt: hanging chain solved", PASS if ip.get("status") == 0 else FAIL,
                           f"status {ip.get('status')}"))  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------
# Nonlinear programs (Ipopt): sparsediff against CasADi
# --------------------------------------------------------------------------------------------

#: the objectives of both tools must agree to this relative difference
NLP_TOLERANCE = 1e-6


def relative_difference(a: float | None, b: float | None) -> float | None:
    """``|a - b| / max(|a|, |b|)`` (0 when both are 0; NaN when one is not finite)."""
    if a is None or b is None:
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def nlp_pairs(
    rows: Sequence[Mapping[str, Any]],
) -> dict[tuple[str, int, str], tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """``{(problem, size, run): (sparsediff row, CasADi row)}`` (``None`` where absent)."""
    out: dict[tuple[str, int, str], list[Mapping[str, Any] | None]] = {}
    for r in rows:
        pair = out.setdefault((r["problem"], int(r["size"]), r.get("run", "cold")), [None, None])
        pair[0 if r["tool"] == "sparsediff" else 1] = r
    return {k: (v[0], v[1]) for k, v in out.items()}


def _nlp_label(key: tuple[str, int, str], row: Mapping[str, Any] | None = None) -> str:
    problem, size, run = key
    label = row.get("size_label", size) if row else size
    return f"{problem} {label} {run}"


def _ran(row: Mapping[str, Any] | None) -> bool:
    """The tool ran this case (no error)."""
    return row is not None and "error" not in row


def _solved(row: Mapping[str, Any] | None) -> bool:
    """The tool ran this case and Ipopt reported convergence."""
    return row is not None and "error" not in row and bool(row.get("success"))


def nlp_verdicts(
    rows: Sequence[Mapping[str, Any]],
    quick: bool = False,
    *,
    tolerance: float = NLP_TOLERANCE,
    chain_size: int = 10**4,
    warm_target: float = 1.0,
    cold_target: float = 2.0,
    deriv_from_n: int = 10**3,
) -> list[Verdict]:
    """Verdicts of ``benchmarks.nlp`` from its rows (one per problem, size, run and tool).

    A row has ``problem``, ``size``, ``size_label``, ``n``, ``run`` (``"cold"`` / ``"warm"``),
    ``tool`` (``"sparsediff"`` / ``"casadi"``) and either ``error`` or the measurements
    (``total_s``, ``deriv_per_iter_ms``, ``objective``, ``success``, ``status``, ...).

    * sparsediff ran every case (``ERROR``) and Ipopt converged with its derivatives in every
      run where it converged with CasADi's or CasADi did not run (``FAIL``);
    * CasADi's errors and non-converged runs, and the runs where Ipopt converged with neither
      tool, are reported (``INFO``: not sparsediff's doing); the comparisons they prevent are
      left out (``N/A`` when none is left);
    * per problem, where both converged, the objectives agree to ``tolerance`` (relative) at
      every size and run (``WRONG``);
    * timing targets: the hanging chain at ``chain_size`` from definition to solution within
      ``warm_target`` x CasADi's time on the warm run and ``cold_target`` x on the cold run
      (both converged); per problem, the derivative time per Ipopt iteration at most CasADi's
      from ``n >= deriv_from_n`` (each tool's best of its runs at a size; a run that did not
      converge still times its iterations).
    """
    out: list[Verdict] = []
    pairs = nlp_pairs(rows)
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    sds = [(k, sd) for k, (sd, _) in pairs.items() if sd is not None]
    cas = [(k, c) for k, (_, c) in pairs.items() if c is not None]

    def listing(items: Sequence[tuple[tuple[str, int, str], Mapping[str, Any]]], key: str) -> str:
        return "; ".join(f"{_nlp_label(k, r)}: {r.get(key)}" for k, r in items)

    name = "sparsediff + Ipopt ran every case"
    errors = [(k, r) for k, r in sds if not _ran(r)]
    if errors:
        out.append(Verdict(name, ERROR, listing(errors, "error")))
    else:
        out.append(Verdict(name, PASS, f"{len(sds)} runs") if sds else Verdict(name, NA, "none"))
    # a case where Ipopt fails with both tools' derivatives says more about the problem (its
    # start, Ipopt) than about sparsediff; one where only sparsediff's run fails is a failure
    neither = [
        (k, sd)
        for k, (sd, c) in pairs.items()
        if _ran(sd) and _ran(c) and not _solved(sd) and not _solved(c)
    ]
    neither_keys = {k for k, _ in neither}
    ran = [(k, r) for k, r in sds if _ran(r)]
    if ran:
        name = "Ipopt converged with sparsediff's derivatives"
        unsolved = [(k, r) for k, r in ran if not _solved(r) and k not in neither_keys]
        detail = listing(unsolved, "status") or f"{len(ran) - len(neither)} runs"
        if neither and not unsolved:
            detail += f" (and {len(neither)} where neither tool converged)"
        out.append(Verdict(name, FAIL if unsolved else PASS, detail))
    if neither:
        detail = listing(neither, "status") + " (left out of the comparisons)"
        out.append(Verdict("Ipopt converged with either tool's derivatives", INFO, detail))
    cas_errors = [(k, r) for k, r in cas if not _ran(r)]
    if cas_errors:
        out.append(Verdict("CasADi ran every case", INFO, listing(cas_errors, "error")))
    cas_unsolved = [(k, r) for k, r in cas if _ran(r) and not _solved(r) and k not in neither_keys]
    if cas_unsolved:
        detail = listing(cas_unsolved, "status") + " (left out of the comparisons)"
        out.append(Verdict("Ipopt converged with CasADi's derivatives", INFO, detail))

    for problem in problems:
        name = f"{problem}: objectives agree with CasADi's (rel. diff <= {tolerance:g})"
        both = [
            (k, sd, relative_difference(sd["objective"], c["objective"]))
            for k, (sd, c) in pairs.items()
            if k[0] == problem and _solved(sd) and _solved(c)
        ]
        bad = [(k, sd, d) for k, sd, d in both if check_status(d, tolerance) != PASS]
        if not both:
            out.append(Verdict(name, NA, "no run where both converged"))
        elif bad:
            detail = "; ".join(
                f"{_nlp_label(k, sd)}: {d:.1e} ({sd['objective']:.10g} vs CasADi's)"
                for k, sd, d in bad
            )
            out.append(Verdict(name, WRONG, detail))
        else:
            worst = max(d for _, _, d in both if d is not None)
            out.append(Verdict(name, PASS, f"{len(both)} runs, largest {worst:.1e}"))

    for run, target in (("warm", warm_target), ("cold", cold_target)):
        name = (
            f"hanging chain N={chain_size:,}: definition to solution <= {target:g}x "
            f"CasADi's ({run} run)"
        )
        sd, c = pairs.get(("chain", chain_size, run), (None, None))
        if sd is None:
            out.append(Verdict(name, NA, "size not run", timing=True))
        elif not _ran(sd):
            out.append(Verdict(name, ERROR, str(sd["error"]), timing=True))
        elif not _solved(sd) and ("chain", chain_size, run) in neither_keys:
            out.append(Verdict(name, NA, "Ipopt converged with neither tool", timing=True))
        elif not _solved(sd):
            out.append(Verdict(name, FAIL, "sparsediff's run did not converge", timing=True))
        elif not _solved(c):
            why = "CasADi not run" if c is None else "CasADi's run failed or did not converge"
            out.append(Verdict(name, NA, why, timing=True))
        else:
            ratio = sd["total_s"] / c["total_s"]
            detail = f"{ratio:.2f}x: {sd['total_s']:.2f} s against {c['total_s']:.2f} s"
            out.append(Verdict(name, PASS if ratio <= target else FAIL, detail, timing=True))

    for problem in problems:
        name = f"{problem}: derivative time per iteration <= CasADi's from n = {deriv_from_n:,}"
        best: dict[int, list[float]] = {}  # size -> [sparsediff, CasADi]
        labels: dict[int, str] = {}
        for r in rows:
            ms = r.get("deriv_per_iter_ms")
            if r["problem"] != problem or "error" in r or ms is None or r["n"] < deriv_from_n:
                continue
            size = int(r["size"])
            slot = best.setdefault(size, [math.inf, math.inf])
            i = 0 if r["tool"] == "sparsediff" else 1
            slot[i] = min(slot[i], ms)
            labels[size] = str(r.get("size_label", size))
        ratios = {
            s: v[0] / v[1] for s, v in sorted(best.items()) if math.isfinite(v[0] + v[1]) and v[1]
        }
        if not ratios:
            out.append(Verdict(name, NA, "no size timed with both tools", timing=True))
            continue
        detail = ", ".join(f"{labels[s]}: {q:.2f}x" for s, q in ratios.items())
        status = FAIL if any(q > 1.0 for q in ratios.values()) else PASS
        out.append(Verdict(name, status, detail, timing=True))
    return out
