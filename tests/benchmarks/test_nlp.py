"""Tests of ``benchmarks.nlp``: its verdicts on hand-written rows (failing ones included) and
a tiny solve with both tools (its problems: ``test_nlp_problems``)."""

from __future__ import annotations

import math
from typing import Any

import jax
import pytest

from benchmarks import nlp
from benchmarks import verdicts as V

# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------


def _row(tool: str, problem: str = "chain", size: int = 10**4, run: str = "warm", **kw: Any):
    row = {
        "tool": tool, "problem": problem, "size": size, "run": run,
        "size_label": nlp.size_label(problem, size), "n": nlp.num_variables(problem, size),
        "total_s": 2.0, "solve_s": 0.5, "deriv_per_iter_ms": 1.0, "iterations": 12,
        "objective": 5.0684801, "success": True, "status": "Solve_Succeeded",
    }  # fmt: skip
    row.update(kw)
    return row


def _good_rows() -> list[dict[str, Any]]:
    rows = []
    for run in nlp.RUNS:
        rows.append(_row("casadi", run=run, total_s=2.0, deriv_per_iter_ms=3.0))
        rows.append(_row("sparsediff", run=run, total_s=1.9, deriv_per_iter_ms=1.0))
        rows.append(_row("casadi", "lukvle1", 10**3, run, deriv_per_iter_ms=0.5))
        rows.append(_row("sparsediff", "lukvle1", 10**3, run, deriv_per_iter_ms=0.4))
    return rows


def _by_target(found: list[V.Verdict]) -> dict[str, V.Verdict]:
    return {v.target: v for v in found}


def _find(found: list[V.Verdict], start: str) -> V.Verdict:
    hits = [v for v in found if v.target.startswith(start)]
    assert len(hits) == 1, [v.target for v in found]
    return hits[0]


def test_relative_difference() -> None:
    assert V.relative_difference(1.0, 1.0) == 0.0
    assert V.relative_difference(0.0, 0.0) == 0.0
    assert V.relative_difference(2.0, 1.0) == pytest.approx(0.5)
    assert V.relative_difference(None, 1.0) is None
    assert math.isnan(V.relative_difference(math.nan, 1.0))
    assert V.check_status(V.relative_difference(1.0 + 1e-7, 1.0), V.NLP_TOLERANCE) == V.PASS
    assert V.check_status(V.relative_difference(1.0 + 1e-5, 1.0), V.NLP_TOLERANCE) == V.WRONG


def test_all_targets_met() -> None:
    found = V.nlp_verdicts(_good_rows())
    assert V.exit_code(found) == 0
    assert all(v.status in (V.PASS, V.NA) for v in found), V.format_verdicts(found)
    warm = _find(found, "hanging chain N=10,000: definition to solution <= 1x")
    assert warm.status == V.PASS and warm.detail.startswith("0.95x")
    deriv = _find(found, "chain: derivative time per iteration")
    assert deriv.status == V.PASS and "N=10^4: 0.33x" in deriv.detail
    assert _find(found, "lukvle1: objectives agree").status == V.PASS


def test_wrong_objective_fails_even_in_a_quick_run() -> None:
    rows = _good_rows()
    rows[3]["objective"] = 5.07  # sparsediff, lukvle1, cold: 1.5e-4 away from CasADi's
    found = V.nlp_verdicts(rows, quick=True)
    v = _find(found, "lukvle1: objectives agree")
    assert v.status == V.WRONG and "lukvle1 n=10^3 cold" in v.detail
    assert V.exit_code(found, quick=True) == 1
    assert "**Overall: FAIL**" in V.format_verdicts(found, quick=True)


def test_chain_targets_fail_when_slower() -> None:
    rows = _good_rows()
    for r in rows:
        if r["tool"] == "sparsediff" and r["problem"] == "chain":
            r["total_s"] = 3.0  # 1.5x CasADi's: misses the warm target, meets the cold one
    found = V.nlp_verdicts(rows)
    by = _by_target(found)
    warm = by["hanging chain N=10,000: definition to solution <= 1x CasADi's (warm run)"]
    cold = by["hanging chain N=10,000: definition to solution <= 2x CasADi's (cold run)"]
    assert (warm.status, cold.status) == (V.FAIL, V.PASS)
    assert warm.detail.startswith("1.50x") and warm.timing
    assert V.exit_code(found) == 1
    assert V.exit_code(found, quick=True) == 0  # timing targets are not judged in quick runs


