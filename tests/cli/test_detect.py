"""``sparsediff detect``: import a function, detect its pattern, report; and its errors."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from sparsediff import SparsityPattern
from sparsediff.cli.common import UsageError
from sparsediff.cli.inputs import parse_arg_spec, parse_argnums

from .helpers import assert_one_line_error, call, run

MODULE = textwrap.dedent(
    """
    import jax.numpy as jnp

    def diff(x):
        return (x[1:] - x[:-1]) ** 2

    def two(x, y):
        return jnp.sin(x) * y[0] + jnp.cumsum(y)

    def loss(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def with_aux(x):
        return x * 2.0, {"note": 1}

    def branchy(x):
        if x[0] > 0:
            return x
        return -x

    class Model:
        @staticmethod
        def residual(u):
            return u[:, 1:] - u[:, :-1]

    LIMIT = 3
    """
)


@pytest.fixture
def target(tmp_path):
    """Path of a Python file with test functions."""
    path = tmp_path / "cli_functions.py"
    path.write_text(MODULE)
    return str(path)


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A folder holding the module ``sd_cli_target_mod``, made the current directory."""
    (tmp_path / "sd_cli_target_mod.py").write_text(MODULE)
    (tmp_path / "sd_cli_broken_mod.py").write_text("import not_a_real_dependency_xyz\n")
    (tmp_path / "sd_cli_raising_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in ("sd_cli_target_mod", "sd_cli_broken_mod", "sd_cli_raising_mod"):
        sys.modules.pop(name, None)


# ---------------------------------------------------------------------- success
def test_detect_file_target_prints_preview_and_statistics(capsys, target, tmp_path):
    saved = tmp_path / "J.npz"
    code, out, err = call(capsys, "detect", f"{target}:diff", "--arg", "6", "--save", str(saved))
    assert code == 0, err
    assert "SparsityPattern(5×6, nnz=10" in out
    assert "●●⋅⋅⋅⋅" in out
    assert "shape:       5 × 6 (outputs × inputs)" in out
    assert "nonzeros:    10 (density 33.33%)" in out
    assert "per row:     min 2, max 2, mean 2" in out
    assert "per column:  min 1, max 2, mean 1.67" in out
    assert "s detection (tracing" in out and "equations)" in out
    loaded = SparsityPattern.load(saved)
    assert loaded.shape == (5, 6) and loaded.nnz == 10


def test_detect_module_target_several_arguments(capsys, module_dir):
    code, out, err = call(
        capsys, "detect", "sd_cli_target_mod:two", "--arg", "()", "--arg", "4", "--argnums", "0,1"
    )
    assert code == 0, err
    assert "with respect to arguments 0, 1; inputs: float32[], float32[4]" in out
    assert "SparsityPattern(4×5, nnz=14" in out


def test_detect_hessian_float64_and_dotted_name(capsys, target):
    code, out, err = call(capsys, "detect", f"{target}:loss", "--arg", "5:float64", "--hessian")
    assert code == 0, err
    assert "Hessian sparsity" in out and "float64[5]" in out
    assert "SparsityPattern(5×5, nnz=13" in out
    code, out, err = call(capsys, "detect", f"{target}:Model.residual", "--arg", "2x3")
    assert code == 0, err
    assert "SparsityPattern(4×6, nnz=8" in out


def test_detect_has_aux(capsys, target):
    code, out, err = call(capsys, "detect", f"{target}:with_aux", "--arg", "3", "--has-aux")
    assert code == 0, err
    assert "SparsityPattern(3×3, nnz=3" in out


def test_detect_plot(capsys, target, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "J.png"
    code, out, err = call(capsys, "detect", f"{target}:diff", "--arg", "8", "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot:        {png}" in out


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["sd_cli_no_such_module:f", "--arg", "3"], 2, "module 'sd_cli_no_such_module' not found"),
        (["sd_cli_target_mod:nope", "--arg", "3"], 2, "has no function 'nope' (it defines:"),
        (["sd_cli_target_mod:LIMIT", "--arg", "3"], 2, "is not callable (it is an int)"),
        (["sd_cli_target_mod", "--arg", "3"], 2, "must be MODULE:FUNCTION"),
        (["sd_cli_target_mod:diff", "--arg", "3,x"], 2, "bad --arg '3,x'"),
        (["sd_cli_target_mod:diff", "--arg", "3:floaty"], 2, "unknown dtype 'floaty'"),
        (["sd_cli_target_mod:diff"], 2, "needs the input shapes"),
        (["sd_cli_target_mod:diff", "--arg", "3", "--argnums", "1"], 2, "--argnums 1 is out of"),
        (["sd_cli_target_mod:diff", "--arg", "3", "--argnums", "a"], 2, "takes integers"),
        (["missing_file.py:f", "--arg", "3"], 2, "no such file: 'missing_file.py'"),
        (["sd_cli_target_mod:diff", "--arg", "3", "--save", "no/dir/J.npz"], 2, "does not exist"),
        (["sd_cli_target_mod:branchy", "--arg", "3"], 1, "fails to trace with inputs (float32[3])"),
        (["sd_cli_target_mod:diff", "--arg", "3", "--hessian"], 1, "detection failed"),
        (["sd_cli_broken_mod:f", "--arg", "3"], 1, "No module named 'not_a_real_dependency_xyz'"),
        (["sd_cli_raising_mod:f", "--arg", "3"], 1, "RuntimeError: boom at import"),
    ],
)
def test_detect_errors_are_one_line(capsys, module_dir, args, code, fragment):
    status, out, err = call(capsys, "detect", *args)
    assert_one_line_error(err, code, status, fragment)
    assert out == ""


def test_detect_syntax_error_in_file(capsys, tmp_path):
    bad = tmp_path / "broken_syntax.py"
    bad.write_text("def f(x:\n    return x\n")
    code, _, err = call(capsys, "detect", f"{bad}:f", "--arg", "3")
    assert_one_line_error(err, 1, code, "SyntaxError", "importing")


def test_debug_shows_the_exception(capsys, module_dir):
    from sparsediff.cli import main

    with pytest.raises(UsageError):
        main(["--debug", "detect", "sd_cli_target_mod:nope", "--arg", "3"])
    with pytest.raises(UsageError):  # also accepted after the subcommand
        main(["detect", "sd_cli_target_mod:nope", "--arg", "3", "--debug"])


# ---------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("spec", "shape", "dtype"),
    [
        ("100", (100,), "float32"),
        ("64x64", (64, 64), "float32"),
        ("2×3X4", (2, 3, 4), "float32"),
        ("3,4:float64", (3, 4), "float64"),
        ("(3, 4)", (3, 4), "float32"),
        ("[5]:int32", (5,), "int32"),
        ("(7,)", (7,), "float32"),
        ("():float32", (), "float32"),
        ("scalar", (), "float32"),
        ("scalar:bfloat16", (), "bfloat16"),
        ("0", (0,), "float32"),
    ],
)
def test_parse_arg_spec(spec, shape, dtype):
    parsed = parse_arg_spec(spec)
    assert parsed.shape == shape and parsed.dtype == dtype


