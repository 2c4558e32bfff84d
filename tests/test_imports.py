"""The package's import graph: no circles, no reaching into another package's
private names (imports inside functions count; ``TYPE_CHECKING`` ones do not)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "sparsediff").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """``(imported module, imported names)`` for every relative or sparsediff import."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(sub) for sub in ast.walk(node))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        elif node.module and node.module.startswith("sparsediff"):
            target = node.module
        else:
            continue
        names = [a.name for a in node.names]
        submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
        yield target, names, submodules


def _graph():
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _, submodules in _imports(name, path, modules):
            for dep in [target, *submodules]:
                if dep in modules and dep != name:
                    graph[name].add(dep)
    return graph


def _related(a: str, b: str) -> bool:
    """A package and its own submodules (re-exports in ``__init__``)."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def test_no_import_circles():
    graph = _graph()
    circles = set()
    for start in graph:
        stack = [(start, (start,))]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if _related(node, nxt):
                    continue
                if nxt == start:
                    circles.add(tuple(sorted(path)))
                elif nxt not in path and len(path) < 8:
                    stack.append((nxt, (*path, nxt)))
    assert not circles, f"import circles: {sorted(circles)}"


def test_no_private_names_of_other_packages():
    modules = _modules()
    offenders = []
    for name, path in modules.items():
        package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
        for target, names, _ in _imports(name, path, modules):
            target_package = (
                target
                if target in modules and (modules[target].name == "__init__.py")
                else target.rsplit(".", 1)[0]
            )
            private = [n for n in names if n.startswith("_") and n != "__future__"]
            if private and target_package != package:
                offenders.append(f"{name} imports {private} from {target}")
    assert not offenders, offenders


def test_the_checks_see_real_imports():
    """The graph is not empty and knows a few edges that must exist."""
    graph = _graph()
    assert "sparsediff.arguments" in graph["sparsediff.detection.api"]
    assert "sparsediff.evaluation.pipeline" in graph["sparsediff.evaluation.prepared"]


def test_the_verbs_import_without_numba_scipy_or_sparse_jax():
    """``from sparsediff import jacobian`` costs little on top of JAX: the coloring
    kernels (numba), SciPy and ``jax.experimental.sparse`` load when first needed."""
    import subprocess
    import sys

    script = (
        "import sys; from sparsediff import jacobian, hessian, jacobian_sparsity; "
        "import sparsediff.ipopt, sparsediff.coloring; "
        "import jax.numpy as jnp; "
        "jacobian_sparsity(lambda x: jnp.sin(x) * x[::-1], jnp.ones(5)); "
        "print(sorted(m for m in ('numba', 'scipy', 'jax.experimental.sparse') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split("\n")[-2] == "[]", out.stdout + out.stderr
