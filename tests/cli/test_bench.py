"""``sparsediff bench``: only the error path and the command it builds (the suites are slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sparsediff.cli import bench
from sparsediff.cli.common import CLIError

from .helpers import SRC, assert_one_line_error, call, run


def test_bench_help_through_the_entry_point():
    res = run("bench", "--help")
    assert res.returncode == 0
    assert "example: sparsediff bench --quick" in res.stdout
    assert "--quick" in res.stdout and "--root" in res.stdout


def test_bench_without_checkout_is_one_line(tmp_path):
    res = run("bench", "--root", str(tmp_path), cwd=str(tmp_path))
    assert_one_line_error(res.stderr, 1, res.returncode, "need a source checkout")
    assert res.stdout == ""


def test_bench_root_must_hold_all_suites(tmp_path, capsys):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "__init__.py").write_text("")
    (tmp_path / "benchmarks" / "detection.py").write_text("")
    code, _, err = call(capsys, "bench", "--root", str(tmp_path))
    assert_one_line_error(err, 1, code, "need a source checkout")


def test_find_benchmarks_in_a_checkout(tmp_path, monkeypatch):
    # the package may be installed (not next to benchmarks/): look from the checkout
    repo = Path(__file__).resolve().parents[2]
    assert (bench.find_benchmarks(str(repo)) / "benchmarks" / "detection.py").is_file()
    monkeypatch.chdir(repo)
    assert (bench.find_benchmarks() / "benchmarks" / "detection.py").is_file()
    with pytest.raises(CLIError):
        bench.find_benchmarks(str(tmp_path))


def test_bench_runs_each_suite_from_the_root(monkeypatch, capsys):
    calls = []

    def fake_call(command, cwd, env):
        calls.append((command, cwd, env["PYTHONPATH"]))
        return 0

    monkeypatch.setattr(subprocess, "call", fake_call)
    args = SimpleNamespace(root=None, only=None, quick=True, no_asdex=True)
    assert bench.run_bench(args, out=lambda *a: None) == 0
    assert [c[0][2] for c in calls] == [f"benchmarks.{s}" for s in bench.SUITES]
    assert all(c[0][0] == sys.executable and c[0][3:] == ["--quick", "--no-asdex"] for c in calls)
    assert all((c[1] / "benchmarks").is_dir() for c in calls)

    calls.clear()
    monkeypatch.setattr(subprocess, "call", lambda command, cwd, env: calls.append(1) or 3)
    args = SimpleNamespace(root=None, only=["coloring"], quick=False, no_asdex=False)
    assert bench.run_bench(args, out=lambda *a: None) == 3
    assert len(calls) == 1
    assert "benchmarks.coloring exited with status 3" in capsys.readouterr().err


def _fake_checkout(root: Path) -> Path:
    """A checkout whose suites only print the flags they were given."""
    folder = root / "benchmarks"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    for name in bench.SUITES:
        (folder / f"{name}.py").write_text(
            f"import sys\nprint('{name} got', ' '.join(sys.argv[1:]) or 'no flags')\n"
        )
    return root


def _bench_without_asdex(tmp_path, *flags):
    hidden = tmp_path / "hide"
    (hidden / "asdex").mkdir(parents=True)
    (hidden / "asdex" / "__init__.py").write_text(
        "raise ImportError('No module named asdex (hidden by the test)')\n"
    )
    root = _fake_checkout(tmp_path / "checkout")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([SRC, str(hidden)])
    return subprocess.run(
        [sys.executable, "-m", "sparsediff", "bench", "--root", str(root), *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_bench_without_asdex_says_so_once(tmp_path):
    res = _bench_without_asdex(tmp_path, "--quick")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    own = [line for line in res.stdout.splitlines() if not line.startswith("== ")]
    notes = [line for line in own if " got " not in line]  # not the suites' output
    assert len(notes) == 1 and notes[0].startswith("asdex is not available ("), res.stdout
    assert "hidden by the test" in notes[0]
    for name in bench.SUITES:  # every suite runs without asdex
        assert f"{name} got --quick --no-asdex" in res.stdout


def test_bench_no_asdex_flag_skips_the_check(tmp_path):
    res = _bench_without_asdex(tmp_path, "--no-asdex")
    assert res.returncode == 0, res.stderr
    assert "asdex is not available" not in res.stdout
    assert "detection got --no-asdex" in res.stdout
