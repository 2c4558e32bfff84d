"""The scale-out benchmark runs in fresh processes, checks its values and reports."""

from __future__ import annotations

from benchmarks import scaling, verdicts


def test_two_device_counts_on_a_small_grid():
    rows = scaling.run(grid=16, devices=(1, 2), repeats=1)
    assert [r["devices"] for r in rows] == [1, 2]
    assert all("error_text" not in r for r in rows), rows
    assert all(r["nnz"] == r["true_nnz"] == 5 * 16 * 16 - 4 * 16 for r in rows)
    assert rows[1]["block_width"] < rows[0]["block_width"]  # each device holds half
    found = verdicts.scaling_verdicts(rows)
    assert verdicts.exit_code(found) == 0
    text = scaling.report(rows)
    assert "| 2       |   16 |" in text and "Overall: PASS" in text


def test_a_wrong_count_or_value_fails():
    row = {"devices": 2, "grid": 8, "nnz": 287, "true_nnz": 288, "error": 0.0, "matvec_error": 1e-3}
    t = {
        v.target: v
        for v in verdicts.scaling_verdicts([row, {"devices": 4, "grid": 8, "error_text": "boom"}])
    }
    assert t["scaling 2 device(s), grid 8: five-point pattern"].status == verdicts.WRONG
    assert (
        t["scaling 2 device(s), grid 8: J v equal the one-device Jacobian's"].status
        == verdicts.WRONG
    )
    assert t["scaling 4 device(s), grid 8: ran"].status == verdicts.ERROR
