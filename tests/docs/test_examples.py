"""Every ```python block of the documentation runs.

The blocks of one page (``docs/**/*.md`` and ``README.md``) run in order in one
namespace, as a reader would paste them, in a temporary working directory.
Blocks whose info string is ``python no-test`` are skipped (multi-host or
third-party-solver snippets that cannot run here).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


@dataclasses.dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the first line of code
    info: str  # the info string, e.g. "python" or "python no-test"
    code: str

    @property
    def language(self) -> str:
        words = self.info.replace("{", " ").replace("}", " ").replace(".", " ").split()
        return words[0].lower() if words else ""

    @property
    def skipped(self) -> bool:
        return "no-test" in self.info.split()


def fenced_blocks(text: str) -> list[Block]:
    """Fenced code blocks of a Markdown text (also indented ones, e.g. in admonitions)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        blocks.append(Block(line=i + 2, info=info, code="\n".join(body) + "\n"))
        i = j + 1
    return blocks


def python_blocks(path: Path) -> list[Block]:
    return [b for b in fenced_blocks(path.read_text(encoding="utf-8")) if b.language == "python"]


def _pages() -> list[Path]:
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


PAGES = [p for p in _pages() if any(not b.skipped for b in python_blocks(p))]


def _page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A temporary working directory; detection rules and options restored afterwards."""
    from sparsediff.detection import registry

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    rules = dict(registry.RULES)
    defaults = list(registry._defaults)
    x64 = jax.config.jax_enable_x64  # pages may switch on float64
    try:
        yield tmp_path
    finally:
        jax.config.update("jax_enable_x64", x64)
        registry.RULES.clear()
        registry.RULES.update(rules)
        registry._defaults[:] = defaults
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            pass
        else:
            plt.close("all")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_examples_run(page: Path, isolated) -> None:
    namespace: dict = {"__name__": "__docs__"}
    rel = _page_id(page)
    for block in python_blocks(page):
        if block.skipped:
            continue
        # pad so that tracebacks give the line number in the Markdown file
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, rel, "exec"), namespace)  # noqa: S102


# -- the extractor itself --------------------------------------------------------------
def test_fenced_blocks_extractor() -> None:
    text = (
        "intro\n"
        "```python\n"
        "a = 1\n"
        "```\n"
        "```bash\n"
        "ls\n"
        "```\n"
        "!!! note\n"
        "    ```python no-test\n"
        "    b = 2\n"
        "    ```\n"
        "````python\n"
        "c = '''\n"
        "```\n"
        "'''\n"
        "````\n"
    )
    blocks = fenced_blocks(text)
    assert [b.language for b in blocks] == ["python", "bash", "python", "python"]
    assert [b.skipped for b in blocks] == [False, False, True, False]
    assert blocks[0].code == "a = 1\n" and blocks[0].line == 3
    assert blocks[2].code == "b = 2\n"
    assert blocks[3].code == "c = '''\n```\n'''\n"


def test_docs_have_examples() -> None:
    names = {_page_id(p) for p in PAGES}
    for page in ("docs/getting-started.md", "docs/how-to/jacobians.md", "README.md"):
        assert page in names, f"{page} has no tested python example"
    skipped = sum(b.skipped for p in _pages() for b in python_blocks(p))
    total = sum(len(python_blocks(p)) for p in _pages())
    assert skipped <= max(3, total // 10), "too many examples are marked no-test"
