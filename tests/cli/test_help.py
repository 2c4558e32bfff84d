"""``--help`` of the command and of every subcommand, with an example."""

from __future__ import annotations

import pytest

from .helpers import assert_one_line_error, call


@pytest.mark.parametrize("command", ["demo", "detect", "color", "bench"])
def test_subcommand_help_has_an_example(capsys, command):
    code, out, _ = call(capsys, command, "--help")
    assert code == 0
    assert f"usage: sparsediff {command}" in out
    assert f"example: sparsediff {command}" in out
    assert "exit status: 0 success, 1 failure, 2 usage error" in out


def test_top_level_help_lists_the_subcommands(capsys):
    code, out, _ = call(capsys, "--help")
    assert code == 0
    for command in ("demo", "detect", "color", "bench"):
        assert command in out
    assert "example:" in out


def test_missing_or_unknown_subcommand(capsys):
    code, _, err = call(capsys)
    assert_one_line_error(err, 2, code, "required: COMMAND")
    code, _, err = call(capsys, "transmogrify")
    assert_one_line_error(err, 2, code, "invalid choice: 'transmogrify'")
