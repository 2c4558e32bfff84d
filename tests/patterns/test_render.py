import numpy as np
import pytest

from sparsediff.patterns import SparsityPattern
from sparsediff.patterns.render import MAX_TEXT_COLS, MAX_TEXT_ROWS, braille_thumbnail

BRAILLE = {chr(c) for c in range(0x2800, 0x2900)}


def test_small_dot_grid():
    dense = np.array([[1, 0, 0], [0, 0, 1]], dtype=bool)
    text = repr(SparsityPattern.from_dense(dense))
    lines = text.splitlines()
    assert lines[0] == "SparsityPattern(2×3, nnz=2, density=33.33%)"
    assert lines[1:] == ["●⋅⋅", "⋅⋅●"]


def test_small_grid_bounds_inclusive():
    p = SparsityPattern.from_dense(np.eye(40, 80, dtype=bool))
    lines = repr(p).splitlines()
    assert len(lines) == 41
    assert all(len(line) == 80 for line in lines[1:])
    assert lines[5][4] == "●" and lines[5].count("●") == 1
    assert str(p) == repr(p)


def _banded(n, width=1):
    i = np.arange(n)
    rows = np.concatenate([i[k:] if k >= 0 else i[:k] for k in range(-width, width + 1)])
    cols = np.concatenate([i[: n - k] if k >= 0 else i[-k:] for k in range(-width, width + 1)])
    return SparsityPattern(rows, cols, (n, n))


def test_large_banded_braille():
    p = _banded(10**6)
    assert p.nnz == 3 * 10**6 - 2
    text = repr(p)
    lines = text.splitlines()
    assert lines[0].startswith("SparsityPattern(1000000×1000000, nnz=2999998")
    assert len(lines) <= MAX_TEXT_ROWS + 3  # header + frame
    assert all(len(line) <= MAX_TEXT_COLS + 2 for line in lines[1:])
    body = [line[1:-1] for line in lines[2:-1]]
    assert len(body) == MAX_TEXT_ROWS
    assert set("".join(body)) <= BRAILLE
    # A band is drawn on the diagonal and nowhere else.
    for k, row in enumerate(body):
        ink = [j for j, ch in enumerate(row) if ch != "\u2800"]
        assert ink and min(ink) >= 2 * k - 1 and max(ink) <= 2 * k + 2


def test_braille_dot_positions_exact_when_not_scaled():
    # 44 x 6 is too tall for the dot grid but small enough that every entry is one dot.
    dense = np.zeros((44, 6), dtype=bool)
    dense[0, 0] = dense[3, 1] = dense[5, 2] = dense[43, 5] = True
    body = braille_thumbnail(SparsityPattern.from_dense(dense))
    assert len(body) == 11 and all(len(row) == 3 for row in body)
    assert body[0][0] == chr(0x2800 + 0x01 + 0x80)  # (0, 0) and (3, 1)
    assert body[1][1] == chr(0x2800 + 0x02)  # (5, 2): row 1 within cell, left column
    assert body[10][2] == chr(0x2800 + 0x80)  # (43, 5): bottom right dot
    inked = sum(ch != "\u2800" for row in body for ch in row)
    assert inked == 3


@pytest.mark.parametrize(
    ("shape", "max_rows"),
    [((10, 10**6), 1), ((10**6, 10), 40), ((50, 10**5), 1), ((1000, 4000), 10)],
)
def test_aspect_ratio_kept(shape, max_rows):
    m, n = shape
    k = min(m, n)
    p = SparsityPattern(np.arange(k) * (m // k), np.arange(k) * (n // k), shape)
    body = braille_thumbnail(p)
    assert 1 <= len(body) <= max_rows
    assert all(1 <= len(row) <= MAX_TEXT_COLS for row in body)
    if m < n:
        assert len(body[0]) == MAX_TEXT_COLS
    else:
        assert len(body) == MAX_TEXT_ROWS and len(body[0]) <= 2


def test_wide_pattern_not_stretched():
    p = SparsityPattern([0, 9], [0, 10**6 - 1], (10, 10**6))
    lines = repr(p).splitlines()
    assert len(lines) == 4  # header, top frame, one text row, bottom frame
    assert lines[2][1] != "\u2800" and lines[2][-2] != "\u2800"


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0), (10**6, 0), (3, 3), (10**5, 10**5)])
def test_empty_patterns_render(shape):
    text = repr(SparsityPattern([], [], shape))
    assert text.startswith(f"SparsityPattern({shape[0]}×{shape[1]}, nnz=0")
    assert "density=0%" in text
    assert len(text.splitlines()) <= 1 + shape[0]


def test_density_formatting():
    assert "density=100%" in repr(SparsityPattern.from_dense(np.ones((2, 2))))
    tiny = SparsityPattern([0], [0], (10**5, 10**5))
    assert "density=1e-08%" in repr(tiny)
