"""``--help`` and usage errors answer without importing JAX (or numba, scipy)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import SRC

_PROBE = """
import json, sys
sys.path.insert(0, {src!r})
from sparsediff.cli.main import main
code = main({argv!r})
heavy = sorted(m for m in ("jax", "jaxlib", "numba", "scipy", "matplotlib") if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.__stderr__)
"""

_CASES = [
    (["--help"], 0),
    (["-h"], 0),
    (["demo", "--help"], 0),
    (["detect", "-h"], 0),
    (["color", "--help"], 0),
    (["bench", "-h"], 0),
    ([], 2),
    (["transmogrify"], 2),
    (["demo", "--grid", "x"], 2),
    (["demo", "--problem", "nope"], 2),
    (["detect", "m:f", "--arg", "3y"], 2),
    (["color"], 2),
    (["color", "p.npz", "--problem", "diagonal"], 2),
]


@pytest.mark.parametrize(("argv", "status"), _CASES, ids=[" ".join(a) or "-" for a, _ in _CASES])
def test_help_and_usage_errors_do_not_import_jax(argv, status):
    res = subprocess.run(
        [sys.executable, "-c", _PROBE.format(src=SRC, argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(res.stderr.strip().splitlines()[-1])
    assert report["code"] == status, res.stderr
    assert report["heavy"] == [], f"{argv} imported {report['heavy']}"


def test_import_sparsediff_is_lazy_but_complete():
    probe = (
        f"import sys; sys.path.insert(0, {SRC!r}); import sparsediff as sd; "
        "assert 'jax' not in sys.modules, 'import sparsediff imported jax'; "
        "names = [n for n in sd.__all__ if getattr(sd, n, None) is None]; "
        "assert not names, names; assert callable(sd.color) and callable(sd.jacobian); "
        "assert 'jacobian' in dir(sd)"
    )
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def test_lazy_exports_match_all():
    import sparsediff
    import sparsediff.problems

    assert set(sparsediff.__all__) == {*sparsediff._EXPORTS, "coloring"}
    assert set(sparsediff.problems.__all__) == set(sparsediff.problems._EXPORTS)
    assert sparsediff.problems.DEFAULT_PROBLEM in sparsediff.problems.DEMO_PROBLEMS
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sparsediff.nope  # noqa: B018
