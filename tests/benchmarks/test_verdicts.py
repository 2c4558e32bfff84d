"""Tests of ``benchmarks.verdicts``: the PASS / FAIL logic on rows that include failing ones."""

from __future__ import annotations

import math

import pytest

from benchmarks import verdicts as V


def _by_target(found: list[V.Verdict]) -> dict[str, V.Verdict]:
    return {v.target: v for v in found}


# --------------------------------------------------------------------------------------------
# Verdict, exit code, formatting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "timing", "quick", "fails"),
    [
        (V.PASS, False, False, False),
        (V.NA, False, False, False),
        (V.INFO, False, False, False),
        (V.FAIL, False, False, True),
        (V.FAIL, False, True, True),  # a count target fails in quick runs too
        (V.FAIL, True, False, True),
        (V.FAIL, True, True, False),  # a timing target is not judged in a quick run
        (V.WRONG, True, True, True),
        (V.ERROR, False, True, True),
        (V.MISSING, False, True, True),
    ],
)
def test_which_statuses_fail(status: str, timing: bool, quick: bool, fails: bool) -> None:
    v = V.Verdict("t", status, timing=timing)
    assert v.fails(quick) is fails
    assert V.exit_code([V.Verdict("ok", V.PASS), v], quick) == int(fails)


def test_exit_code_and_overall_line() -> None:
    good = [V.Verdict("a", V.PASS, "3 rows"), V.Verdict("b", V.NA, "asdex not run")]
    assert V.exit_code(good) == 0
    assert V.exit_code([]) == 0
    text = V.format_verdicts(good)
    assert text.splitlines()[0] == "- a: PASS (3 rows)"
    assert "**Overall: PASS** (2 verdicts, none failing)" in text
    bad = [*good, V.Verdict("c", V.WRONG, "at n=10")]
    assert V.exit_code(bad) == 1
    assert "**Overall: FAIL** (1 of 3: c (WRONG))" in V.format_verdicts(bad)
    timing = [V.Verdict("speed", V.FAIL, "2x", timing=True)]
    assert "not judged in a quick run" in V.format_verdicts(timing, quick=True)
    assert "**Overall: PASS**" in V.format_verdicts(timing, quick=True)
    assert "**Overall: FAIL**" in V.format_verdicts(timing, quick=False)


def test_check_status() -> None:
    assert V.check_status(0.0, 1e-3) == V.PASS
    assert V.check_status(1e-3, 1e-3) == V.PASS
    assert V.check_status(2e-3, 1e-3) == V.WRONG
    assert V.check_status(math.nan, 1e-3) == V.WRONG
    assert V.check_status(None, 1e-3) == V.MISSING


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------


def _det_row(size: int, **kw) -> dict:
    row = {
        "problem": "diff", "size_label": f"n={size}", "n_in": size, "sd_error": None,
        "sd_nnz": 2 * size, "true_nnz": 2 * size, "sd_missing": 0, "ratio": 20.0,
    }  # fmt: skip
    row.update(kw)
    return row


def test_detection_all_pass() -> None:
    rows = [_det_row(10), _det_row(100)]
    found = V.detection_verdicts(rows, target_speedup=10.0)
    assert V.exit_code(found) == 0
    t = _by_target(found)
    assert t["diff: no nonzero missing"].status == V.PASS
    assert t["diff: nnz = exact count"].status == V.PASS
    assert t["diff: >= 10x faster than asdex"].detail == "20.0x at n=100"


def test_detection_wrong_missing_and_error_rows() -> None:
    wrong = [_det_row(10), _det_row(100, sd_missing=3)]
    t = _by_target(V.detection_verdicts(wrong))
    assert t["diff: no nonzero missing"].status == V.WRONG
    assert t["diff: no nonzero missing"].detail == "at n=100"

    unchecked = [_det_row(10), _det_row(100, sd_missing=None)]
    t = _by_target(V.detection_verdicts(unchecked))
    assert t["diff: no nonzero missing"].status == V.MISSING

    error = [_det_row(10), _det_row(100, sd_error="ValueError: x", sd_nnz=None, ratio=None)]
    found = V.detection_verdicts(error)
    t = _by_target(found)
    assert t["diff: sparsediff detects"].status == V.ERROR
    assert t["diff: no nonzero missing"].status == V.PASS  # the size that ran is fine
    assert V.exit_code(found, quick=True) == 1


