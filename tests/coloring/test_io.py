"""``load_coloring``: round trip, and the same one-line errors as ``load_pattern``."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from sparsediff import SparsityPattern, color, load_coloring, save_coloring
from sparsediff.patterns import load_pattern
from sparsediff.patterns.npzfile import SparsediffFileError


def _pattern() -> SparsityPattern:
    return SparsityPattern([0, 0, 1, 2], [0, 1, 1, 2], (3, 3))


def _saved(tmp_path) -> str:
    return save_coloring(color(_pattern(), "column"), tmp_path / "col")


def test_round_trip(tmp_path):
    c = color(_pattern(), "symmetric")
    back = load_coloring(save_coloring(c, tmp_path / "star"))
    assert back.pattern == c.pattern and back.num_colors == c.num_colors
    assert load_coloring(tmp_path / "star").num_colors == c.num_colors  # suffix tried


def _bad_files(tmp_path):
    npy = tmp_path / "plain.npy"
    np.save(npy, np.arange(4))
    text = tmp_path / "text.npz"
    text.write_text("hello\n")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(bytes(range(256)))
    evil = tmp_path / "evil.npz"
    evil.write_bytes(pickle.dumps({"x": 1}))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(2))
    return {
        "missing": (tmp_path / "missing.npz", FileNotFoundError, "no such file"),
        "directory": (tmp_path, IsADirectoryError, "it is a directory, not a file"),
        "npy": (npy, SparsediffFileError, "it is a single .npy array, not a .npz archive"),
        "text": (text, SparsediffFileError, "it is a text file, not a .npz archive"),
        "garbage": (garbage, SparsediffFileError, "not a .npz archive"),
        "pickle": (evil, SparsediffFileError, "it is a Python pickle, not a .npz archive"),
        "foreign": (foreign, SparsediffFileError, "not a sparsediff file"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "directory", "npy", "text", "garbage", "pickle", "foreign"]
)
def test_same_error_as_load_pattern(tmp_path, case):
    path, kind, problem = _bad_files(tmp_path)[case]
    with pytest.raises(kind) as for_coloring:
        load_coloring(path)
    with pytest.raises(kind) as for_pattern:
        load_pattern(path)
    message = str(for_coloring.value)
    assert (
        message
        == f"cannot load {os.fspath(path)!r} as a sparsediff coloring: "
        + (str(for_pattern.value).split(": ", 1)[1])
    )
    assert problem in message
    assert "\n" not in message and "allow_pickle" not in message
    assert "context manager" not in message
    if kind is SparsediffFileError:
        assert isinstance(for_coloring.value, ValueError)


def test_pattern_file_given_to_load_coloring(tmp_path):
    path = _pattern().save(tmp_path / "pattern.npz")
    with pytest.raises(SparsediffFileError) as info:
        load_coloring(path)
    assert str(info.value) == (
        f"cannot load {path!r} as a sparsediff coloring: it holds a saved sparsity pattern "
        "('SparsityPattern'), not a coloring; load it with sparsediff.SparsityPattern.load"
    )


def _rewrite(path: str, **changes) -> str:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


def test_newer_version(tmp_path):
    path = _rewrite(_saved(tmp_path), version=np.array(2))
    with pytest.raises(SparsediffFileError, match="format version 2: written by a newer"):
        load_coloring(path)


def test_inconsistent_content(tmp_path):
    path = _saved(tmp_path)
    meta = json.loads(str(np.load(path)["meta"]))
    meta["plan_nnz"] = 99
    _rewrite(path, meta=np.array(json.dumps(meta)))
    with pytest.raises(SparsediffFileError, match="inconsistent content"):
        load_coloring(path)
    path = _rewrite(_saved(tmp_path), **{"pattern/rows": np.array([0.5])})
    with pytest.raises(SparsediffFileError, match="its pattern: inconsistent content"):
        load_coloring(path)
