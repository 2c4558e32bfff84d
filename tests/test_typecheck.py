"""The sources type-check with mypy (configured in pyproject.toml), and ship py.typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "sparsediff"


def test_src_type_checks_with_mypy():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install '.[test]')")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def test_py_typed_marker_is_in_the_package():
    assert (PACKAGE / "py.typed").is_file()


def test_wheel_includes_py_typed():
    wheel = pytest.importorskip(
        "hatchling.builders.wheel", reason="hatchling is not installed (pip install '.[test]')"
    )
    builder = wheel.WheelBuilder(str(ROOT))
    files = {f.distribution_path for f in builder.recurse_included_files()}
    assert "sparsediff/py.typed" in files
    assert "sparsediff/__init__.py" in files