def _small_row(program="loop30", kind="jacobian", mode="repeat", **kw):
    row = {"program": program, "kind": kind, "mode": mode, "sd_time": 0.01}
    row.update({"asdex_time": 0.012, "ratio": 1.2, "sd_missing": 0})
    row.update(kw)
    return row


def test_small_programs() -> None:
    rows = [
        _small_row(),
        _small_row(kind="hessian", ratio=0.8),
        _small_row(program="vector30", ratio=0.5),  # no timing target there
        _small_row(mode="first", sd_missing=2),
        _small_row(kind="hessian", mode="first", ratio=None),
        _small_row(program="vector30", kind="hessian", sd_error="TypeError: x"),
    ]
    t = _by_target(V.small_program_verdicts(rows))
    assert t["small loop30 jacobian (repeat): no slower than asdex"].status == V.PASS
    slow = t["small loop30 hessian (repeat): no slower than asdex"]
    assert (slow.status, slow.timing, slow.detail) == (V.FAIL, True, "asdex/sd = 0.80")
    assert "small vector30 jacobian (repeat): no slower than asdex" not in t
    assert t["small loop30 jacobian (first): no nonzero missing"].status == V.WRONG
    assert t["small loop30 hessian (first): no slower than asdex"].status == V.NA
    assert t["small vector30 hessian (repeat): sparsediff detects"].status == V.ERROR
    assert V.exit_code(t.values(), quick=True) == 1  # WRONG and ERROR fail quick runs too


def test_detection_counts_and_speed() -> None:
    t = _by_target(V.detection_verdicts([_det_row(10, sd_nnz=19)]))
    assert t["diff: nnz = exact count"].status == V.WRONG
    t = _by_target(V.detection_verdicts([_det_row(10, sd_nnz=21)]))
    assert t["diff: nnz = exact count"].status == V.FAIL

    slow = [_det_row(10, ratio=50.0), _det_row(100, ratio=5.0)]  # judged at the largest size
    found = V.detection_verdicts(slow, target_speedup=10.0)
    speed = _by_target(found)["diff: >= 10x faster than asdex"]
    assert (speed.status, speed.timing, speed.detail) == (V.FAIL, True, "5.0x at n=100")
    assert V.exit_code(found, quick=False) == 1
    assert V.exit_code(found, quick=True) == 0

    no_asdex = V.detection_verdicts([_det_row(10, ratio=None)])
    assert _by_target(no_asdex)["diff: >= 10x faster than asdex"].status == V.NA
    assert V.exit_code(no_asdex) == 0


def test_detection_checks_exactness_and_memory() -> None:
    checks = [
        {"problem": "diff", "size_label": "n=10", "sparsediff_missing": []},
        {"problem": "scan", "size_label": "L=12", "sparsediff_missing": [(1, 0)]},
        {"problem": "conv2d", "size_label": "N=8", "sparsediff_error": "TypeError: t"},
    ]
    exact = [
        {"case": "a", "sparsediff_verdict": "exact"},
        {"case": "b", "sparsediff_verdict": "conservative", "sparsediff_extra": 4},
        {"case": "c", "sparsediff_verdict": "UNSOUND", "sparsediff_missing": 2},
        {"case": "d"},  # sparsediff did not run: a missing measurement
    ]
    memory = [
        {"problem": "diff", "tool": "sparsediff", "n": 10, "pass": False},
        {"problem": "scan", "tool": "asdex", "n": 10, "pass": False},  # not judged
    ]
    t = _by_target(V.detection_verdicts([], checks, exact, memory))
    assert [v.status for v in t.values()] == [
        V.PASS, V.WRONG, V.ERROR, V.PASS, V.FAIL, V.WRONG, V.MISSING, V.FAIL,
    ]  # fmt: skip
    assert "memory scan n=10" not in t


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _ev_row(problem: str, size: int, **kw) -> dict:
    row = {
        "table": "evaluation", "problem": problem, "size": size, "size_label": f"n={size}",
        "n": size, "sd_eval": 1e-3, "sd_colors": 3, "sd_check_error": 1e-7,
    }  # fmt: skip
    row.update(kw)
    return row


