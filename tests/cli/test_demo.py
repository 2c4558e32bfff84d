"""``sparsediff demo``: the built-in problems, run end to end."""

from __future__ import annotations

import importlib.util

import pytest

from .helpers import assert_one_line_error, call, run


def test_demo_small_grid_verifies():
    res = run("demo", "--grid", "8")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Detection" in out and "Coloring" in out and "AD passes" in out
    assert "instead of 128 for dense jax.jacfwd" in out
    assert "dense jax.jacfwd:" in out
    assert "passed" in out
    # the timing ratio is said in words, with the pass count pluralised
    assert "eval / (passes × pass)" not in out
    assert "× the time of " in out and " run one after another (below 1:" in out


def test_demo_bad_grid_is_one_clear_line():
    res = run("demo", "--grid", "1")
    assert res.returncode == 2
    assert res.stderr.strip() == "sparsediff: error: --grid must be at least 2"


def test_help_has_example():
    res = run("demo", "--help")
    assert res.returncode == 0
    assert "example: sparsediff demo --grid 128" in res.stdout
    for name in ("brusselator", "rosenbrock", "conv", "arrowhead"):
        assert name in res.stdout


@pytest.mark.parametrize(
    ("problem", "size", "expected"),
    [
        ("rosenbrock", "12", ["Hessian", "34 nonzeros", "mode 'column'", "dense jax.hessian:"]),
        ("conv", "5", ["5×5 image", "169 nonzeros", "9 AD passes (lower bound 9)"]),
        ("arrowhead", "12", ["34 nonzeros", "mode 'bidirectional'", "3 AD passes (2 forward"]),
    ],
)
def test_demo_problems_verify(capsys, tmp_path, problem, size, expected):
    args = ["demo", "--problem", problem, "--size", size, "--quiet"]
    plot = tmp_path / f"{problem}.png"
    if problem == "arrowhead" and importlib.util.find_spec("matplotlib") is not None:
        args += ["--plot", str(plot)]
    code, out, err = call(capsys, *args)
    assert code == 0, err
    assert err == ""
    assert "passed" in out
    for text in expected:
        assert text in out
    if "--plot" in args:
        assert plot.read_bytes()[:4] == b"\x89PNG"
        assert f"written to {plot}" in out


def test_demo_size_errors(capsys):
    code, _, err = call(capsys, "demo", "--problem", "rosenbrock", "--size", "1")
    assert_one_line_error(err, 2, code, "--size must be at least 2")
    code, _, err = call(capsys, "demo", "--grid", "4", "--size", "4")
    assert_one_line_error(err, 2, code, "not allowed with argument")
    code, _, err = call(capsys, "demo", "--problem", "heat")
    assert_one_line_error(err, 2, code, "invalid choice: 'heat'", "sparsediff demo --help")


def test_demo_plot_to_missing_directory_fails_early(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, err = call(capsys, "demo", "--plot", str(tmp_path / "no" / "p.png"))
    assert_one_line_error(err, 2, code, "no directory")
    assert out == ""
