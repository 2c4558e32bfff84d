"""``sparsediff.spy``: patterns and colorings drawn with matplotlib (Agg backend)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import sparsediff as sd
from sparsediff import SparsityPattern
from sparsediff.coloring import coloring
from sparsediff.plotting.spyplot import entry_groups

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _arrowhead(n: int) -> SparsityPattern:
    rows = np.r_[np.zeros(n, int), np.arange(1, n), np.arange(1, n)]
    cols = np.r_[np.arange(n), np.zeros(n - 1, int), np.arange(1, n)]
    return SparsityPattern(rows, cols, (n, n))


def _banded(n: int, half: int = 1) -> SparsityPattern:
    """Band of half-width ``half``, built row-major so no sort is needed."""
    offsets = np.arange(-half, half + 1)
    rows = np.repeat(np.arange(n, dtype=np.int64), offsets.size)
    cols = rows + np.tile(offsets, n)
    keep = (cols >= 0) & (cols < n)
    return SparsityPattern(rows[keep], cols[keep], (n, n), canonical=True)


def _save(ax, path) -> bytes:
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert data[:8] == PNG
    return data


def test_spy_pattern_draws_markers(tmp_path):
    pattern = _banded(20)
    ax = sd.spy(pattern)
    assert ax.get_xlim() == (-0.5, 19.5) and ax.get_ylim() == (19.5, -0.5)
    (points,) = ax.collections
    assert points.get_offsets().shape == (pattern.nnz, 2)
    assert "20×20, 58 nonzeros" in ax.get_title()
    _save(ax, tmp_path / "band.png")


def test_spy_on_given_axes_and_other_inputs(tmp_path):
    fig, (left, right) = plt.subplots(1, 2)
    dense = np.eye(5)
    dense[0, 4] = 2.0
    assert sd.spy(dense, ax=left, title="dense") is left
    assert left.get_title() == "dense"
    assert sd.spy(sp.csr_matrix(dense), ax=right, markersize=3, title=False) is right
    assert right.get_title() == ""
    assert right.collections[0].get_offsets().shape == (6, 2)
    fig.savefig(tmp_path / "two.png")


@pytest.mark.parametrize(
    "problem", ["column", "row", "symmetric", "acyclic", "bidirectional", "acyclic_bicoloring"]
)
def test_spy_each_coloring_kind(tmp_path, problem):
    pattern = _arrowhead(12) if "bi" in problem or problem == "row" else _banded(12)
    result = coloring(pattern, problem)
    ax = sd.spy(pattern, coloring=result)
    drawn = sum(len(c.get_offsets()) for c in ax.collections)
    assert drawn == pattern.nnz
    assert ax.get_legend() is not None
    assert f"lower bound {result.lower_bound}" in ax.get_title()
    _save(ax, tmp_path / f"{problem}.png")
    # a ColoringResult carries its pattern: it can be passed alone
    ax2 = sd.spy(result)
    assert sum(len(c.get_offsets()) for c in ax2.collections) == pattern.nnz


def test_column_and_row_groups_follow_the_colors():
    pattern = _banded(9)
    col = coloring(pattern, "column")
    np.testing.assert_array_equal(entry_groups(col), col.column_colors[pattern.cols])
    row = coloring(pattern, "row")
    np.testing.assert_array_equal(entry_groups(row), row.row_colors[pattern.rows])


def test_bicoloring_separates_forward_and_reverse_entries():
    pattern = _arrowhead(8)
    result = coloring(pattern, "bidirectional")
    assert (result.num_forward, result.num_reverse) == (2, 1)
    groups = entry_groups(result)
    first_row = np.asarray(pattern.rows) == 0
    dense_row_rest = first_row & (np.asarray(pattern.cols) > 0)
    # the dense first row (beyond column 0) comes from the VJP, the rest from JVPs
    assert np.all(groups[dense_row_rest] >= result.num_forward)
    assert np.all(groups[~dense_row_rest] < result.num_forward)
    ax = sd.spy(pattern, coloring=result)
    markers = {len(c.get_offsets()): c for c in ax.collections}
    assert sorted(markers) == [7, 15]  # reverse entries and forward entries drawn apart
    fwd = markers[15].get_facecolors()[:, :3]
    rev = markers[7].get_facecolors()[:, :3]
    # forward shades are blue-green (blue > red), reverse ones red-orange (red > blue)
    assert np.all(fwd[:, 2] > fwd[:, 0]) and np.all(rev[:, 0] > rev[:, 2])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("JVP 0") and labels[-1].startswith("VJP 0")


def test_many_colors_get_distinct_palette_and_no_per_color_legend(tmp_path):
    pattern = _banded(60, half=15)
    result = coloring(pattern, "column")
    assert result.num_colors > 20
    ax = sd.spy(pattern, coloring=result)
    colors = ax.collections[0].get_facecolors()
    assert len({tuple(np.round(c, 6)) for c in colors}) == result.num_colors
    assert ax.get_legend() is None
    _save(ax, tmp_path / "many.png")


def test_binned_coloring(tmp_path):
    pattern = _banded(3000)
    result = coloring(pattern, "column")
    ax = sd.spy(pattern, coloring=result, max_pixels=200)
    (image,) = ax.images
    height, width, _ = image.get_array().shape
    assert height <= 200 and width <= 200
    assert image.get_extent() == [-0.5, 2999.5, 2999.5, -0.5]
    # every diagonal block holds nonzeros: opaque, and off-band corners are empty
    rgba = np.asarray(image.get_array())
    assert np.all(rgba[np.arange(height), np.arange(height), 3] == 1.0)
    assert rgba[0, -1, 3] == 0.0 and rgba[-1, 0, 3] == 0.0
    _save(ax, tmp_path / "binned.png")


def test_large_pattern_is_binned(tmp_path):
    pattern = _banded(10**6)
    ax = sd.spy(pattern)
    (image,) = ax.images
    assert max(image.get_array().shape[:2]) <= 1000
    assert not ax.collections  # no marker per nonzero
    target = tmp_path / "large.png"
    _save(ax, target)
    assert target.stat().st_size > 1000


def test_empty_and_degenerate_patterns(tmp_path):
    ax = sd.spy(SparsityPattern([], [], (4, 6)))
    assert not ax.collections and not ax.images
    _save(ax, tmp_path / "empty.png")
    ax = sd.spy(SparsityPattern(np.arange(500), np.zeros(500, int), (500, 1)))
    _save(ax, tmp_path / "column.png")


def test_bad_arguments():
    pattern = _banded(5)
    with pytest.raises(ValueError, match="coloring is of a"):
        sd.spy(pattern, coloring=coloring(_banded(6), "column"))
    with pytest.raises(TypeError, match="ColoringResult"):
        sd.spy(pattern, coloring="column")
    with pytest.raises(TypeError, match="SparsityPattern"):
        sd.spy("pattern")
    with pytest.raises(ValueError, match="2-D"):
        sd.spy(np.ones(3))
    with pytest.raises(ValueError, match="max_pixels"):
        sd.spy(pattern, max_pixels=0)


def test_title_counts_are_pluralised():
    diagonal = SparsityPattern(np.arange(4), np.arange(4), (4, 4))
    assert "row coloring: 1 VJP (" in sd.spy(coloring(diagonal, "row")).get_title()
    assert "column coloring: 1 JVP (" in sd.spy(coloring(diagonal, "column")).get_title()
    assert "coloring: 1 Hessian-vector product (" in sd.spy(coloring(diagonal, "star")).get_title()
    assert "2 JVPs + 1 VJP (" in sd.spy(coloring(_arrowhead(6), "bidirectional")).get_title()