def test_derivative_target_from_n_1000_only() -> None:
    rows = _good_rows()
    rows += [
        _row("casadi", "cartpole", 100, "warm", deriv_per_iter_ms=0.1),  # n = 505: not judged
        _row("sparsediff", "cartpole", 100, "warm", deriv_per_iter_ms=0.5),
    ]
    found = V.nlp_verdicts(rows)
    assert _find(found, "cartpole: derivative time").status == V.NA
    # best of the runs: one slow sparsediff run alone does not fail the target
    rows[1]["deriv_per_iter_ms"] = 10.0
    assert _find(V.nlp_verdicts(rows), "chain: derivative time").status == V.PASS
    rows[5]["deriv_per_iter_ms"] = 10.0
    v = _find(V.nlp_verdicts(rows), "chain: derivative time")
    assert v.status == V.FAIL and "N=10^4: 3.33x" in v.detail
    assert V.exit_code(V.nlp_verdicts(rows)) == 1


def test_sparsediff_error_and_no_convergence_fail() -> None:
    rows = _good_rows()
    rows[1] = {k: rows[1][k] for k in ("tool", "problem", "size", "run", "size_label", "n")}
    rows[1]["error"] = "ValueError: boom"
    found = V.nlp_verdicts(rows, quick=True)
    v = _find(found, "sparsediff + Ipopt ran every case")
    assert v.status == V.ERROR and "boom" in v.detail
    assert V.exit_code(found, quick=True) == 1

    rows = _good_rows()
    rows[3].update(success=False, status="Maximum_Iterations_Exceeded")
    found = V.nlp_verdicts(rows, quick=True)
    v = _find(found, "Ipopt converged with sparsediff's")
    assert v.status == V.FAIL and "Maximum_Iterations_Exceeded" in v.detail
    assert V.exit_code(found, quick=True) == 1


def test_casadi_failures_are_not_sparsediffs() -> None:
    rows = _good_rows()
    for r in rows:
        if r["tool"] == "casadi" and r["problem"] == "chain":
            r.update(success=False, status="Maximum_Iterations_Exceeded", objective=-1e7)
    rows[6] = {"tool": "casadi", "problem": "lukvle1", "size": 1000, "run": "warm",
               "size_label": "n=10^3", "n": 1000, "error": "timed out after 9 s"}  # fmt: skip
    found = V.nlp_verdicts(rows)
    assert _find(found, "Ipopt converged with CasADi's").status == V.INFO
    assert _find(found, "CasADi ran every case").status == V.INFO
    assert _find(found, "chain: objectives agree").status == V.NA
    assert _find(found, "lukvle1: objectives agree").status == V.PASS  # the cold run
    assert _find(found, "hanging chain N=10,000: definition to solution <= 1x").status == V.NA
    assert V.exit_code(found) == 0


def test_no_convergence_with_either_tool_is_not_sparsediffs() -> None:
    rows = _good_rows()
    for r in rows:
        if r["problem"] == "chain" and r["run"] == "cold":
            r.update(success=False, status="Maximum_Iterations_Exceeded", objective=-1e6)
    rows[4].update(success=False, status="Maximum_Iterations_Exceeded")  # CasADi, warm only
    found = V.nlp_verdicts(rows)
    v = _find(found, "Ipopt converged with either tool's")
    assert v.status == V.INFO and "chain N=10^4 cold" in v.detail
    assert _find(found, "Ipopt converged with sparsediff's").status == V.PASS
    assert _find(found, "Ipopt converged with CasADi's").status == V.INFO
    assert _find(found, "chain: objectives agree").status == V.NA
    assert _find(found, "hanging chain N=10,000: definition to solution <= 2x").status == V.NA
    assert V.exit_code(found) == 0
    rows[5].update(success=False, status="Maximum_Iterations_Exceeded")  # sparsediff, warm
    rows[4].update(success=True)  # where CasADi converged
    found = V.nlp_verdicts(rows)
    assert _find(found, "Ipopt converged with sparsediff's").status == V.FAIL
    assert V.exit_code(found, quick=True) == 1


def test_sparsediff_alone() -> None:
    rows = [r for r in _good_rows() if r["tool"] == "sparsediff"]
    found = V.nlp_verdicts(rows)
    assert V.exit_code(found) == 0
    assert _find(found, "chain: objectives agree").status == V.NA
    assert _find(found, "chain: derivative time").status == V.NA
    assert V.nlp_verdicts([])[0].status == V.NA


