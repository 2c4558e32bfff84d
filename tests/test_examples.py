"""The example scripts: quick by default, saying what they do while they run."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_diffrax_example_defaults_to_a_small_grid_and_has_full():
    res = _run("diffrax_brusselator.py", "--help")
    assert res.returncode == 0, res.stderr
    assert "--full" in res.stdout and "--grid" in res.stdout
    # module constants, read without importing (the script switches JAX to 64 bits)
    tree = ast.parse((ROOT / "examples" / "diffrax_brusselator.py").read_text())
    namespace = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        if node.targets[0].id in ("DEFAULT_GRID", "FULL_GRID", "DENSE_MAX")
    }
    # the default grid is small enough for the dense comparison; --full is the large one
    assert 2 * namespace["DEFAULT_GRID"] ** 2 <= namespace["DENSE_MAX"]
    assert namespace["FULL_GRID"] == 64


def test_diffrax_example_announces_each_stage():
    pytest.importorskip("diffrax", reason="diffrax is not installed (extra 'test')")
    pytest.importorskip("sparsax", reason="sparsax is not installed (extra 'lineax')")
    res = _run("diffrax_brusselator.py", "--grid", "4")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    expected = [
        "2D Brusselator, N = 4 (n = 32 unknowns)",
        "SparseLU: first call (compilation and integration) ...",
        "SparseLU: second call (integration only) ...",
        "SparseLU: first call ",
        "dense LU: first call (compilation and integration) ...",
        "dense LU: second call (integration only) ...",
        "dense LU: first call ",
    ]
    assert len(lines) == len(expected), res.stdout
    for line, start in zip(lines, expected):
        assert line.startswith(start), res.stdout
    difference = float(lines[-1].rsplit("max |difference| ", 1)[1])
    assert difference < 1e-8


def test_distributed_newton_krylov_converges_on_two_processes():
    pytest.importorskip("lineax", reason="lineax is not installed (extra 'lineax')")
    pytest.importorskip("sparsax", reason="sparsax is not installed (extra 'lineax')")
    res = _run("distributed_newton_krylov.py")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    lines = res.stdout.splitlines()
    assert "Bratu, 32 x 32 grid on 8 devices of 2 processes" in lines
    newton = [ln for ln in lines if ln.strip().startswith("Newton ")]
    assert 2 <= len(newton) <= 6, res.stdout
    assert lines[-1].startswith("converged in ")
