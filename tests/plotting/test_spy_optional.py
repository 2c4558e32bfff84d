"""``sparsediff.spy`` without matplotlib: sparsediff imports, and drawing says what to install."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sparsediff as sd
from sparsediff import SparsityPattern
from sparsediff.plotting.spyplot import MATPLOTLIB_MISSING


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # "import matplotlib" now fails
    with pytest.raises(ImportError) as info:
        sd.spy(SparsityPattern(np.arange(3), np.arange(3), (3, 3)))
    assert str(info.value) == MATPLOTLIB_MISSING
    assert 'pip install "sparsediff[plot]"' in str(info.value)


def test_cli_plot_without_matplotlib_is_one_line(monkeypatch, capsys, tmp_path):
    from sparsediff.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    path = SparsityPattern([0], [0], (1, 1)).save(tmp_path / "p.npz")
    assert main(["color", path, "--plot", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip() == 'sparsediff: error: --plot needs matplotlib: pip install "sparsediff[plot]"'
    )


def test_spy_is_exported_and_matplotlib_is_not_imported_eagerly():
    code = "import sys, sparsediff; print('matplotlib' in sys.modules, sparsediff.spy.__name__)"
    src = str(Path(sd.__file__).resolve().parent.parent)
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": src},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "spy"]
    assert "spy" in sd.__all__
