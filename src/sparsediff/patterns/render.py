"""Text previews of sparsity patterns (used by ``SparsityPattern.__repr__``).

Small patterns are drawn entry by entry as a grid of ``●`` (nonzero) and
``⋅`` (zero).  Larger ones are drawn as a bounded thumbnail of Unicode braille
characters (U+2800 block): each character is a cell of 2 × 4 dots and each dot
stands for a rectangular block of matrix entries; a dot is raised when its
block holds at least one nonzero.  The thumbnail is computed with vectorised
numpy in O(nnz) time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .pattern import SparsityPattern

__all__ = ["render_pattern", "header", "dot_grid", "braille_thumbnail"]

#: Patterns with at most this many rows and columns are drawn entry by entry.
SMALL_MAX_ROWS = 40
SMALL_MAX_COLS = 80
#: Bounds of the braille thumbnail, in characters.
MAX_TEXT_ROWS = 40
MAX_TEXT_COLS = 80

_NONZERO = "●"
_ZERO = "⋅"
_BRAILLE_BASE = 0x2800
# Bit of the braille dot at (row within cell, column within cell).
_BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)


def _format_percent(density: float) -> str:
    pct = 100.0 * density
    if pct == 0.0:
        return "0%"
    if pct >= 0.1:
        return f"{pct:.4g}%"
    return f"{pct:.2g}%"


def header(pattern: SparsityPattern) -> str:
    """One-line summary: shape, number of nonzeros and density."""
    m, n = pattern.shape
    return (
        f"SparsityPattern({m}×{n}, nnz={pattern.nnz}, density={_format_percent(pattern.density)})"
    )


def dot_grid(pattern: SparsityPattern) -> list[str]:
    """One character per entry, one text line per matrix row."""
    m, n = pattern.shape
    if m == 0 or n == 0:
        return []
    chars = np.full((m, n), _ZERO, dtype="<U1")
    chars[pattern.rows, pattern.cols] = _NONZERO
    return ["".join(row) for row in chars]


def _thumbnail_dots(m: int, n: int) -> tuple[int, int]:
    """Dot resolution (height, width) that fits the bounds and keeps the aspect ratio.

    Braille dots are roughly square on a terminal (a character cell is about
    twice as tall as it is wide and holds 2 × 4 dots), so the matrix aspect
    ratio is preserved by scaling both dimensions by the same factor.  Matrices
    smaller than the bounds are never upscaled.
    """
    max_h, max_w = 4 * MAX_TEXT_ROWS, 2 * MAX_TEXT_COLS
    scale = min(max_h / m, max_w / n, 1.0)
    h = min(max_h, max(1, math.ceil(m * scale)))
    w = min(max_w, max(1, math.ceil(n * scale)))
    return h, w


def braille_thumbnail(pattern: SparsityPattern) -> list[str]:
    """Bounded braille thumbnail (at most ``MAX_TEXT_ROWS × MAX_TEXT_COLS`` characters)."""
    m, n = pattern.shape
    if m == 0 or n == 0:
        return []
    h, w = _thumbnail_dots(m, n)
    text_rows, text_cols = -(-h // 4), -(-w // 2)
    dot_r = pattern.rows.astype(np.int64) * h // m
    dot_c = pattern.cols.astype(np.int64) * w // n
    cell = (dot_r // 4) * text_cols + dot_c // 2
    bit = (dot_r % 4) * 2 + dot_c % 2  # position in the 8-slot table below
    hits = np.bincount(cell * 8 + bit, minlength=text_rows * text_cols * 8) > 0
    weights = _BRAILLE_BITS.reshape(-1)  # slot (r, c) -> braille bit
    masks = hits.reshape(text_rows * text_cols, 8).astype(np.int64) @ weights
    codes = (masks + _BRAILLE_BASE).astype("<u4").reshape(text_rows, text_cols)
    return [row.tobytes().decode("utf-32-le") for row in codes]


def render_pattern(pattern: SparsityPattern) -> str:
    """Header line followed by a dot grid (small patterns) or a braille thumbnail."""
    m, n = pattern.shape
    lines = [header(pattern)]
    if m == 0 or n == 0:
        return lines[0]
    if m <= SMALL_MAX_ROWS and n <= SMALL_MAX_COLS:
        lines.extend(dot_grid(pattern))
        return "\n".join(lines)
    if pattern.nnz == 0:
        return lines[0]
    body = braille_thumbnail(pattern)
    width = len(body[0])
    lines.append("┌" + "─" * width + "┐")
    lines.extend("│" + row + "│" for row in body)
    lines.append("└" + "─" * width + "┘")
    return "\n".join(lines)
