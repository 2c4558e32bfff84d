"""The immutable :class:`ColoringResult` and its numpy compress / decompress helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._text import noun
from ..patterns import SparsityPattern
from .decompression import DecompressionPlan
from .problems import BidirectionalProblem, ColoringProblem, RowProblem, SymmetricProblem

__all__ = ["ColoringResult", "StarSets", "TreeSets"]

_SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PREVIEW_ROWS = 24
_PREVIEW_COLS = 48
_PREVIEW_VERTICES = 24


def _freeze(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None and a.flags.writeable:
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class StarSets:
    """The two-colored stars of a star coloring, one row per undirected edge.

    Vertices are those of the colored graph: ``0 .. n-1`` for a Hessian; for
    bicoloring the columns ``0 .. n-1`` then the rows ``n .. n+m-1``.

    Attributes:
        edge_u, edge_w: the edge's ends (``edge_u < edge_w``).
        hub: the end whose color is read (the star's center; for a star of one
            edge, the end chosen by postprocessing).
    """

    edge_u: np.ndarray
    edge_w: np.ndarray
    hub: np.ndarray

    @property
    def num_edges(self) -> int:
        return int(self.edge_u.size)


@dataclass(frozen=True, eq=False)
class TreeSets:
    """The two-colored trees of an acyclic coloring, one row per undirected edge.

    Attributes:
        edge_u, edge_w: the edge's ends (``edge_u < edge_w``), vertices numbered as
            in :class:`StarSets`.
        tree: index of the tree holding the edge.
        roots: root vertex of each tree (substitution runs leaves first, towards
            it).
    """

    edge_u: np.ndarray
    edge_w: np.ndarray
    tree: np.ndarray
    roots: np.ndarray

    @property
    def num_trees(self) -> int:
        return int(self.roots.size)


def _symbol(color: int) -> str:
    if color < 0:
        return "○"
    return _SYMBOLS[color] if color < len(_SYMBOLS) else "*"


def _groups(colors: np.ndarray | None, k: int) -> tuple[np.ndarray, ...]:
    if colors is None:
        return ()
    c = np.asarray(colors, dtype=np.int64)
    seeded = np.flatnonzero(c >= 0)
    order = seeded[np.argsort(c[seeded], kind="stable")]
    counts = np.bincount(c[seeded], minlength=k)
    return tuple(np.split(order, np.cumsum(counts)[:-1])) if k else ()


def _seed_matrix(colors: np.ndarray | None, k: int, dtype: Any) -> np.ndarray:
    if colors is None:
        return np.zeros((0, 0), dtype=dtype)
    c = np.asarray(colors, dtype=np.int64)
    s = np.zeros((c.size, k), dtype=dtype)
    seeded = np.flatnonzero(c >= 0)
    s[seeded, c[seeded]] = 1
    return s


@dataclass(frozen=True, eq=False)
class ColoringResult:
    """A coloring of a sparsity pattern and everything needed to decompress it.

    Colors are ``0 .. k-1``; ``-1`` is the *neutral* color of a vertex that is in
    no seed (its color is not needed for decompression).

    Attributes:
        pattern: the colored pattern.
        problem: the :class:`~sparsediff.coloring.ColoringProblem` solved.
        column_colors: colors of the columns (column coloring, symmetric problems
            and the forward half of bicoloring), else ``None``.
        row_colors: colors of the rows (row coloring and the reverse half of
            bicoloring), else ``None``.
        num_forward: number of column seeds (JVPs; Hessian-vector products for
            symmetric problems).
        num_reverse: number of row seeds (VJPs).
        lower_bound: a lower bound on :attr:`num_colors` for this problem.
        lower_bound_kind: how the bound was obtained.
        order: the vertex order used.
        algorithm: the algorithm used.
        plan: the :class:`~sparsediff.coloring.DecompressionPlan`.
        symmetric_colors: for symmetric problems and bicoloring, the colors of
            the star or acyclic coloring before neutral colors were assigned (on
            the augmented graph, columns then rows, for bicoloring).
        stars, trees: the star sets (direct) or tree sets (substitution).
    """

    pattern: SparsityPattern
    problem: ColoringProblem
    column_colors: np.ndarray | None
    row_colors: np.ndarray | None
    num_forward: int
    num_reverse: int
    lower_bound: int
    lower_bound_kind: str
    order: str
    algorithm: str
    plan: DecompressionPlan
    symmetric_colors: np.ndarray | None = None
    stars: StarSets | None = None
    trees: TreeSets | None = None

    def __post_init__(self) -> None:
        for name in ("column_colors", "row_colors", "symmetric_colors"):
            _freeze(getattr(self, name))

    # ------------------------------------------------------------------ counts
    @property
    def shape(self) -> tuple[int, int]:
        return self.pattern.shape

    @property
    def num_colors(self) -> int:
        """Total number of AD passes: forward plus reverse."""
        return self.num_forward + self.num_reverse

    @property
    def is_optimal(self) -> bool:
        """``True`` when :attr:`num_colors` meets the lower bound (proved optimal)."""
        return self.num_colors == self.lower_bound

    # ------------------------------------------------------------------ colors
    @property
    def colors(self) -> np.ndarray:
        """Per-vertex colors, one color per AD pass.

        The vertices are the columns (column and symmetric problems), the rows
        (row problems), or for bicoloring the ``n`` columns followed by the ``m``
        rows, with the row colors shifted by :attr:`num_forward` so that colors
        ``0 .. num_forward-1`` are JVPs and the others VJPs.
        """
        if isinstance(self.problem, BidirectionalProblem):
            rows = np.asarray(self.row_colors, dtype=np.int64)
            shifted = np.where(rows >= 0, rows + self.num_forward, -1)
            out = np.concatenate([np.asarray(self.column_colors, dtype=np.int64), shifted])
            out = out.astype(np.int32)
            out.flags.writeable = False
            return out
        colors = self.row_colors if isinstance(self.problem, RowProblem) else self.column_colors
        if colors is None:
            raise ValueError(f"this {self.problem.name} coloring has no colors")
        return colors

    @property
    def groups(self) -> tuple[np.ndarray, ...]:
        """Vertices of each color of :attr:`colors` (neutral vertices are in none)."""
        return _groups(self.colors, self.num_colors)

    @property
    def column_groups(self) -> tuple[np.ndarray, ...]:
        """Columns of each column color (empty for row problems)."""
        return _groups(self.column_colors, self.num_forward)

    @property
    def row_groups(self) -> tuple[np.ndarray, ...]:
        """Rows of each row color (empty unless rows are colored)."""
        return _groups(self.row_colors, self.num_reverse)

    def forward_seeds(self, dtype: Any = np.float64) -> np.ndarray:
        """Dense ``(n, num_forward)`` 0/1 seed matrix of the column colors."""
        return _seed_matrix(self.column_colors, self.num_forward, dtype)

    def reverse_seeds(self, dtype: Any = np.float64) -> np.ndarray:
        """Dense ``(m, num_reverse)`` 0/1 seed matrix of the row colors."""
        return _seed_matrix(self.row_colors, self.num_reverse, dtype)

    # ------------------------------------------------------------------ numpy evaluation
    def _entries(self, matrix: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, cols, values)`` of the matrix on the pattern (mirrored if symmetric)."""
        p = self.pattern
        rows = np.asarray(p.rows, dtype=np.int64)
        cols = np.asarray(p.cols, dtype=np.int64)
        values = self._values_on_pattern(matrix)
        if isinstance(self.problem, SymmetricProblem) and p.nnz:
            n = p.n
            keys = rows * n + cols
            tkeys = cols * n + rows
            pos = np.minimum(np.searchsorted(keys, tkeys), keys.size - 1)
            missing = keys[pos] != tkeys
            rows = np.concatenate([rows, cols[missing]])
            cols = np.concatenate([cols, p.rows[missing].astype(np.int64)])
            values = np.concatenate([values, values[missing]])
        return rows, cols, values

    def _values_on_pattern(self, matrix: Any) -> np.ndarray:
        p = self.pattern
        if hasattr(matrix, "tocsr") and not isinstance(matrix, np.ndarray):
            csr = matrix.tocsr()
            if csr.shape != p.shape:
                raise ValueError(f"matrix has shape {csr.shape}, pattern {p.shape}")
            return np.asarray(csr[p.rows, p.cols]).reshape(-1)
        a = np.asarray(matrix)
        if a.ndim == 1:
            if a.shape != (p.nnz,):
                raise ValueError(f"expected {p.nnz} values in pattern order, got shape {a.shape}")
            return a
        if a.shape != p.shape:
            raise ValueError(f"matrix has shape {a.shape}, pattern {p.shape}")
        return a[p.rows, p.cols]

    def compress(self, matrix: Any) -> Any:
        """Compressed products of ``matrix`` (dense, ``scipy.sparse``, or nonzero values).

        Returns ``A @ S`` of shape ``(m, k)`` for column coloring, ``S.T @ A`` of
        shape ``(k, n)`` for row coloring, ``H @ S`` of shape ``(n, k)`` for
        symmetric problems (the pattern is mirrored, as ``H`` is symmetric), and the
        pair ``(A @ S_f, S_r.T @ A)`` for bicoloring.  Entries outside the pattern
        are ignored.
        """
        rows, cols, values = self._entries(matrix)
        m, n = self.shape
        blocks = []
        for name, (r, c) in self.plan.blocks:
            out = np.zeros((r, c), dtype=values.dtype)
            if name == "forward":
                colors = np.asarray(self.column_colors, dtype=np.int64)[cols]
                keep = colors >= 0
                np.add.at(out, (rows[keep], colors[keep]), values[keep])
            else:
                colors = np.asarray(self.row_colors, dtype=np.int64)[rows]
                keep = colors >= 0
                np.add.at(out, (colors[keep], cols[keep]), values[keep])
            blocks.append(out)
        if isinstance(self.problem, BidirectionalProblem):
            return tuple(blocks)
        return blocks[0]

    def decompress(self, compressed: Any) -> np.ndarray:
        """Nonzero values, in the pattern's row-major order, from :meth:`compress`'s output."""
        blocks = compressed if isinstance(self.problem, BidirectionalProblem) else (compressed,)
        return self.plan.evaluate(self.plan.flatten(*blocks))

    def to_dense(self, compressed: Any) -> np.ndarray:
        """Dense matrix rebuilt from the compressed products."""
        values = self.decompress(compressed)
        out = np.zeros(self.shape, dtype=values.dtype)
        out[self.pattern.rows, self.pattern.cols] = values
        return out

    # ------------------------------------------------------------------ display
    def _counts_line(self) -> str:
        if isinstance(self.problem, BidirectionalProblem):
            text = (
                f"passes: {self.num_colors} = {self.num_forward} forward "
                f"({noun(self.num_forward, 'JVP')}) + {self.num_reverse} reverse "
                f"({noun(self.num_reverse, 'VJP')})"
            )
        elif isinstance(self.problem, SymmetricProblem):
            text = f"colors: {self.num_colors} ({noun(self.num_colors, 'Hessian-vector product')})"
        elif isinstance(self.problem, RowProblem):
            text = f"colors: {self.num_colors} ({noun(self.num_colors, 'VJP')})"
        else:
            text = f"colors: {self.num_colors} ({noun(self.num_colors, 'JVP')})"
        verdict = "optimal" if self.is_optimal else f"gap {self.num_colors - self.lower_bound}"
        return f"{text}; lower bound {self.lower_bound} ({self.lower_bound_kind}; {verdict})"

    def _preview(self) -> tuple[str, list[str]]:
        """Caption and lines of a small drawing of the pattern, one symbol per entry."""
        m, n = self.shape
        if m == 0 or n == 0 or m > _PREVIEW_ROWS or n > _PREVIEW_COLS:
            return "", []
        r, c = self.pattern.rows, self.pattern.cols
        if isinstance(self.problem, BidirectionalProblem):
            # The pass each entry is read from: forward colors as digits, reverse ones
            # as letters; '+' for entries recovered by substitution.
            src = np.full(self.pattern.nnz, -1, dtype=np.int64)
            src[self.plan.direct_nz] = self.plan.direct_src
            fwd_size = m * self.num_forward
            sym = np.full(r.size, "+", dtype="<U1")
            fwd = (src >= 0) & (src < fwd_size)
            rev = src >= fwd_size
            sym[fwd] = [_symbol(x) for x in src[fwd] % max(self.num_forward, 1)]
            sym[rev] = [_symbol(10 + x) for x in (src[rev] - fwd_size) // n]
            caption = "entry read from: forward color (digit), reverse color (letter)"
        else:
            by_row = isinstance(self.problem, RowProblem)
            colors = np.asarray(self.colors, dtype=np.int64)
            vc = colors[r] if by_row else colors[c]
            sym = np.array([_symbol(x) for x in vc], dtype="<U1")
            caption = "symbol = color of the entry's " + ("row" if by_row else "column")
        grid = np.full((m, n), "⋅", dtype="<U1")
        if r.size:
            grid[r, c] = sym
        return caption, ["  " + "".join(line) for line in grid]

    def __repr__(self) -> str:
        m, n = self.shape
        lines = [
            f"ColoringResult({self.problem.describe()}, {m}×{n}, nnz={self.pattern.nnz})",
            "  " + self._counts_line(),
            f"  order: {self.order}; algorithm: {self.algorithm}",
        ]
        for label, colors in (
            ("column colors", self.column_colors),
            ("row colors", self.row_colors),
        ):
            if colors is None:
                continue
            head = " ".join("-" if x < 0 else str(int(x)) for x in colors[:_PREVIEW_VERTICES])
            more = " …" if colors.size > _PREVIEW_VERTICES else ""
            lines.append(f"  {label}: [{head}{more}]")
        sizes = [int(g.size) for g in self.groups[:12]]
        more = ", …" if self.num_colors > 12 else ""
        lines.append(f"  group sizes: [{', '.join(map(str, sizes))}{more}]")
        caption, preview = self._preview()
        if preview:
            lines.append(f"  colored pattern ({caption}; ○ neutral):")
            lines.extend(preview)
        return "\n".join(lines)
