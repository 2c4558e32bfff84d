"""Saving and loading colorings, so that a later process skips preparation.

A coloring is saved as one ``.npz`` file of plain arrays (readable with
``allow_pickle=False``): the pattern (as :mod:`sparsediff.patterns.io` writes
it, prefixed ``pattern/``), the problem, the colors, the counts and the
decompression plan. Loading checks the file's marker and version and the
consistency of the plan with the pattern.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from ..patterns import SparsityPattern, pattern_from_arrays, save_pattern
from ..patterns.npzfile import SparsediffFileError, check_version, fail, read_npz
from .decompression import DecompressionPlan
from .problems import (
    BidirectionalProblem,
    ColoringProblem,
    ColumnProblem,
    RowProblem,
    SymmetricProblem,
)
from .result import ColoringResult, StarSets, TreeSets

__all__ = ["save_coloring", "load_coloring"]

_MARKER = "ColoringResult"
_VERSION = 1
_PLAN_ARRAYS = (
    "direct_nz",
    "direct_src",
    "subst_src",
    "subst_sign",
    "subst_nz",
    "subst_start",
    "subst_stop",
    "subst_out_sign",
)


def _problem_to_json(p: ColoringProblem) -> dict:
    return {"name": p.name, "decompression": getattr(p, "decompression", None)}


def _problem_from_json(d: dict) -> ColoringProblem:
    name = d.get("name")
    if name == "column":
        return ColumnProblem()
    if name == "row":
        return RowProblem()
    if name == "symmetric":
        return SymmetricProblem(d.get("decompression") or "direct")
    if name == "bidirectional":
        return BidirectionalProblem(d.get("decompression") or "direct")
    raise ValueError(f"unknown coloring problem {name!r}")


def save_coloring(result: ColoringResult, path: str | os.PathLike[str]) -> str:
    """Write ``result`` to ``path`` (``.npz`` added if missing); returns the path."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    arrays: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pfile = save_pattern(result.pattern, os.path.join(tmp, "pattern.npz"))
        with np.load(pfile, allow_pickle=False) as data:
            for key in data.files:
                arrays[f"pattern/{key}"] = data[key]
    meta = {
        "problem": _problem_to_json(result.problem),
        "num_forward": result.num_forward,
        "num_reverse": result.num_reverse,
        "lower_bound": result.lower_bound,
        "lower_bound_kind": result.lower_bound_kind,
        "order": result.order,
        "algorithm": result.algorithm,
        "plan_nnz": result.plan.nnz,
        "plan_blocks": [[name, list(shape)] for name, shape in result.plan.blocks],
    }
    arrays["__sparsediff__"] = np.array(_MARKER)
    arrays["version"] = np.array(_VERSION)
    arrays["meta"] = np.array(json.dumps(meta))
    for name in ("column_colors", "row_colors", "symmetric_colors"):
        value = getattr(result, name)
        if value is not None:
            arrays[name] = np.asarray(value)
    for name in _PLAN_ARRAYS:
        arrays[f"plan/{name}"] = np.asarray(getattr(result.plan, name))
    if result.stars is not None:
        for name in ("edge_u", "edge_w", "hub"):
            arrays[f"stars/{name}"] = np.asarray(getattr(result.stars, name))
    if result.trees is not None:
        for name in ("edge_u", "edge_w", "tree", "roots"):
            arrays[f"trees/{name}"] = np.asarray(getattr(result.trees, name))
    np.savez_compressed(path, **arrays)
    return path


def load_coloring(path: str | os.PathLike[str]) -> ColoringResult:
    """Read a coloring written by :func:`save_coloring`.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: the path is a directory.
        SparsediffFileError: (a ``ValueError``) not a ``.npz`` archive, corrupt,
            another kind of sparsediff file (e.g. a saved pattern), a newer
            format version, or content that does not fit together.  The
            one-line message names the file and the problem, worded as
            :func:`sparsediff.SparsityPattern.load` words it.
    """
    path, arrays = read_npz(path, _MARKER)
    check_version(arrays, path, _MARKER, _VERSION)
    pattern_arrays = {k[8:]: v for k, v in arrays.items() if k.startswith("pattern/")}
    if not pattern_arrays:
        fail(path, _MARKER, "inconsistent content: it holds no pattern")
    try:
        pattern = pattern_from_arrays(pattern_arrays, path)
    except SparsediffFileError as err:  # name the embedded pattern in the message
        fail(path, _MARKER, f"its pattern: {err.problem}")
    try:
        meta = json.loads(str(arrays["meta"]))
        plan = DecompressionPlan.build(
            meta["plan_nnz"],
            tuple((name, tuple(shape)) for name, shape in meta["plan_blocks"]),
            *(arrays[f"plan/{name}"] for name in _PLAN_ARRAYS),
        )
        stars = trees = None
        if "stars/edge_u" in arrays:
            stars = StarSets(*(arrays[f"stars/{k}"] for k in ("edge_u", "edge_w", "hub")))
        if "trees/edge_u" in arrays:
            trees = TreeSets(*(arrays[f"trees/{k}"] for k in ("edge_u", "edge_w", "tree", "roots")))
        result = ColoringResult(
            pattern=pattern,
            problem=_problem_from_json(meta["problem"]),
            column_colors=arrays.get("column_colors"),
            row_colors=arrays.get("row_colors"),
            num_forward=int(meta["num_forward"]),
            num_reverse=int(meta["num_reverse"]),
            lower_bound=int(meta["lower_bound"]),
            lower_bound_kind=str(meta["lower_bound_kind"]),
            order=str(meta["order"]),
            algorithm=str(meta["algorithm"]),
            plan=plan,
            symmetric_colors=arrays.get("symmetric_colors"),
            stars=stars,
            trees=trees,
        )
    except (KeyError, TypeError, ValueError) as err:
        fail(path, _MARKER, f"inconsistent content: {type(err).__name__}: {err}")
    _check_consistent(result, path)
    return result


def _check_consistent(result: ColoringResult, path: str) -> None:
    p: SparsityPattern = result.pattern
    plan = result.plan
    m, n = p.shape
    problems = []
    if plan.nnz != p.nnz:
        problems.append(f"the plan recovers {plan.nnz} nonzeros, the pattern has {p.nnz}")
    if result.column_colors is not None and result.column_colors.size != n:
        problems.append(f"{result.column_colors.size} column colors for {n} columns")
    if result.row_colors is not None and result.row_colors.size != m:
        problems.append(f"{result.row_colors.size} row colors for {m} rows")
    size = plan.compressed_size
    for name in ("direct_src", "subst_src"):
        a = getattr(plan, name)
        if a.size and (a.min() < 0 or a.max() >= size):
            problems.append(f"plan index {name} out of range")
    try:
        plan.check_coverage()
    except AssertionError as err:
        problems.append(str(err))
    if problems:
        fail(path, _MARKER, "inconsistent content: " + "; ".join(problems))
