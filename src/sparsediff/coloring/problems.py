"""Coloring problems: *what* must be recovered from the compressed products.

A problem says which matrix is colored and how its nonzeros are read back:

* :class:`ColumnProblem` (forward mode): columns that share a row get different
  colors; ``A @ S`` is one JVP per color (Curtis, Powell, Reid 1974).
* :class:`RowProblem` (reverse mode): rows that share a column get different
  colors; ``S.T @ A`` is one VJP per color.
* :class:`SymmetricProblem` (Hessians): star coloring with direct decompression
  or acyclic coloring with substitution (Gebremedhin, Tarafdar, Manne, Pothen
  2007); ``H @ S`` is one Hessian-vector product per color.
* :class:`BidirectionalProblem` (Jacobians with dense rows *and* columns): rows
  and columns colored together, each nonzero read from a JVP or a VJP (Coleman
  and Verma 1998; Montoison, Dalle, Gebremedhin 2025).

Problems are also accepted by name, see :func:`as_problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "ColoringProblem",
    "ColumnProblem",
    "RowProblem",
    "SymmetricProblem",
    "BidirectionalProblem",
    "as_problem",
    "PROBLEM_NAMES",
]

_DECOMPRESSIONS = ("direct", "substitution")


def _check_decompression(value: str) -> None:
    if value not in _DECOMPRESSIONS:
        raise ValueError(f"decompression must be 'direct' or 'substitution', got {value!r}")


@dataclass(frozen=True)
class ColoringProblem:
    """Base class of the coloring problems (do not instantiate directly)."""

    name: ClassVar[str] = "problem"

    @property
    def decompression_kind(self) -> str:
        """``"direct"`` or ``"substitution"``."""
        return "direct"

    def describe(self) -> str:
        """Short human-readable description, used in ``repr`` of results."""
        return self.name


@dataclass(frozen=True)
class ColumnProblem(ColoringProblem):
    """Partial distance-2 coloring of the columns (forward mode, one JVP per color)."""

    name: ClassVar[str] = "column"

    def describe(self) -> str:
        return "column coloring (forward mode)"


@dataclass(frozen=True)
class RowProblem(ColoringProblem):
    """Partial distance-2 coloring of the rows (reverse mode, one VJP per color)."""

    name: ClassVar[str] = "row"

    def describe(self) -> str:
        return "row coloring (reverse mode)"


@dataclass(frozen=True)
class SymmetricProblem(ColoringProblem):
    """Symmetric coloring of a Hessian pattern (one Hessian-vector product per color).

    Args:
        decompression: ``"direct"`` (star coloring, every nonzero is one entry of
            ``H @ S``) or ``"substitution"`` (acyclic coloring, fewer colors,
            nonzeros recovered by substitution along the trees of the two-colored
            subgraphs).
    """

    decompression: str = "direct"
    name: ClassVar[str] = "symmetric"

    def __post_init__(self) -> None:
        _check_decompression(self.decompression)

    @property
    def decompression_kind(self) -> str:
        return self.decompression

    def describe(self) -> str:
        kind = "star" if self.decompression == "direct" else "acyclic"
        return f"symmetric {kind} coloring ({self.decompression} decompression)"


@dataclass(frozen=True)
class BidirectionalProblem(ColoringProblem):
    """Bicoloring of a Jacobian: rows and columns together, JVPs plus VJPs.

    Args:
        decompression: ``"direct"`` (star bicoloring) or ``"substitution"``
            (acyclic bicoloring), as in Montoison, Dalle, Gebremedhin (2025).
    """

    decompression: str = "direct"
    name: ClassVar[str] = "bidirectional"

    def __post_init__(self) -> None:
        _check_decompression(self.decompression)

    @property
    def decompression_kind(self) -> str:
        return self.decompression

    def describe(self) -> str:
        kind = "star" if self.decompression == "direct" else "acyclic"
        return f"bidirectional {kind} bicoloring ({self.decompression} decompression)"


#: Names accepted by :func:`as_problem`.
PROBLEM_NAMES: dict[str, ColoringProblem] = {
    "column": ColumnProblem(),
    "forward": ColumnProblem(),
    "row": RowProblem(),
    "reverse": RowProblem(),
    "symmetric": SymmetricProblem("direct"),
    "star": SymmetricProblem("direct"),
    "acyclic": SymmetricProblem("substitution"),
    "bidirectional": BidirectionalProblem("direct"),
    "star_bicoloring": BidirectionalProblem("direct"),
    "acyclic_bicoloring": BidirectionalProblem("substitution"),
}


def as_problem(problem: ColoringProblem | str) -> ColoringProblem:
    """Return ``problem`` as a :class:`ColoringProblem` instance.

    Strings are looked up in :data:`PROBLEM_NAMES` (case-insensitive, ``-`` and
    spaces read as ``_``): ``"column"``, ``"row"``, ``"symmetric"`` (star),
    ``"acyclic"``, ``"bidirectional"`` (star bicoloring),
    ``"acyclic_bicoloring"``, and a few synonyms.
    """
    if isinstance(problem, ColoringProblem):
        if type(problem) is ColoringProblem:
            raise TypeError("ColoringProblem is abstract; use one of its subclasses")
        return problem
    if isinstance(problem, str):
        key = problem.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return PROBLEM_NAMES[key]
        except KeyError:
            known = ", ".join(repr(k) for k in PROBLEM_NAMES)
            raise ValueError(f"unknown coloring problem {problem!r}; known: {known}") from None
    raise TypeError(f"problem must be a ColoringProblem or a string, got {type(problem).__name__}")
