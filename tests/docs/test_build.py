"""The documentation site builds without warnings, and covers the public API."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sparsediff

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
MAX_FIGURE_BYTES = 100_000


def _mkdocs_missing() -> str | None:
    for module, package in (
        ("mkdocs", "mkdocs"),
        ("material", "mkdocs-material"),
        ("mkdocstrings", "mkdocstrings[python]"),
        ("mkdocstrings_handlers.python", "mkdocstrings[python]"),
    ):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return package
    return None


def test_mkdocs_build_strict(tmp_path):
    missing = _mkdocs_missing()
    if missing is not None:
        pytest.skip(f"{missing} is not installed (pip install '.[docs]') so the site cannot build")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    api = (site / "reference" / "derivatives" / "index.html").read_text(encoding="utf-8")
    assert "value_and_jacobian" in api and "chunk_size" in api  # docstrings were rendered
    assert ":func:" not in api  # Sphinx roles became links (docs/hooks/sphinx_roles.py)
    assert 'href="../detection/#sparsediff.jacobian_sparsity"' in api


def test_reference_covers_public_api():
    """Every name of ``sparsediff.__all__`` has a ``::: sparsediff.NAME`` directive."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    documented = set(re.findall(r"^::: sparsediff\.(\w+)\s*$", text, flags=re.MULTILINE))
    missing = sorted(set(sparsediff.__all__) - documented)
    assert not missing, f"public names without an API reference entry: {missing}"


def test_figures_are_small_and_used():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    pngs = sorted(FIGURES.glob("*.png"))
    assert pngs, "no figures in docs/figures"
    for png in pngs:
        size = png.stat().st_size
        assert size < MAX_FIGURE_BYTES, f"{png.name} is {size} bytes (limit {MAX_FIGURE_BYTES})"
        assert f"figures/{png.name}" in pages, f"{png.name} is not used by any page"
    for ref in re.findall(r"\]\((?:\.\./)*figures/([\w.-]+)\)", pages):
        assert (FIGURES / ref).is_file(), f"a page shows figures/{ref}, which does not exist"


def test_nav_lists_every_page():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        rel = page.relative_to(DOCS).as_posix()
        assert f": {rel}" in config, f"{rel} is not in the nav of mkdocs.yml"