@pytest.mark.parametrize("spec", ["", ":float32", "3:", "-1", "3.5", "3,x", "x3", "(3", "3:object"])
def test_parse_arg_spec_rejects(spec):
    with pytest.raises(UsageError):
        parse_arg_spec(spec)


def test_parse_argnums():
    assert parse_argnums(None, 2) == 0
    assert parse_argnums(["1"], 2) == 1
    assert parse_argnums(["-1"], 3) == 2
    assert parse_argnums(["0", "2"], 3) == (0, 2)
    assert parse_argnums(["0,2"], 3) == (0, 2)
    for bad in (["0", "0"], ["3"], [","]):
        with pytest.raises(UsageError):
            parse_argnums(bad, 3)


# ---------------------------------------------------------------------- entry point
def test_detect_then_color_through_the_entry_point(tmp_path, target):
    saved = tmp_path / "J.npz"
    res = run("detect", f"{target}:diff", "--arg", "9", "--save", str(saved), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "SparsityPattern(8×9, nnz=16" in res.stdout and res.stderr == ""
    res = run("color", str(saved), "--problem", "row", "--order", "natural")
    assert res.returncode == 0, res.stderr
    assert "colors:       2 (VJPs)" in res.stdout
    assert "lower bound:  2" in res.stdout
    assert np.array_equal(SparsityPattern.load(saved).row_counts, np.full(8, 2))


def test_detect_errors_through_the_entry_point(tmp_path, target):
    res = run("detect", f"{target}:diff", "--arg", "3x")
    assert_one_line_error(res.stderr, 2, res.returncode, "bad --arg '3x'")
    res = run("detect", f"{target}:branchy", "--arg", "3")
    assert_one_line_error(res.stderr, 1, res.returncode, "fails to trace")
    assert res.stdout == ""


def test_float64_inputs_do_not_switch_x64_on_for_good(capsys, target):
    import jax

    before = jax.config.jax_enable_x64
    code, out, err = call(capsys, "detect", f"{target}:diff", "--arg", "4:float64")
    assert code == 0, err
    assert "float64[4]" in out
    assert jax.config.jax_enable_x64 == before
