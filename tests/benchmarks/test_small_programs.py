"""The small-program benchmark runs, checks its patterns and prints its table."""

from __future__ import annotations

from benchmarks import small_programs, verdicts


def test_rows_table_and_verdicts_without_asdex():
    rows = small_programs.run(use_asdex=False, repeats=1)
    assert len(rows) == len(small_programs.PROGRAMS) * 2 * 2
    assert {r["mode"] for r in rows} == {"repeat", "first"}
    assert all(r["sd_missing"] == 0 and r["sd_time"] > 0 for r in rows)
    assert {r["equations"] for r in rows if r["program"] == "loop30"} >= {1596}
    table = small_programs.format_table(rows)
    assert "loop30" in table and "new function" in table
    found = verdicts.small_program_verdicts(rows)
    assert verdicts.exit_code(found) == 0  # asdex not run: the speed targets are N/A


def test_first_calls_forget_earlier_detections(monkeypatch):
    """``first`` measures a program sparsediff has never seen: before each timed call
    its trace cache and remembered constants are emptied (outside the timing)."""
    from sparsediff.detection import known_eval, trace_cache

    seen = []
    original = small_programs._forget

    def forget():
        original()
        seen.append((len(trace_cache._ENTRIES), len(known_eval._MEMOS)))

    monkeypatch.setattr(small_programs, "_forget", forget)
    rows = small_programs.run(use_asdex=False, repeats=2)
    firsts = [r for r in rows if r["mode"] == "first"]
    assert not any(r.get("sd_error") for r in rows)
    assert len(seen) == 2 * len(firsts)
    assert all(s == (0, 0) for s in seen)