def test_evaluation_correctness_rows() -> None:
    rows = [
        _ev_row("diff", 1000),
        _ev_row("diff", 10**4, sd_check_error=0.2),  # WRONG
        _ev_row("rosenbrock", 1000),
        _ev_row("rosenbrock", 10**4, sd_check_error=None),  # no check: missing
        _ev_row("conv2d", 1000, sd_error="RuntimeError: boom", sd_check_error=None),
        _ev_row("arrowhead", 10**6, sd_skip="skipped (predicted 90 s)", sd_check_error=None),
        {"table": "vjp_cost", "problem": "diff"},  # not an evaluation row
    ]
    found = V.evaluation_verdicts(rows, quick=True, use_asdex=False)
    t = _by_target(found)
    assert t["diff: correct"].status == V.WRONG and t["diff: correct"].detail == "at n=10000"
    assert t["rosenbrock: correct"].status == V.MISSING
    assert t["conv2d: sparsediff evaluates"].status == V.ERROR
    assert "conv2d: correct" not in t
    assert "arrowhead: correct" not in t  # skipped by the size caps: nothing to check
    assert V.exit_code(found, quick=True) == 1
    fixed = [r for r in rows[:1] + rows[2:3]]
    assert V.exit_code(V.evaluation_verdicts(fixed, quick=True, use_asdex=False), True) == 0


def test_evaluation_targets() -> None:
    rows = [
        _ev_row("diff", 10**4, eval_over_floor=2.0, asdex_colors=3, asdex_over_sd=0.5),
        _ev_row("dense_row_col", 10**4, asdex_colors=12, asdex_over_sd=3.0),
        _ev_row("brusselator", 64, n=8192),
    ]
    found = V.evaluation_verdicts(rows, quick=False, use_asdex=True)
    t = _by_target(found)
    floor = t["eval/(colors x pass) <= 1.5 from n = 10,000"]
    assert (floor.status, floor.timing, floor.detail) == (V.FAIL, True, "diff n=10000: 2.00")
    slow = t["evaluation no slower than asdex at equal colors"]
    assert slow.status == V.FAIL and "2.00x asdex's time" in slow.detail
    assert t["far fewer passes than asdex on the dense row + column"].status == V.FAIL
    assert t["Brusselator N=512 prepared and evaluated"].status == V.MISSING
    assert V.exit_code(found, quick=False) == 1

    quick = V.evaluation_verdicts(rows, quick=True, use_asdex=True)
    q = _by_target(quick)
    assert q["Brusselator N=512 prepared and evaluated"].status == V.NA
    # the count target still fails in a quick run
    assert [v.target for v in V.failures(quick, quick=True)] == [
        "far fewer passes than asdex on the dense row + column"
    ]

    good = [
        _ev_row("dense_row_col", 10**4, asdex_colors=10**4, asdex_over_sd=3.0),
        _ev_row("brusselator", 512, n=524288, eval_over_floor=1.2),
    ]
    assert V.exit_code(V.evaluation_verdicts(good, quick=False, use_asdex=True)) == 0
    b = [_ev_row("brusselator", 512, n=524288, sd_skip="skipped (predicted)")]
    del b[0]["sd_eval"]
    t = _by_target(V.evaluation_verdicts(b, quick=False, use_asdex=False))
    assert t["Brusselator N=512 prepared and evaluated"].status == V.FAIL


# --------------------------------------------------------------------------------------------
# Coloring
# --------------------------------------------------------------------------------------------


def _col_row(pattern: str, problem: str, colors: int, **kw) -> dict:
    row = {
        "pattern": pattern, "problem": problem, "algorithm": "default (largest_first)",
        "colors": colors, "n": 1000, "time": 0.01, "single": True, "valid": True,
    }  # fmt: skip
    row.update(kw)
    return row


def test_coloring_validity() -> None:
    rows = [_col_row("banded", "column", 5), _col_row("banded", "acyclic", 3)]
    asdex = {("banded", "column"): {"colors": 5, "time": 0.1, "valid": True}}
    found = V.coloring_verdicts(rows, asdex, {"banded": 2})
    assert V.exit_code(found) == 0
    t = _by_target(found)
    assert t["every sparsediff coloring valid (check_coloring)"].status == V.PASS
    assert t["asdex colorings valid"].status == V.PASS
    assert t["acyclic at k + 1 = 3 on banded"].status == V.PASS

    invalid = [_col_row("banded", "column", 4, valid="InvalidColoringError: columns 0 and 1")]
    t = _by_target(V.coloring_verdicts(invalid, {}))
    assert t["every sparsediff coloring valid (check_coloring)"].status == V.WRONG
    assert "columns 0 and 1" in t["every sparsediff coloring valid (check_coloring)"].detail

    unchecked = [_col_row("banded", "column", 5, valid=None)]
    t = _by_target(V.coloring_verdicts(unchecked, {}))
    assert t["every sparsediff coloring valid (check_coloring)"].status == V.MISSING


