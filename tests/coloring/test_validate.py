"""check_coloring on patterns whose dense compressed products would not fit in memory."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import sparsediff as sd
from sparsediff.coloring import check_coloring, color


def test_one_color_per_column_of_a_wide_pattern_is_checked_without_dense_products():
    """Arrowhead, 10^5 columns, each its own color: the dense compressed products would
    hold 10^10 entries; the coloring condition is still checked, and a wrong one caught."""
    n = 100_000
    rows = np.concatenate([np.zeros(n, np.int64), np.arange(n)])
    cols = np.concatenate([np.arange(n), np.arange(n)])
    p = sd.SparsityPattern(rows, cols, (n, n))
    result = color(p, "column")
    assert result.num_colors == n
    check_coloring(p, result)  # no MemoryError
    bad = np.asarray(result.column_colors).copy()
    bad[1] = bad[0]
    with pytest.raises(sd.InvalidColoringError):
        check_coloring(p, replace(result, column_colors=bad))
