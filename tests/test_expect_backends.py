"""Tests of ``SPARSEDIFF_EXPECT_BACKENDS`` (``tests/expect_backends.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import expect_backends as eb

ROOT = Path(__file__).resolve().parent.parent

INNER = """
import pytest

REASON = 'pardiso-mkl-jax is not installed (extra "pardiso")'
needs_pardiso = pytest.mark.skipif(True, reason=REASON)

@needs_pardiso
def test_pardiso():
    pass

def test_ipopt():
    pytest.importorskip("cyipopt_not_here", reason="cyipopt is not installed (needs Ipopt)")

def test_other_skip():
    pytest.skip("matplotlib is not installed")

def test_runs():
    assert True
"""


def test_expected_backends_parses_and_rejects_typos() -> None:
    assert eb.expected_backends(None) == frozenset()
    assert eb.expected_backends("") == frozenset()
    assert eb.expected_backends(" ipopt, Pardiso ,") == {"ipopt", "pardiso"}
    with pytest.raises(pytest.UsageError, match="unknown backend.*pardisso"):
        eb.expected_backends("ipopt,pardisso")


def test_missing_backend_reads_the_skip_reason() -> None:
    both = frozenset({"ipopt", "pardiso"})
    assert eb.missing_backend('pardiso-mkl-jax is not installed (extra "pardiso")', both) == (
        "pardiso"
    )
    assert eb.missing_backend("cyipopt is not installed (needs Ipopt)", both) == "ipopt"
    assert eb.missing_backend("cyipopt is not installed", frozenset({"pardiso"})) is None
    assert eb.missing_backend("matplotlib is not installed", both) is None


def _run_inner(tmp_path: Path, expect: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {k: v for k, v in os.environ.items() if k != eb.ENV}
    if expect is not None:
        env[eb.ENV] = expect
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-p", "tests.expect_backends", "-p", "no:cacheprovider"]
    cmd += ["-q", "-rfs", "-p", "no:xdist", str(tmp_path / "test_inner.py")]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_skips_pass_without_the_variable(tmp_path: Path) -> None:
    proc = _run_inner(tmp_path, None)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 3 skipped" in proc.stdout
    assert eb.ENV not in proc.stdout


def test_expected_backend_skips_fail(tmp_path: Path) -> None:
    proc = _run_inner(tmp_path, "ipopt,pardiso")
    assert proc.returncode == 1, proc.stdout
    # the skipif mark acts in setup, so pytest counts that failure as an error
    assert "1 failed, 1 passed, 1 skipped, 1 error" in proc.stdout
    assert "expected optional backends: ipopt, pardiso" in proc.stdout
    assert "MISSING: 2 tests skipped for lack of an expected backend" in proc.stdout
    assert "expects the optional backend 'pardiso'" in proc.stdout
    assert "expects the optional backend 'ipopt'" in proc.stdout

    only = _run_inner(tmp_path, "pardiso")
    assert only.returncode == 1
    assert "1 passed, 2 skipped, 1 error" in only.stdout


def test_a_typo_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run_inner(tmp_path, "pardisso")
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage-error status
    assert "unknown backend(s) pardisso" in proc.stdout + proc.stderr