def test_coloring_targets() -> None:
    rows = [
        _col_row("banded", "column", 6),
        _col_row("random_sym", "symmetric", 20),
        _col_row("arrow_jac", "bidirectional", 4),
        _col_row("banded", "acyclic", 4),
        _col_row("banded", "row", 5, n=10**6, time=1.5),
    ]
    asdex = {
        ("banded", "column"): {"colors": 5, "valid": True},  # fewer: FAIL
        ("random_sym", "symmetric"): {"colors": 12, "valid": "InvalidColoringError: x"},
        ("banded", "row"): {"colors": None, "time": None, "note": "> 120 s"},
    }
    found = V.coloring_verdicts(rows, asdex, {"banded": 2})
    t = _by_target(found)
    fewer = t["never more colors than asdex"]
    # the invalid asdex coloring is left out of the comparison
    assert (fewer.status, fewer.detail) == (V.FAIL, "banded/column: 6 > 5")
    assert t["asdex colorings valid"].status == V.INFO
    assert t["arrowhead Jacobian at most 3 passes"].status == V.FAIL
    assert t["acyclic at k + 1 = 3 on banded"].status == V.FAIL
    timing = t["each single-order coloring of a ~10^6-column problem < 1 s"]
    assert timing.status == V.FAIL and timing.timing
    assert {v.target for v in V.failures(found, quick=True)} == {
        "never more colors than asdex",
        "arrowhead Jacobian at most 3 passes",
        "acyclic at k + 1 = 3 on banded",
    }


# --------------------------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------------------------


def test_solver_verdicts() -> None:
    good = {
        "newton": [
            {"solver": "sparsediff SparseLU", "size": 10, "n": 10, "run": 0.1},
            {"solver": "lineax LU (dense)", "size": 10, "n": 10, "run": 0.2, "max_diff": 1e-14},
            {"solver": "splineax Auto", "size": 10, "n": 10, "skipped": "not installed"},
        ],
        "scipy": {"max_dx": 0.0},
        "ipopt": {"status": 0},
    }
    assert V.exit_code(V.solver_verdicts(good)) == 0
    bad = {
        "diffrax": [
            {"solver": "sparsediff SparseLU", "size": 8, "error": "XlaRuntimeError: x"},
            {"solver": "sparsediff SparseLU", "size": 16, "run": 1.0},
            {"solver": "lineax LU (dense)", "size": 16, "run": 2.0, "max_diff": 0.3},
        ],
        "scipy": {"max_dx": None},
        "ipopt": {"status": -1},
    }
    t = _by_target(V.solver_verdicts(bad))
    assert [v.status for v in t.values()] == [V.ERROR, V.WRONG, V.MISSING, V.FAIL]
    assert (
        "lineax LU (dense) size 16: 3.0e-01"
        in t["diffrax: solutions agree with sparsediff's (max diff <= 1e-06)"].detail
    )


def test_evaluation_inside_jit_targets() -> None:
    """Inside the caller's jit: <= 1.1x the direct call and the floor target, from n = 10^4;
    rows without the measurement (older runs) say so instead of passing."""
    rows = [
        _ev_row("diff", 10**4, injit_used_over_eval=0.9, injit_used_over_floor=1.2),
        _ev_row("rosenbrock", 10**6, injit_used_over_eval=1.3, injit_used_over_floor=1.7),
        _ev_row("diff", 1000, injit_used_over_eval=5.0, injit_used_over_floor=9.0),  # too small
    ]
    t = _by_target(V.evaluation_verdicts(rows, quick=False, use_asdex=False))
    direct = t["inside the caller's jit (nonzeros used) <= 1.1x the direct call from n = 10,000"]
    assert (direct.status, direct.detail) == (V.FAIL, "rosenbrock n=1000000: 1.30")
    floor = t["inside the caller's jit: eval/(colors x pass) <= 1.5 from n = 10,000"]
    assert (floor.status, floor.timing) == (V.FAIL, True) and "1.70" in floor.detail
    good = _by_target(V.evaluation_verdicts(rows[:1], quick=False, use_asdex=False))
    assert all(good[k].status == V.PASS for k in good if k.startswith("inside the caller's jit"))
    old = _by_target(V.evaluation_verdicts([_ev_row("diff", 10**4)], quick=False, use_asdex=False))
    assert old[direct.target].status == V.NA and old[floor.target].status == V.NA
