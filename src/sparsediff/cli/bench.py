"""``sparsediff bench``: run the benchmark suite of a source checkout.

The benchmarks (the ``benchmarks`` package at the root of the repository) are
not installed with sparsediff.  They are looked for next to the package
sources (``<root>/src/sparsediff`` or ``<root>/sparsediff``), then in the
current directory, or in the folder given with ``--root``; each suite runs as
``python -m benchmarks.NAME`` in a subprocess from that root, with the
sparsediff sources in use on its ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import CLIError

__all__ = ["run_bench", "find_benchmarks", "SUITES"]

#: The suites, in the order they run.
SUITES = ("detection", "coloring", "evaluation")

_NEED_CHECKOUT = (
    "the benchmarks need a source checkout of sparsediff (a benchmarks/ folder next to "
    "src/sparsediff); none found {where}"
)


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def _is_benchmark_root(root: Path) -> bool:
    folder = root / "benchmarks"
    return (folder / "__init__.py").is_file() and all(
        (folder / f"{name}.py").is_file() for name in SUITES
    )


def find_benchmarks(root: str | None = None) -> Path:
    """The folder that holds ``benchmarks/``; :class:`CLIError` if there is none."""
    if root is not None:
        candidates = [Path(root)]
        where = f"in {root}"
    else:
        pkg = _package_dir()
        candidates = [pkg.parent.parent, pkg.parent, Path.cwd()]
        where = "next to the installed package or in the current directory"
    for candidate in candidates:
        if _is_benchmark_root(candidate):
            return candidate.resolve()
    raise CLIError(_NEED_CHECKOUT.format(where=where))


def _asdex_missing(root: Path, env: dict[str, str]) -> str | None:
    """Why ``import asdex`` fails where the suites run (``None`` when it works).

    Checked once, in the suites' interpreter and environment, so that a missing
    asdex is one line here instead of one traceback per benchmark case.
    """
    probe = "import asdex"
    res = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True
    )
    if res.returncode == 0:
        return None
    lines = [line.strip() for line in res.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"import asdex exited with status {res.returncode}"


def run_bench(args: Any, out=print) -> int:
    """Run the selected suites one after the other; returns the first failing status."""
    root = find_benchmarks(args.root)
    suites = args.only or list(SUITES)
    flags = (["--quick"] if args.quick else []) + (["--no-asdex"] if args.no_asdex else [])
    env = dict(os.environ)
    paths = [str(_package_dir().parent), str(root)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if not args.no_asdex:
        missing = _asdex_missing(root, env)
        if missing:
            out(
                f"asdex is not available ({missing}): timing sparsediff only, as with "
                "--no-asdex (pip install 'sparsediff[bench]' to compare with asdex)"
            )
            flags.append("--no-asdex")
    status = 0
    for name in suites:
        command = [sys.executable, "-m", f"benchmarks.{name}", *flags]
        out(f"== {' '.join(['python', *command[1:]])}  (in {root})")
        sys.stdout.flush()
        rc = subprocess.call(command, cwd=root, env=env)
        if rc != 0:
            print(f"sparsediff: error: benchmarks.{name} exited with status {rc}", file=sys.stderr)
            status = status or (rc if 0 < rc < 256 else 1)
    return status
