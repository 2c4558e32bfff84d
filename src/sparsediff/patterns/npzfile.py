"""Opening sparsediff ``.npz`` files safely, with one clear error per problem.

Saved patterns (:mod:`sparsediff.patterns.io`) and saved colorings
(:mod:`sparsediff.coloring.io`) are ``.npz`` archives of plain arrays with a
marker entry naming what they hold and a format version.  :func:`read_npz`
opens one for either loader, never with ``allow_pickle=True``, and raises:

- :class:`FileNotFoundError` when there is no such file,
- :class:`IsADirectoryError` when the path is a directory,
- :class:`SparsediffFileError` (a :class:`ValueError`) when the file is not a
  ``.npz`` archive (a plain ``.npy`` array, text, a pickle, random bytes), is
  corrupt or truncated, is not a sparsediff file, holds the other kind of
  sparsediff object, or comes from a newer (or unknown) format version.

Every message is one line: ``cannot load PATH as a sparsediff KIND: PROBLEM``,
worded the same for both kinds.
"""

from __future__ import annotations

import os
import zipfile
from typing import NoReturn

import numpy as np

__all__ = [
    "SparsediffFileError",
    "MARKER_KEY",
    "KINDS",
    "resolve_path",
    "read_npz",
    "check_marker",
    "check_version",
    "fail",
]

#: the entry naming the kind of object a file holds
MARKER_KEY = "__sparsediff__"

#: marker value -> (what it is called in messages, the function that loads it)
KINDS: dict[str, tuple[str, str]] = {
    "SparsityPattern": ("sparsity pattern", "sparsediff.SparsityPattern.load"),
    "ColoringResult": ("coloring", "sparsediff.load_coloring"),
}

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"


class SparsediffFileError(ValueError):
    """A file that is not a readable sparsediff file of the expected kind.

    Attributes:
        path: the file.
        problem: what is wrong with it (the end of the message).
    """

    def __init__(self, message: str, path: str, problem: str):
        super().__init__(message)
        self.path = path
        self.problem = problem


def _message(path: str, marker: str, problem: str) -> str:
    return f"cannot load {path!r} as a sparsediff {KINDS[marker][0]}: {problem}"


def fail(path: str, marker: str, problem: str) -> NoReturn:
    """Raise :class:`SparsediffFileError` for ``path`` (expected to hold ``marker``)."""
    raise SparsediffFileError(_message(path, marker, problem), path, problem)


def resolve_path(path: str | os.PathLike[str]) -> str:
    """``path``, or ``path + ".npz"`` when only that exists (``save`` adds the suffix)."""
    source = os.fspath(path)
    if not os.path.exists(source) and not source.endswith(".npz"):
        if os.path.isfile(source + ".npz"):
            return source + ".npz"
    return source


def _what_it_is(head: bytes) -> str:
    if head.startswith(_NPY_MAGIC):
        return "it is a single .npy array, not a .npz archive"
    if not head:
        return "the file is empty, not a .npz archive"
    if head.startswith(_PICKLE_MAGIC):
        return "it is a Python pickle, not a .npz archive (pickles are never loaded)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a .npz archive (unrecognised binary content)"
    return "it is a text file, not a .npz archive"


def read_npz(path: str | os.PathLike[str], marker: str) -> tuple[str, dict[str, np.ndarray]]:
    """``(resolved path, arrays)`` of a sparsediff ``.npz`` file holding ``marker``.

    Checks the marker only; the caller checks the version with
    :func:`check_version` and the content itself.
    """
    source = resolve_path(path)
    if not os.path.exists(source):
        raise FileNotFoundError(_message(source, marker, "no such file"))
    if os.path.isdir(source):
        raise IsADirectoryError(_message(source, marker, "it is a directory, not a file"))
    try:
        with open(source, "rb") as handle:
            head = handle.read(8)
    except PermissionError:
        raise PermissionError(_message(source, marker, "permission denied")) from None
    except OSError as err:
        fail(source, marker, f"cannot be read ({err.strerror or err})")
    if not head.startswith(_ZIP_MAGIC):
        fail(source, marker, _what_it_is(head))
    arrays = _read_archive(source, marker)
    check_marker(arrays, source, marker)
    return source, arrays


def _read_archive(source: str, marker: str) -> dict[str, np.ndarray]:
    try:
        with np.load(source, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "allow_pickle" in detail:  # an entry holding Python objects: never unpickled
            detail = "an entry holds pickled Python objects, which are never loaded"
        fail(source, marker, f"corrupt or truncated .npz archive ({detail})")


def _scalar_str(value: np.ndarray | None) -> str | None:
    if value is not None and value.ndim == 0 and value.dtype.kind == "U":
        return str(value)
    return None


def check_marker(arrays: dict[str, np.ndarray], source: str, marker: str) -> None:
    """The file's marker must be ``marker`` (one message per wrong kind)."""
    if MARKER_KEY not in arrays:
        fail(source, marker, f"not a sparsediff file (no {MARKER_KEY!r} marker)")
    found = _scalar_str(arrays[MARKER_KEY])
    if found == marker:
        return
    if found in KINDS:
        fail(
            source,
            marker,
            f"it holds a saved {KINDS[found][0]} ({found!r}), not a {KINDS[marker][0]}; "
            f"load it with {KINDS[found][1]}",
        )
    fail(source, marker, f"it holds a sparsediff object of unknown type {found!r}")


def check_version(arrays: dict[str, np.ndarray], source: str, marker: str, supported: int) -> None:
    """The file's format version must be ``supported``."""
    version = arrays.get("version")
    if version is None or version.ndim != 0 or version.dtype.kind not in "iu":
        fail(source, marker, "missing or malformed format version")
    found = int(version)
    if found > supported:
        fail(
            source,
            marker,
            f"unsupported format version {found}: written by a newer sparsediff "
            f"(this one reads version {supported}); upgrade sparsediff to load it",
        )
    if found != supported:
        fail(
            source,
            marker,
            f"unsupported format version {found} (this sparsediff reads version {supported})",
        )
