"""Tests of ``benchmarks.report`` on fixed rows: no benchmark is run."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from benchmarks import report

ROWS = json.loads((Path(__file__).with_name("quick_rows.json")).read_text())
META = {
    "date": "2030-01-02 03:04 UTC",
    "cpu": "Test CPU 9000",
    "cores": 8,
    "usable_cores": 8,
    "ram_bytes": 16 * 2**30,
    "os": "TestOS-1.0",
    "python": "3.11.0",
    "versions": {"jax": "0.10.2", "numpy": "2.4.6", "asdex": "0.5.1"},
    "command": "python -m benchmarks.report --quick",
    "stages": {
        "detection": {"command": "python -m benchmarks.detection --quick", "rc": 0, "wall": 25.0}
    },
}
TEXTS = {
    "detection": "# Sparsity detection: sparsediff vs asdex\n\n## diff\n\nDETECTION-TABLE",
    "coloring": "## Coloring: sparsediff vs asdex 0.5.1\n\nCOLORING-TABLE",
    "evaluation": "## Evaluation\n\n### diff\n\nEVALUATION-TABLE",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _table(markdown: str) -> dict[str, list[str]]:
    """The cells of a Markdown table by the text of its first column."""
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    out = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        out[cells[0]] = cells
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out_dir = tmp_path_factory.mktemp("report")
    res = report.write_report(
        ROWS["detection"], ROWS["evaluation"], TEXTS, out_dir, meta=META, quick=True
    )
    return out_dir, res


def test_files_exist(written: tuple[Path, dict]) -> None:
    out_dir, res = written
    assert res["markdown"] == out_dir / "results.md"
    assert res["json"] == out_dir / "results.json"
    for name in ("results.md", "results.json"):
        assert (out_dir / name).stat().st_size > 0


def test_headline_rows_and_ratios(written: tuple[Path, dict]) -> None:
    table = _table(written[1]["headline"])
    # detection's problems first, then those only in the evaluation; no VJP / JVP cost rows
    assert list(table) == ["diff (J)", "brusselator (J)", "scan (J)", "dense_row_col (J)"]
    # the largest size both benchmarks and both tools ran
    assert table["diff (J)"][1:] == [
        "n=10^4", "2.0 ms", "30.0 ms", "15.0x", "100 us", "200 us", "2.00x", "200.0 ms",
        "2,000x", "2 / 2",
    ]  # fmt: skip
    # N=64 is in both benchmarks but asdex skipped it: N=32 is shown
    assert table["brusselator (J)"][1:] == [
        "N=32 (n=2,048)", "5.0 ms", "40.0 ms", "8.00x", "150 us", "60 us", "0.40x", "150.0 ms",
        "1,000x", "12 / 12",
    ]  # fmt: skip
    # detection only
    assert table["scan (J)"][1:] == [
        "L=10^3 (n=1,000)", "10.0 ms", "100.0 ms", "10.0x", "-", "-", "-", "-", "-", "-",
    ]  # fmt: skip
    # evaluation only, dense skipped, bicoloring
    assert table["dense_row_col (J)"][1:] == [
        "n=10^3", "-", "-", "-", "150 us", "750 us", "5.00x", "skipped", "-",
        "3 (2+1) / 1,000",
    ]  # fmt: skip


def test_headline_values(written: tuple[Path, dict]) -> None:
    rows = {h["problem"]: h for h in written[1]["headline_rows"]}
    assert rows["diff"]["size"] == 10_000
    assert rows["diff"]["det_ratio"] == pytest.approx(15.0)
    assert rows["diff"]["eval_ratio"] == pytest.approx(2.0)
    assert rows["diff"]["dense_ratio"] == pytest.approx(2000.0)
    assert rows["brusselator"]["size"] == 32
    assert rows["dense_row_col"]["dense"] is None


def test_results_md(written: tuple[Path, dict]) -> None:
    out_dir, res = written
    md = (out_dir / "results.md").read_text()
    for text in ("2030-01-02 03:04 UTC", "Test CPU 9000, 8 cores, 16 GiB RAM", "jax 0.10.2"):
        assert text in md
    assert "`python -m benchmarks.report --quick`" in md
    assert "Quick run" in md
    assert res["headline"] in md
    # one section per benchmark, in order, headings demoted below the section's
    pos = [md.index(f"{t}-TABLE") for t in ("DETECTION", "COLORING", "EVALUATION")]
    assert pos == sorted(pos)
    assert "## Sparsity detection\n" in md
    assert "### Sparsity detection: sparsediff vs asdex" in md
    assert "#### diff" in md and "### Evaluation" in md
    assert "`python -m benchmarks.detection --quick` (exit code 0, 25 s)" in md
    if res["plots"]:
        assert "![evaluation](evaluation.png)" in md


def test_results_json(written: tuple[Path, dict]) -> None:
    data = json.loads((written[0] / "results.json").read_text())
    assert data["detection"] == ROWS["detection"]
    assert data["evaluation"] == ROWS["evaluation"]
    assert data["meta"]["cpu"] == "Test CPU 9000"
    assert [h["problem"] for h in data["headline"]] == [
        "diff", "brusselator", "scan", "dense_row_col",
    ]  # fmt: skip


def test_pngs_are_valid_images(written: tuple[Path, dict]) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.image

    out_dir, res = written
    assert [p.name for p in res["plots"]] == list(report.PLOTS)
    for name in report.PLOTS:
        data = (out_dir / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE
        width, height = struct.unpack(">II", data[16:24])
        assert width > 300 and height > 200
        img = matplotlib.image.imread(out_dir / name)
        assert img.shape[:2] == (height, width)


def test_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    res = report.write_report(ROWS["detection"], [], {"detection": "x"}, tmp_path, meta=META)
    assert res["plots"] == []
    assert not list(tmp_path.glob("*.png"))
    md = (tmp_path / "results.md").read_text()
    assert "## Plots" not in md
    assert list(_table(res["headline"])) == ["diff (J)", "brusselator (J)", "scan (J)"]


def test_empty_rows(tmp_path: Path) -> None:
    res = report.write_report([], [], {}, tmp_path, meta=META)
    assert list(_table(res["headline"])) == []
    assert (tmp_path / "results.md").exists()


def test_update_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# T\n\nintro\n\n{report.README_START}\nold table\n{report.README_END}\n\nafter\n"
    )
    assert report.update_readme(readme, "| new |\n")
    assert readme.read_text() == (
        f"# T\n\nintro\n\n{report.README_START}\n| new |\n{report.README_END}\n\nafter\n"
    )
    assert report.update_readme(readme, "| new |")  # idempotent
    assert readme.read_text().count("| new |") == 1

    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    assert not report.update_readme(plain, "| new |")
    assert plain.read_text() == "no markers\n"


def test_repository_readme_has_markers() -> None:
    text = (report.REPO_ROOT / "README.md").read_text()
    assert text.count(report.README_START) == 1
    assert text.index(report.README_START) < text.index(report.README_END)
    assert "python3 -m benchmarks.report" in text


def test_demote_headings() -> None:
    text = "# A\n\ntext # not a heading\n## B\n```\n#no\n```\n###### F"
    assert report.demote_headings(text) == (
        "### A\n\ntext # not a heading\n#### B\n```\n#no\n```\n###### F"
    )
    assert report.demote_headings("no headings") == "no headings"


def test_machine_info() -> None:
    info = report.machine_info()
    assert info["cores"] and info["python"]
    assert set(report.VERSIONS) <= set(info["versions"])


def test_keep_others_takes_earlier_stages_with_their_commit(tmp_path: Path) -> None:
    """``--keep-others``: stages not rerun come from the earlier results.json, commit named."""
    meta = {"date": "2026-01-01", "git_commit": "aaaaaaa", "stages": {
        "fuzz": {"command": "python -m benchmarks.fuzz --n 9", "rc": 0, "wall": 3.0,
                 "commit": "aaaaaaa", "date": "2026-01-01"}}}  # fmt: skip
    report.write_report([], [], {"fuzz": "# Fuzz\n\n9 programs"}, tmp_path, meta=meta)
    kept = report.kept_stages(tmp_path / "results.json", {"detection"}, quick=False)
    assert set(kept) == {"fuzz"}
    text, rows, info = kept["fuzz"]
    assert "9 programs" in text and rows is None and info["commit"] == "aaaaaaa"
    assert report.kept_stages(tmp_path / "results.json", {"fuzz"}, quick=False) == {}
    assert report.kept_stages(tmp_path / "results.json", set(), quick=True) == {}  # kind differs
    assert report.kept_stages(tmp_path / "missing.json", set(), quick=False) == {}
    new_meta = {"date": "2026-02-02", "git_commit": "bbbbbbb", "stages": {"fuzz": info}}
    out = report.write_report([], [], {"fuzz": text}, tmp_path / "new", meta=new_meta)
    md = out["markdown"].read_text()
    assert "measured by other runs: fuzz" in md and "commit aaaaaaa, date 2026-01-01" in md


def test_merge_assembles_stages_of_separate_runs(tmp_path: Path) -> None:
    """``--merge``: no stage runs; each section comes from the file that recorded it."""
    for name, commit, rc in (("fuzz", "aaaaaaa", 0), ("nlp", "bbbbbbb", 1)):
        meta = {"date": "2026-01-01", "git_commit": commit, "stages": {
            name: {"command": f"python -m benchmarks.{name}", "rc": rc, "wall": 1.0}}}  # fmt: skip
        report.write_report([], [], {name: f"# {name}\n\nbody of {name}"}, tmp_path / name,
                            meta=meta)  # fmt: skip
    out = tmp_path / "merged"
    rc = report.main(["--merge", str(tmp_path / "fuzz" / "results.json"),
                      str(tmp_path / "nlp" / "results.json"), "--out-dir", str(out)])  # fmt: skip
    md = (out / "results.md").read_text()
    assert "body of fuzz" in md and "body of nlp" in md
    assert "commit aaaaaaa" in md and "commit bbbbbbb" in md
    assert rc == 1  # the nlp stage had failed