def test_main_exit_codes_and_tables(monkeypatch, capsys) -> None:
    def fake_rows(wrong: bool):
        def run_all(problems, sizes, tools, timeout=0.0, dispatch="sync"):
            rows = [_row(t, "lukvle1", 10**3, run) for run in nlp.RUNS for t in tools]
            # the run with the other dispatch setting, whose objective is off: in the
            # dispatch table alone (it changes no verdict)
            rows.append(_row("sparsediff", "lukvle1", 10**3, "warm", dispatch="async",
                             objective=99.0))  # fmt: skip
            # the run with casadi's Ipopt library: in its own table alone
            rows.append(_row("sparsediff", "lukvle1", 10**3, "warm", ipopt_build="casadi",
                             objective=98.0))  # fmt: skip
            for r in rows:
                r.update(import_s=0.1, prepare_s=0.2, compile_s=0.3, solve_s=0.4,
                         grad_jac_s=0.01, hess_s=0.02, other_s=0.03, grad_jac_calls=8,
                         hess_calls=6, ipopt_s=0.3, ipopt_version="3.14",
                         linear_solver="mumps", version="1")  # fmt: skip
                if r["tool"] == "sparsediff":
                    r.setdefault("dispatch", dispatch)
                nlp.finish_row(r)
            rows[-2]["deriv_per_iter_ms"] *= 2
            rows[-1].update(total_s=0.5, ipopt_s=0.1, ipopt_version="3.14.19")
            if wrong:
                rows[-3]["objective"] = 7.0
            return rows

        return run_all

    monkeypatch.setattr(nlp, "import_problem", lambda module: None)
    monkeypatch.setattr(nlp, "run_all", fake_rows(False))
    assert nlp.main(["--quick", "--problems", "lukvle1"]) == 0
    out = capsys.readouterr().out
    assert "## sparsediff / CasADi" in out and "**Overall: PASS**" in out
    assert "linear solver mumps" in out
    # the async run: in its own table, against the sync run of the same case
    main, dispatch = out.split("## JAX's CPU dispatch")
    dispatch, build = dispatch.split("## The same Ipopt build for both tools")
    build = build.split("## Verdicts")[0]
    assert "| lukvle1 | n=10^3 |" in dispatch and "2.00x" in dispatch
    assert "99" not in main and "98" not in main  # not in the main tables
    assert "98" not in dispatch
    # CasADi / sd / sd with CasADi's Ipopt: totals 1.0 s, 1.0 s, 0.5 s; Ipopt itself
    line = next(ln for ln in build.splitlines() if ln.startswith("| lukvle1"))
    assert "1.00x / 0.50x" in line and "/ 100.0 ms" in line and "3.14 / 3.14.19" in line
    monkeypatch.setattr(nlp, "run_all", fake_rows(True))
    assert nlp.main(["--quick", "--problems", "lukvle1"]) == 1
    assert "(WRONG)" in capsys.readouterr().out


def test_main_without_casadi(monkeypatch, capsys, tmp_path) -> None:
    seen = []

    def run_all(problems, sizes, tools, timeout=0.0, dispatch="sync"):
        seen.append(list(tools))
        return []

    monkeypatch.setattr(nlp, "run_all", run_all)
    monkeypatch.setattr(
        nlp, "import_problem", lambda m: "ModuleNotFoundError: no casadi" if m == "casadi" else None
    )
    assert nlp.main(["--quick", "--json", str(tmp_path / "rows.json")]) == 0
    out = capsys.readouterr().out
    assert "casadi is not importable (ModuleNotFoundError: no casadi)" in out
    assert "Traceback" not in out and "## sparsediff / CasADi" not in out
    monkeypatch.setattr(nlp, "import_problem", lambda module: None)
    assert nlp.main(["--quick", "--no-casadi"]) == 0
    assert seen == [["sparsediff"], ["sparsediff"]]
    assert (tmp_path / "rows.json").read_text().strip() == "[]"


def test_report_runs_the_nlp_stage() -> None:
    from benchmarks import report

    assert "nlp" in report.STAGES and "nlp" in report.STAGE_TITLES
    assert report.stage_argv("nlp", quick=True)[-1] == "--quick"
    assert report.stage_argv("nlp", no_asdex=True)[-1] == "--no-casadi"
    assert report.stage_argv("solvers", no_asdex=True)[-1] == "--no-asdex"


# --------------------------------------------------------------------------------------------
# A tiny solve with both tools, in this process
# --------------------------------------------------------------------------------------------


def test_tiny_solve_in_process() -> None:
    pytest.importorskip("cyipopt", reason="cyipopt is not installed")
    pytest.importorskip("casadi", reason="casadi is not installed")
    rows = []
    with jax.enable_x64(True):
        for tool in nlp.TOOLS:
            row = nlp.finish_row(nlp.MEASURE[tool]("lukvle1", 50))
            row.update(run="cold", size_label=nlp.size_label("lukvle1", 50))
            rows.append(row)
    for r in rows:
        assert r["success"], r["status"]
        assert r["iterations"] > 0 and r["deriv_per_iter_ms"] > 0
        assert r["total_s"] == pytest.approx(
            r["import_s"] + r["prepare_s"] + r["compile_s"] + r["solve_s"]
        )
        assert r["linear_solver"] == "mumps"
    assert rows[0]["compile_s"] == 0.0 and rows[1]["compile_s"] > 0.0
    found = V.nlp_verdicts(rows, quick=True, deriv_from_n=10)
    assert _find(found, "lukvle1: objectives agree").status == V.PASS
    assert V.exit_code(found, quick=True) == 0


