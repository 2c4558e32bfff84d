"""Tests of the benchmarks' correctness checks and of how their verdicts reach the exit code."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import sparse as jsparse

import sparsediff
from benchmarks import checks, coloring, detection, evaluation, report, solvers
from sparsediff.coloring import coloring as color


def _tridiag(x):
    return x[1:] * x[:-1] + jnp.sin(x[1:])


def _rosen(x):
    return jnp.sum((1 - x[:-1]) ** 2 + 10 * (x[1:] - x[:-1] ** 2) ** 2)


X = np.linspace(0.5, 1.5, 6, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dense_limit", [10**6, 0])  # dense jacfwd, then JVP probes
def test_pattern_missing_finds_a_dropped_entry(dense_limit: float) -> None:
    pat = sparsediff.jacobian_sparsity(_tridiag, X)
    rows, cols = np.asarray(pat.rows), np.asarray(pat.cols)
    kw = {"dense_limit": dense_limit, "probes": 6}  # 6 probes: every column of n = 6
    full = checks.pattern_missing(_tridiag, "jacobian", X, rows, cols, 5, **kw)
    assert full["check"] == ("dense" if dense_limit else "probe")
    assert (full["missing"], full["example"]) == (0, None)
    drop = checks.pattern_missing(_tridiag, "jacobian", X, rows[1:], cols[1:], 5, **kw)
    assert drop["missing"] == 1
    assert drop["example"] == (int(rows[0]), int(cols[0]))


def test_pattern_missing_hessian_probes() -> None:
    pat = sparsediff.hessian_sparsity(_rosen, X)
    rows, cols = np.asarray(pat.rows), np.asarray(pat.cols)
    ok = checks.pattern_missing(_rosen, "hessian", X, rows, cols, 6, dense_limit=0, probes=6)
    assert ok["check"] == "probe" and ok["missing"] == 0
    diag = rows == cols
    bad = checks.pattern_missing(
        _rosen, "hessian", X, rows[~diag], cols[~diag], 6, dense_limit=0, probes=6
    )
    assert bad["missing"] == 6  # the whole diagonal


def test_product_error() -> None:
    jac = sparsediff.jacobian(_tridiag, X)(X)
    assert checks.product_error(jac, _tridiag, "jacobian", X) < 1e-6
    dense = np.array(jac.todense())
    dense[2, 2] += 1.0
    wrong = jsparse.BCOO.fromdense(dense)
    assert checks.product_error(wrong, _tridiag, "jacobian", X) > 1e-2
    hess = sparsediff.hessian(_rosen, X)(X)
    assert checks.product_error(hess, _rosen, "hessian", X) < 1e-5
    assert checks.product_error(hess * 1.01, _rosen, "hessian", X) > 1e-3


def test_result_from_colors_is_judged_by_check_coloring() -> None:
    pattern = coloring.banded(20)
    for problem in ("column", "row", "symmetric"):
        ours = color(pattern, problem)
        colors = ours.row_colors if problem == "row" else ours.column_colors
        if problem == "symmetric":
            colors = ours.symmetric_colors
        given = coloring.result_from_colors(pattern, problem, colors)
        assert given.num_colors == ours.num_colors
        assert coloring.validity(pattern, given) is True
    clash = coloring.result_from_colors(pattern, "column", np.arange(20) % 2)
    assert "InvalidColoringError" in coloring.validity(pattern, clash)
    not_star = coloring.result_from_colors(pattern, "symmetric", np.arange(20) % 3)
    assert "cannot be read directly" in coloring.validity(pattern, not_star)


# --------------------------------------------------------------------------------------------
# exit codes of the benchmarks (their measuring parts replaced by fixed rows)
# --------------------------------------------------------------------------------------------


def _det_row(missing: int | None) -> dict:
    return {
        "problem": "diff", "kind": "jacobian", "size": 10, "size_label": "n=10", "n_in": 10,
        "shape": (9, 10), "true_nnz": 18, "sd_time": 1e-3, "sd_nnz": 18, "sd_ns_per_nnz": 50.0,
        "sd_repeats": 3, "sd_error": None, "sd_warnings": [], "asdex_status": "disabled",
        "asdex_time": None, "asdex_nnz": None, "asdex_repeats": None, "asdex_error": None,
        "ratio": None, "patterns": None, "only_sd": None, "only_asdex": None,
        "sd_check": "dense", "sd_missing": missing,
    }  # fmt: skip


@pytest.mark.parametrize(("missing", "rc"), [(0, 0), (2, 1), (None, 1)])
def test_detection_exit_code(monkeypatch, capsys, missing: int | None, rc: int) -> None:
    monkeypatch.setattr(detection, "run", lambda **kw: [_det_row(missing)])
    monkeypatch.setattr(detection, "small_checks", lambda **kw: [])
    assert detection.main(["--quick", "--no-asdex", "--no-exactness"]) == rc
    out = capsys.readouterr().out
    assert ("**Overall: PASS**" in out) is (rc == 0)
    if missing:
        assert "WRONG: 2 missing (dense)" in out


@pytest.mark.parametrize(("error", "rc"), [(1e-7, 0), (0.5, 1)])
def test_evaluation_exit_code(monkeypatch, capsys, error: float, rc: int) -> None:
    row = {
        "table": "evaluation", "problem": "diff", "kind": "jacobian", "size": 1000,
        "size_label": "n=10^3", "n": 1000, "m": 999, "notes": [], "sd_mode": "column",
        "sd_colors": 2, "sd_eval": 1e-4, "sd_check": "dense", "sd_check_error": error,
    }  # fmt: skip
    monkeypatch.setattr(evaluation, "run", lambda **kw: [row])
    assert evaluation.main(["--quick", "--no-asdex"]) == rc
    out = capsys.readouterr().out
    assert ("(WRONG)" in out) is bool(rc)


def test_coloring_exit_code(monkeypatch, capsys) -> None:
    bad = {
        "pattern": "banded", "n": 100, "problem": "column", "algorithm": "natural",
        "colors": 2, "forward": 2, "reverse": 0, "bound": 5, "order": "natural", "time": 1e-4,
        "single": True, "valid": "InvalidColoringError: columns 0 and 1",
    }  # fmt: skip
    monkeypatch.setattr(coloring, "_warm_up", lambda: None)
    monkeypatch.setattr(coloring, "run_sparsediff", lambda spec, size, reps: [bad])
    args = ["--quick", "--no-asdex", "--no-compile", "--patterns", "banded"]
    assert coloring.main(args) == 1
    assert "2 (INVALID)" in capsys.readouterr().out
    monkeypatch.setattr(coloring, "run_sparsediff", lambda s, n, k: [{**bad, "valid": True}])
    assert coloring.main(args) == 0


def test_solvers_exit_code(monkeypatch, capsys) -> None:
    monkeypatch.setattr(solvers, "scipy_part", lambda n: ("table", {"n": n, "max_dx": 0.25}))
    assert solvers.main(["--quick", "--parts", "scipy"]) == 1
    assert "**Overall: FAIL**" in capsys.readouterr().out
    monkeypatch.setattr(solvers, "scipy_part", lambda n: ("table", {"n": n, "max_dx": 0.0}))
    assert solvers.main(["--quick", "--parts", "scipy"]) == 0


def test_report_records_a_failing_stage_and_exits_1(monkeypatch, tmp_path: Path) -> None:
    def fake(name, quick=False, no_asdex=False, tmpdir=None, verbose=False):
        rc = 1 if name == "coloring" else 0
        out = "## Verdicts\n\n**Overall: FAIL**" if rc else "## ok"
        return report.StageResult(name, ["python", "-m", f"benchmarks.{name}"], rc, 1.0, out)

    monkeypatch.setattr(report, "run_stage", fake)
    argv = ["--quick", "--out-dir", str(tmp_path), "--benchmarks", "detection", "coloring"]
    assert report.main(argv) == 1
    md = (tmp_path / "results.md").read_text()
    assert "- **FAILED: coloring (exit code 1)**" in md
    assert "**The benchmark failed (exit code 1).**" in md
    monkeypatch.setattr(
        report, "run_stage", lambda name, *a, **k: report.StageResult(name, ["p"], 0, 1.0, "ok")
    )
    assert report.main(argv) == 0
    assert "FAILED" not in (tmp_path / "results.md").read_text()


def test_headline_block_names_the_commit() -> None:
    meta = {"date": "2030-01-02", "git_commit": "abc1234 + uncommitted changes", "cores": 2}
    line = report.headline_block("| t |", meta).splitlines()[0]
    assert line.startswith("*full run, 2030-01-02, commit abc1234 + uncommitted changes, ")
    assert ", commit" not in report.headline_block("| t |", {"date": "2030-01-02"})
