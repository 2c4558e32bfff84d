"""``sparsediff color``: color a saved pattern, report colors, bound and time; and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from sparsediff import SparsityPattern, color, save_coloring

from .helpers import assert_one_line_error, call, run


def _arrowhead(n: int) -> SparsityPattern:
    rows = np.r_[np.zeros(n, int), np.arange(1, n), np.arange(1, n)]
    cols = np.r_[np.arange(n), np.zeros(n - 1, int), np.arange(1, n)]
    return SparsityPattern(rows, cols, (n, n))


def _tridiagonal(n: int) -> SparsityPattern:
    i = np.arange(n)
    rows = np.r_[i, i[1:], i[:-1]]
    cols = np.r_[i, i[:-1], i[1:]]
    return SparsityPattern(rows, cols, (n, n))


@pytest.fixture
def arrow_file(tmp_path):
    return _arrowhead(10).save(tmp_path / "arrow.npz")


@pytest.fixture
def tri_file(tmp_path):
    return _tridiagonal(12).save(tmp_path / "tri.npz")


@pytest.mark.parametrize(
    ("problem", "counts"),
    [
        ("column", "colors:       10 (JVPs)"),
        ("row", "colors:       10 (VJPs)"),
        ("bidirectional", "colors:       3 = 2 forward (JVPs) + 1 reverse (VJP)"),
        ("acyclic_bicoloring", "colors:       3 = 2 forward (JVPs) + 1 reverse (VJP)"),
    ],
)
def test_color_jacobian_problems(capsys, arrow_file, problem, counts):
    code, out, err = call(capsys, "color", arrow_file, "--problem", problem, "--quiet")
    assert code == 0, err
    assert counts in out
    assert "lower bound:" in out and "time:" in out and "order:" in out
    assert "ColoringResult(" in out  # the colored preview


@pytest.mark.parametrize(
    ("problem", "colors"), [("star", 3), ("symmetric", 3), ("acyclic", 2), ("column", 3)]
)
def test_color_hessian_problems(capsys, tri_file, problem, colors):
    code, out, err = call(capsys, "color", tri_file, "--problem", problem)
    assert code == 0, err
    assert f"colors:       {colors} (" in out


def test_problem_names_are_the_python_apis(capsys, tri_file):
    code, out, _ = call(capsys, "color", "--help")
    assert code == 0
    assert "{column,row,star,acyclic,bidirectional,acyclic_bicoloring}" in out
    # the old spelling is an alias: same coloring as --problem star
    _, star, _ = call(capsys, "color", tri_file, "--problem", "star", "-q")
    _, symmetric, _ = call(capsys, "color", tri_file, "--problem", "symmetric", "-q")
    strip = [line for line in star.splitlines() if not line.startswith("time:")]
    assert strip == [line for line in symmetric.splitlines() if not line.startswith("time:")]
    assert "problem:      symmetric star coloring" in star


def test_one_color_is_singular(capsys, tmp_path):
    diagonal = SparsityPattern(np.arange(4), np.arange(4), (4, 4)).save(tmp_path / "d.npz")
    for problem, unit in (("column", "JVP"), ("row", "VJP"), ("star", "Hessian-vector product")):
        code, out, err = call(capsys, "color", diagonal, "--problem", problem)
        assert code == 0, err
        assert f"colors:       1 ({unit})" in out


@pytest.mark.parametrize("order", ["natural", "smallest_last", "random:3", "best"])
def test_color_orders(capsys, tri_file, order):
    code, out, err = call(capsys, "color", tri_file, "--order", order)
    assert code == 0, err
    assert "lower bound:  3" in out
    if order == "random:3":  # a random order may need more colors on a band
        assert "random(seed=3)" in out
    else:
        assert "colors:       3 (JVPs)" in out and "optimal" in out
    if order == "best":
        assert "best of orders" in out


def test_color_plot(capsys, arrow_file, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "c.png"
    code, out, err = call(
        capsys, "color", arrow_file, "--problem", "bidirectional", "--plot", str(png)
    )
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_color_errors(capsys, tmp_path, arrow_file):
    rect = SparsityPattern([0, 1], [0, 2], (2, 3)).save(tmp_path / "rect.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive at all")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.arange(3))
    coloring_file = save_coloring(color(_arrowhead(4)), tmp_path / "col.npz")
    cases = [
        ([str(tmp_path / "missing.npz")], 2, "sparsity pattern: no such file"),
        ([str(garbage)], 1, "it is a text file, not a .npz archive"),
        ([str(other)], 1, "not a sparsediff file"),
        ([str(tmp_path)], 2, "it is a directory, not a file"),
        ([coloring_file], 1, "it holds a saved coloring"),
        ([rect, "--problem", "symmetric"], 2, "needs a square (Hessian) pattern"),
        ([arrow_file, "--order", "sideways"], 2, "bad --order 'sideways'"),
        ([arrow_file, "--order", "sideways"], 2, "random (or random:SEED)"),
        ([arrow_file, "--order", "sideways"], 2, "reversed:NAME"),
        ([arrow_file, "--order", "sideways"], 2, "or best (the best of several orders)"),
        ([rect, "--problem", "star"], 2, "--problem star needs a square"),
        ([arrow_file, "--problem", "diagonal"], 2, "invalid choice: 'diagonal'"),
        ([arrow_file, "--plot", str(tmp_path / "x.unknownext")], 2, "cannot write the plot"),
    ]
    for args, status, fragment in cases:
        code, out, err = call(capsys, "color", *args)
        assert_one_line_error(err, status, code, fragment)
        assert out == ""


def test_color_error_through_the_entry_point(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("nonsense")
    res = run("color", str(bad))
    assert_one_line_error(res.stderr, 1, res.returncode, "it is a text file, not a .npz archive")
