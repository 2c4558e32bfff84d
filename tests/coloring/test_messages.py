"""What a coloring says about itself: counts with correctly pluralised nouns."""

from __future__ import annotations

import numpy as np
import pytest

from sparsediff import SparsityPattern, color


def _diagonal(n: int) -> SparsityPattern:
    return SparsityPattern(np.arange(n), np.arange(n), (n, n))


def _arrowhead(n: int) -> SparsityPattern:
    rows = np.r_[np.zeros(n, int), np.arange(1, n), np.arange(1, n)]
    cols = np.r_[np.arange(n), np.zeros(n - 1, int), np.arange(1, n)]
    return SparsityPattern(rows, cols, (n, n))


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        ("column", "colors: 1 (JVP);"),
        ("row", "colors: 1 (VJP);"),
        ("star", "colors: 1 (Hessian-vector product);"),
    ],
)
def test_one_color_is_singular(problem, text):
    assert text in repr(color(_diagonal(5), problem))


def test_several_colors_are_plural():
    tridiagonal = SparsityPattern.from_dense(np.eye(6, k=0) + np.eye(6, k=1) + np.eye(6, k=-1))
    assert "colors: 3 (JVPs);" in repr(color(tridiagonal, "column"))
    assert "colors: 3 (VJPs);" in repr(color(tridiagonal, "row"))
    assert "colors: 3 (Hessian-vector products);" in repr(color(tridiagonal, "star"))


def test_bicoloring_counts():
    text = repr(color(_arrowhead(8), "bidirectional"))
    assert "passes: 3 = 2 forward (JVPs) + 1 reverse (VJP);" in text
