"""The ``.npz`` file format of sparsity patterns (saved by ``SparsityPattern.save``).

This module reads and writes plain arrays and structures; it does not know the
:class:`~sparsediff.patterns.SparsityPattern` class, which builds itself from
what :func:`parts_from_arrays` returns.

File layout (format version 1), all entries plain arrays readable with
``np.load(..., allow_pickle=False)``:

``__sparsediff__``
    the marker string ``"SparsityPattern"``.
``version``
    format version (int).
``shape``
    ``[m, n]`` as ``int64``.
``rows``, ``cols``
    the nonzero positions, sorted row-major without duplicates.
``structures``
    JSON text ``{"input": S, "output": S}`` with
    ``S = {"argnums": [...] | null, "leaves": [{"argnum", "path", "shape", "dtype"}, ...]}``.
``input_treedef``, ``output_treedef`` (optional)
    pickled ``PyTreeDef`` as ``uint8``.  The treedef is optional metadata: it is
    unpickled with a restricted unpickler that only resolves jax's own tree
    classes, builtin containers, namedtuples and classes registered as pytree
    nodes in already-imported modules; if that fails the treedef loads as
    ``None``.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
from typing import Any, NoReturn

import numpy as np

from .npzfile import MARKER_KEY, check_marker, check_version, fail
from .structure import LeafSpec, Structure

__all__ = [
    "write_parts",
    "parts_from_arrays",
    "FORMAT_VERSION",
    "MARKER_KEY",
    "MARKER_VALUE",
]

MARKER_VALUE = "SparsityPattern"
FORMAT_VERSION = 1


# ---------------------------------------------------------------------- structures <-> JSON
def _structure_to_dict(structure: Structure) -> dict[str, Any]:
    return {
        "argnums": None if structure.argnums is None else list(structure.argnums),
        "leaves": [
            {
                "argnum": leaf.argnum,
                "path": leaf.path,
                "shape": list(leaf.shape),
                "dtype": leaf.dtype,
            }
            for leaf in structure.leaves
        ],
    }


def _structure_from_dict(data: Any, treedef: Any) -> Structure:
    if not isinstance(data, dict) or not isinstance(data.get("leaves"), list):
        raise ValueError("structure entry must be an object with a 'leaves' list")
    leaves = []
    for item in data["leaves"]:
        if not isinstance(item, dict):
            raise ValueError("each leaf must be an object")
        argnum, path = item.get("argnum"), item.get("path")
        shape, dtype = item.get("shape"), item.get("dtype")
        if argnum is not None and (not isinstance(argnum, int) or isinstance(argnum, bool)):
            raise ValueError(f"leaf argnum must be an int or null, got {argnum!r}")
        if not isinstance(path, str) or not isinstance(dtype, str):
            raise ValueError("leaf path and dtype must be strings")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ValueError(f"leaf shape must be a list of non-negative ints, got {shape!r}")
        leaves.append(LeafSpec(argnum=argnum, path=path, shape=tuple(shape), dtype=dtype))
    argnums = data.get("argnums")
    if argnums is not None:
        if not isinstance(argnums, list) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in argnums
        ):
            raise ValueError(f"argnums must be a list of ints or null, got {argnums!r}")
        argnums = tuple(argnums)
    return Structure(leaves=tuple(leaves), argnums=argnums, treedef=treedef)


# ---------------------------------------------------------------------- treedef pickling
def _dump_treedef(treedef: Any) -> np.ndarray | None:
    if treedef is None:
        return None
    try:
        blob = pickle.dumps(treedef, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # unpicklable custom node types: the treedef is optional
        return None
    return np.frombuffer(blob, dtype=np.uint8)


_SAFE_BUILTINS = frozenset(
    {
        "list",
        "tuple",
        "dict",
        "set",
        "frozenset",
        "int",
        "float",
        "complex",
        "str",
        "bytes",
        "bool",
        "object",
    }
)


def _is_registered_node(cls: type) -> bool:
    try:
        from jax._src import tree_util
    except Exception:
        return False
    registry = getattr(tree_util, "_registry", None)
    return isinstance(registry, dict) and cls in registry


class _TreedefUnpickler(pickle.Unpickler):
    """Unpickler that only resolves globals a ``PyTreeDef`` legitimately needs."""

    def find_class(self, module: str, name: str) -> Any:
        top = module.partition(".")[0]
        if top in ("jax", "jaxlib") and (name == "PyTreeDef" or name.endswith("registry")):
            return super().find_class(module, name)
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if module == "collections" and name in ("OrderedDict", "defaultdict"):
            return super().find_class(module, name)
        # Node classes (namedtuples, registered pytree nodes) are only looked up in
        # modules that are already imported; nothing new is imported here.
        obj: Any = sys.modules.get(module)
        for part in name.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and (
            (issubclass(obj, tuple) and hasattr(obj, "_fields")) or _is_registered_node(obj)
        ):
            return obj
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _load_treedef(blob: np.ndarray | None) -> Any:
    if blob is None:
        return None
    try:
        return _TreedefUnpickler(io.BytesIO(np.asarray(blob, dtype=np.uint8).tobytes())).load()
    except Exception:
        return None


# ---------------------------------------------------------------------- save / load
def write_parts(
    path: str | os.PathLike[str],
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    input_structure: Structure,
    output_structure: Structure,
) -> str:
    """Write a pattern's parts to a compressed ``.npz`` file; returns the path written.

    A ``.npz`` suffix is appended when ``path`` does not already end with it.
    """
    target = os.fspath(path)
    if not target.endswith(".npz"):
        target += ".npz"
    structures = {
        "input": _structure_to_dict(input_structure),
        "output": _structure_to_dict(output_structure),
    }
    arrays: dict[str, Any] = {
        MARKER_KEY: np.array(MARKER_VALUE),
        "version": np.array(FORMAT_VERSION, dtype=np.int64),
        "shape": np.array(shape, dtype=np.int64),
        "rows": rows,
        "cols": cols,
        "structures": np.array(json.dumps(structures)),
    }
    for side, structure in (("input", input_structure), ("output", output_structure)):
        blob = _dump_treedef(structure.treedef)
        if blob is not None:
            arrays[f"{side}_treedef"] = blob
    np.savez_compressed(target, **arrays)
    return target


def _scalar_str(value: np.ndarray) -> str | None:
    if value.ndim == 0 and value.dtype.kind == "U":
        return str(value)
    return None


def parts_from_arrays(data: dict[str, np.ndarray], source: str) -> dict[str, Any]:
    """The constructor arguments of ``SparsityPattern`` held by the arrays of a pattern
    file (``source`` names it in errors): ``rows``, ``cols``, ``shape``, both
    structures and whether the indices are canonical (checked, not trusted)."""

    def bad(problem: str) -> NoReturn:
        fail(source, MARKER_VALUE, problem)

    check_marker(data, source, MARKER_VALUE)
    check_version(data, source, MARKER_VALUE, FORMAT_VERSION)
    missing = [key for key in ("shape", "rows", "cols", "structures") if key not in data]
    if missing:
        bad(f"inconsistent content: missing entries {missing}")
    shape, rows, cols = data["shape"], data["rows"], data["cols"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu":
        bad(f"inconsistent content: shape entry must be 2 integers, got {shape!r}")
    for name, arr in (("rows", rows), ("cols", cols)):
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            bad(f"inconsistent content: {name} must be a 1-D integer array")
    if rows.size != cols.size:
        bad(f"inconsistent content: rows has {rows.size} entries but cols has {cols.size}")

    text = _scalar_str(data["structures"])
    if text is None:
        bad("inconsistent content: structures entry is not a JSON string")
    try:
        spec = json.loads(text)
        input_structure = _structure_from_dict(
            spec["input"], _load_treedef(data.get("input_treedef"))
        )
        output_structure = _structure_from_dict(
            spec["output"], _load_treedef(data.get("output_treedef"))
        )
    except (ValueError, TypeError, KeyError) as exc:
        bad(f"inconsistent content: invalid structures ({exc})")

    m, n = (int(d) for d in shape)
    # Files written by save_pattern are canonical; verify in O(nnz) rather than trust.
    canonical = rows.size < 2 or bool(
        np.all(
            (np.diff(rows.astype(np.int64)) > 0)
            | ((rows[1:] == rows[:-1]) & (np.diff(cols.astype(np.int64)) > 0))
        )
    )
    return {
        "rows": rows,
        "cols": cols,
        "shape": (m, n),
        "input_structure": input_structure,
        "output_structure": output_structure,
        "canonical": canonical,
    }
