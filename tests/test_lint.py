"""The code passes ruff's checks and is formatted as ruff formats it (configured in
pyproject.toml), so that CI holds the style the repository promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ["src", "tests", "benchmarks", "examples"]


def _ruff(*args: str, targets: list[str]) -> subprocess.CompletedProcess:
    pytest.importorskip("ruff", reason="ruff is not installed (pip install '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *targets],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_ruff_check_passes():
    res = _ruff("check", targets=[*CODE, "docs"])
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def test_ruff_format_leaves_the_code_unchanged():
    # the docs' code blocks keep their hand-aligned comments
    res = _ruff("format", "--check", targets=CODE)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
