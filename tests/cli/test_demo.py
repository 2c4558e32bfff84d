"""The demo and the command line, run through their entry points."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "sparsediff", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_demo_small_grid_verifies():
    res = run("demo", "--grid", "8")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Detection" in out and "Coloring" in out and "AD passes" in out
    assert "instead of 128 for dense jax.jacfwd" in out
    assert "dense jax.jacfwd:" in out
    assert "passed" in out


def test_demo_bad_grid_is_one_clear_line():
    res = run("demo", "--grid", "1")
    assert res.returncode == 2
    assert res.stderr.strip() == "sparsediff: error: --grid must be at least 2"


def test_help_has_example():
    res = run("demo", "--help")
    assert res.returncode == 0
    assert "example: sparsediff demo --grid 128" in res.stdout
