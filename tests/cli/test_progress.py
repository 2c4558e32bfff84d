"""Stage progress on stderr, and ``--quiet``."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from sparsediff import SparsityPattern
from sparsediff.cli import progress as progress_module
from sparsediff.cli.progress import Progress

from .helpers import call


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_stage_prints_nothing():
    stream = io.StringIO()
    with Progress(stream=stream, delay=5.0).stage("quick"):
        pass
    assert stream.getvalue() == ""


def test_long_stage_reports_on_a_log():
    stream = io.StringIO()
    with Progress(stream=stream, delay=0.0).stage("detecting sparsity"):
        time.sleep(0.1)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("sparsediff: detecting sparsity… (")
    assert lines[-1].startswith("sparsediff: detecting sparsity: done in ")


def test_long_stage_spins_on_a_terminal():
    stream = _Terminal()
    with Progress(stream=stream, delay=0.0).stage("coloring"):
        time.sleep(0.35)
    text = stream.getvalue()
    assert text.count("\r") >= 3  # redrawn in place
    assert "coloring…" in text and " s" in text
    assert text.endswith("coloring: done in " + text.rsplit("done in ", 1)[1])


def test_failed_stage_clears_the_terminal_line():
    stream = _Terminal()
    with pytest.raises(RuntimeError):
        with Progress(stream=stream, delay=0.0).stage("tracing"):
            time.sleep(0.05)
            raise RuntimeError("x")
    assert stream.getvalue().endswith("\r\033[K")


def test_disabled_progress_prints_nothing():
    stream = io.StringIO()
    with Progress(enabled=False, stream=stream, delay=0.0).stage("x"):
        time.sleep(0.05)
    assert stream.getvalue() == ""


def test_cli_reports_stages_unless_quiet(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    path = SparsityPattern(np.arange(5), np.arange(5), (5, 5)).save(tmp_path / "d.npz")
    code, _, err = call(capsys, "color", path)
    assert code == 0
    assert "column coloring: done in" in err
    code, _, err = call(capsys, "color", path, "--quiet")
    assert code == 0 and err == ""
    code, _, err = call(capsys, "--quiet", "color", path)
    assert code == 0 and err == ""