def test_child_process_gets_the_cache_directory(tmp_path) -> None:
    pytest.importorskip("cyipopt", reason="cyipopt is not installed")
    row = nlp.run_case("sparsediff", "lukvle1", 20, "cold", str(tmp_path), timeout=120)
    assert "error" not in row, row.get("error")
    assert row["success"] and row["run"] == "cold" and row["process_s"] >= row["total_s"]
    # the package's SPARSEDIFF_CACHE=off is overridden in the child: caches go to tmp_path
    assert str(row["jax_cache_dir"]).startswith(str(tmp_path))


def _record_cases(monkeypatch) -> list[tuple]:
    """``run_case`` replaced: each case recorded as (tool, size, run, dispatch, build)."""
    calls: list[tuple] = []

    def run_case(tool, problem, size, run, cache_dir, timeout, dispatch, build="default"):
        calls.append((tool, size, run, dispatch, build))
        return {"tool": tool, "problem": problem, "size": size, "run": run, "error": "fake"}

    monkeypatch.setattr(nlp, "run_case", run_case)
    return calls


def test_run_all_compares_dispatch_at_the_smallest_size(monkeypatch) -> None:
    calls = _record_cases(monkeypatch)
    nlp.run_all(["chain"], {"chain": (10, 20)}, ["casadi", "sparsediff"], dispatch="sync",
                compare_build=False)  # fmt: skip
    others = [c for c in calls if c[3] != "sync"]
    assert others == [("sparsediff", 10, "warm", "async", "default")]
    assert len(calls) == 2 * 2 * 2 + 1
    calls.clear()
    nlp.run_all(["chain"], {"chain": (10,)}, ["sparsediff"], dispatch="async")
    assert [c[3] for c in calls] == ["async", "async", "sync"]
    calls.clear()
    nlp.run_all(["chain"], {"chain": (10,)}, ["casadi"], dispatch="sync")
    assert [c[0] for c in calls] == ["casadi", "casadi"]


def test_run_all_runs_casadis_ipopt_at_every_size(monkeypatch) -> None:
    from sparsediff import ipopt_capi

    calls = _record_cases(monkeypatch)
    monkeypatch.setattr(ipopt_capi, "casadi_library", lambda: "/site/casadi/libipopt.so")
    monkeypatch.setattr(ipopt_capi, "library_path", lambda: "libipopt.so.1")
    both = ["casadi", "sparsediff"]
    nlp.run_all(["chain"], {"chain": (10, 20)}, both, compare_dispatch=False)
    assert [c for c in calls if c[4] != "default"] == [
        ("sparsediff", 10, "warm", "sync", "casadi"),
        ("sparsediff", 20, "warm", "sync", "casadi"),
    ]
    # not where sparsediff loads casadi's library anyway, nor without CasADi's runs
    calls.clear()
    monkeypatch.setattr(ipopt_capi, "library_path", lambda: "/site/casadi/libipopt.so")
    nlp.run_all(["chain"], {"chain": (10,)}, both, compare_dispatch=False)
    assert len(calls) == 4 and all(c[4] == "default" for c in calls)
    calls.clear()
    monkeypatch.setattr(ipopt_capi, "library_path", lambda: "libipopt.so.1")
    nlp.run_all(["chain"], {"chain": (10,)}, ["sparsediff"], compare_dispatch=False)
    assert all(c[4] == "default" for c in calls)


def test_child_environment_names_the_ipopt_library(monkeypatch) -> None:
    from sparsediff import ipopt_capi

    monkeypatch.setenv("SPARSEDIFF_IPOPT_LIBRARY", "/callers/libipopt.so")
    monkeypatch.setattr(ipopt_capi, "casadi_library", lambda: "/site/casadi/libipopt.so")
    env = nlp.child_environment("/tmp/x")  # the library this process would load
    assert env["SPARSEDIFF_IPOPT_LIBRARY"] == "/callers/libipopt.so"
    assert env[nlp.BUILD_ENV] == "default"
    env = nlp.child_environment("/tmp/x", "sync", "casadi")
    assert env["SPARSEDIFF_IPOPT_LIBRARY"] == "/site/casadi/libipopt.so"
    with pytest.raises(ValueError, match="ipopt_build='mine'"):
        nlp.child_environment("/tmp/x", "sync", "mine")
    monkeypatch.setattr(ipopt_capi, "casadi_library", lambda: None)
    with pytest.raises(RuntimeError, match="casadi's Ipopt library was not found"):
        nlp.child_environment("/tmp/x", "sync", "casadi")


def test_child_environment_carries_the_dispatch() -> None:
    assert nlp.child_environment("/tmp/x")[nlp.DISPATCH_ENV] == "sync"
    assert nlp.child_environment("/tmp/x", "async")[nlp.DISPATCH_ENV] == "async"
