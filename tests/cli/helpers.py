"""Running the command line in tests: through its entry point, or in process."""

from __future__ import annotations

import os
import subprocess
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))


def run(*args: str, cwd: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m sparsediff ARGS`` in a subprocess, with the sources on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([SRC, env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "sparsediff", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_line_error(stderr: str, code: int, returncode: int, *fragments: str) -> str:
    """The error is one line starting with ``sparsediff: error:``, no traceback."""
    assert returncode == code, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sparsediff: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr
    return lines[0]


def call(capsys, *args: str) -> tuple[int, str, str]:
    """``main(args)`` in this process: ``(status, stdout, stderr)``."""
    from sparsediff.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err
