"""``spy``: draw a sparsity pattern, or a coloring of one, with matplotlib.

Small patterns are drawn as one square marker per nonzero, sized so that the
markers of neighbouring entries touch.  Larger ones (more than ``max_pixels``
rows or columns, or more than ``max_markers`` nonzeros) are binned: the matrix
is cut into at most ``max_pixels × max_pixels`` rectangular blocks and each
block holding a nonzero is one pixel of an image, so that a pattern with
millions of rows and nonzeros draws in about a second (the work is a few
O(nnz) numpy passes).

With a coloring each nonzero gets the color of the AD pass it is read from:
the color of its column for column coloring (forward mode), of its row for row
coloring (reverse mode), the Hessian-vector product it is read from for
symmetric colorings.  For bicoloring, entries read from forward passes (JVPs)
take blue-green shades and square markers, those read from reverse passes
(VJPs) red-orange shades and round markers.  Entries recovered by substitution
(acyclic colorings) take the color of their column (or of their row when the
column is neutral).  In a binned image, a block shows the color most of its
nonzeros have.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._text import plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["spy", "MATPLOTLIB_MISSING"]

#: Message of the ImportError raised when matplotlib is not installed.
MATPLOTLIB_MISSING = (
    'sparsediff.spy needs matplotlib, which is not installed: pip install "sparsediff[plot]" '
    "(or pip install matplotlib)"
)

_DEFAULT_COLOR = "#1f3f8f"
_LEGEND_MAX = 12
#: Markers smaller than this (points) would be invisible: the pattern is binned instead.
_MIN_MARKER = 1.5
#: Screen pixels per bin (at least) of a binned pattern.
_BIN_PIXELS = 2.0
_GOLDEN = 0.6180339887498949


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(MATPLOTLIB_MISSING) from err
    return plt


def _matplotlib() -> Any:
    try:
        import matplotlib
        import matplotlib.colors  # noqa: F401
        import matplotlib.lines  # noqa: F401
        import matplotlib.ticker  # noqa: F401
    except ImportError as err:
        raise ImportError(MATPLOTLIB_MISSING) from err
    return matplotlib


# ---------------------------------------------------------------------- inputs
def _as_pattern_and_coloring(obj: Any, coloring: Any) -> tuple[Any, Any]:
    from ..coloring import ColoringResult
    from ..patterns import SparsityPattern

    if isinstance(obj, ColoringResult):
        if coloring is not None and coloring is not obj:
            raise ValueError("give the coloring either as the first argument or as coloring=")
        return obj.pattern, obj
    if isinstance(obj, SparsityPattern):
        pattern = obj
    elif hasattr(obj, "tocoo") and not isinstance(obj, np.ndarray):
        pattern = SparsityPattern.from_scipy(obj)
    elif isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        dense = np.asarray(obj)
        if dense.ndim != 2:
            raise ValueError(f"spy needs a 2-D matrix, got an array of shape {dense.shape}")
        pattern = SparsityPattern.from_dense(dense != 0)
    else:
        raise TypeError(
            "spy takes a SparsityPattern, a ColoringResult, a scipy sparse matrix or a "
            f"2-D array, got {type(obj).__name__}"
        )
    if coloring is not None:
        if not isinstance(coloring, ColoringResult):
            raise TypeError(f"coloring must be a ColoringResult, got {type(coloring).__name__}")
        if coloring.pattern.shape != pattern.shape:
            raise ValueError(
                f"the coloring is of a {coloring.pattern.shape} pattern, the pattern is "
                f"{pattern.shape}"
            )
    return pattern, coloring


# ---------------------------------------------------------------------- groups
def entry_groups(result: Any) -> np.ndarray:
    """Group of every nonzero (row-major): forward colors ``0 .. F-1``, reverse ``F .. F+R-1``.

    Directly read entries get the color of the product they are read from;
    substituted ones that of their column, or of their row if the column is
    neutral.  ``-1`` marks entries with neither (none for valid colorings).
    """
    pattern, plan = result.pattern, result.plan
    nnz = pattern.nnz
    groups = np.full(nnz, -1, dtype=np.int64)
    src = np.full(nnz, -1, dtype=np.int64)
    src[np.asarray(plan.direct_nz, dtype=np.int64)] = plan.direct_src
    offset = 0
    for name, (r, c) in plan.blocks:
        inside = (src >= offset) & (src < offset + r * c)
        local = src[inside] - offset
        if name == "forward":  # (rows, num_forward) block: entry -> its column color
            groups[inside] = local % c
        else:  # (num_reverse, n) block: entry -> its row color
            groups[inside] = result.num_forward + local // c
        offset += r * c
    rest = np.flatnonzero(groups < 0)
    if rest.size:
        rows = np.asarray(pattern.rows, dtype=np.int64)[rest]
        cols = np.asarray(pattern.cols, dtype=np.int64)[rest]
        colc = result.column_colors
        rowc = result.row_colors
        fill = np.full(rest.size, -1, dtype=np.int64)
        if colc is not None:
            fill = np.asarray(colc, dtype=np.int64)[cols]
            if result.problem.name == "symmetric":  # the row's color is a column color too
                fill = np.where(fill >= 0, fill, np.asarray(colc, dtype=np.int64)[rows])
        if rowc is not None:
            by_row = np.asarray(rowc, dtype=np.int64)[rows]
            fill = np.where(fill >= 0, fill, np.where(by_row >= 0, by_row + result.num_forward, -1))
        groups[rest] = fill
    return groups


def _spread(k: int, start: float = 0.0) -> np.ndarray:
    """``k`` positions in ``[0, 1)`` with neighbours far apart (golden-ratio steps)."""
    return (start + _GOLDEN * np.arange(k)) % 1.0


def _palette(k: int, family: str | None = None) -> np.ndarray:
    """``(k, 4)`` RGBA colors, neighbouring indices clearly different."""
    mpl = _matplotlib()
    if k == 0:
        return np.zeros((0, 4))
    if family is None:
        if k <= 10:
            return np.asarray(mpl.colormaps["tab10"](np.arange(k)))
        if k <= 20:
            return np.asarray(mpl.colormaps["tab20"](np.arange(k)))
        hues = _spread(k)
        sat = 0.55 + 0.35 * _spread(k, 0.3)
        val = 0.6 + 0.35 * _spread(k, 0.7)
        rgb = mpl.colors.hsv_to_rgb(np.stack([hues, sat, val], axis=1))
        return np.concatenate([rgb, np.ones((k, 1))], axis=1)
    # Bicoloring: a band of hues per direction (blue-green forward, red-orange reverse).
    lo, hi = (0.45, 0.72) if family == "forward" else (-0.02, 0.12)
    hues = (lo + (hi - lo) * _spread(k, 0.5)) % 1.0
    val = 0.55 + 0.4 * _spread(k, 0.2)
    rgb = mpl.colors.hsv_to_rgb(np.stack([hues, np.full(k, 0.85), val], axis=1))
    return np.concatenate([rgb, np.ones((k, 1))], axis=1)


def _coloring_palette(result: Any) -> tuple[np.ndarray, int]:
    """RGBA per group (forward then reverse), and the number of forward groups."""
    f, r = result.num_forward, result.num_reverse
    if result.problem.name == "bidirectional":
        return np.concatenate([_palette(f, "forward"), _palette(r, "reverse")]), f
    return _palette(f + r), f


# ---------------------------------------------------------------------- drawing
def _axes_pixels(ax: Any) -> tuple[float, float]:
    """Width and height of the axes' drawing area, in display pixels."""
    try:
        ax.apply_aspect()
    except Exception:  # noqa: BLE001 - the layout is refined when drawing anyway
        pass
    box = ax.get_window_extent()
    return max(box.width, 1.0), max(box.height, 1.0)


def _cell_points(ax: Any, m: int, n: int) -> float:
    """Size in points of one matrix entry on the axes (the smaller of width and height)."""
    width, height = _axes_pixels(ax)
    scale = 72.0 / ax.figure.dpi
    return min(width * scale / max(n, 1), height * scale / max(m, 1))


def _binned_image(
    rows: np.ndarray,
    cols: np.ndarray,
    groups: np.ndarray | None,
    colors: np.ndarray,
    shape: tuple[int, int],
    bins: tuple[int, int],
) -> np.ndarray:
    """RGBA image of ``bins`` pixels: each pixel takes its block's most frequent group."""
    m, n = shape
    bh, bw = bins
    pixel = (rows.astype(np.int64) * bh // m) * bw + cols.astype(np.int64) * bw // n
    image = np.zeros((bh * bw, 4))
    if groups is None:
        hit = np.bincount(pixel, minlength=bh * bw) > 0
        image[hit] = colors[0]
        return image.reshape(bh, bw, 4)
    shifted = groups + 1  # -1 (no group) -> 0, drawn in grey
    base = int(shifted.max()) + 1 if shifted.size else 1
    keys, counts = np.unique(pixel * base + shifted, return_counts=True)
    pix, grp = keys // base, keys % base
    order = np.lexsort((counts, pix))  # by pixel, most frequent group last
    pix, grp = pix[order], grp[order]
    last = np.flatnonzero(np.append(pix[1:] != pix[:-1], True))
    table = np.concatenate([[(0.5, 0.5, 0.5, 1.0)], colors])
    image[pix[last]] = table[grp[last]]
    return image.reshape(bh, bw, 4)


def _legend(ax: Any, result: Any, colors: np.ndarray, n_forward: int, counts: np.ndarray):
    from matplotlib.lines import Line2D

    bidir = result.problem.name == "bidirectional"
    k = colors.shape[0]

    def handle(color: Any, marker: str, label: str) -> Any:
        return Line2D([], [], linestyle="", marker=marker, markersize=8, color=color, label=label)

    handles = []
    if k <= _LEGEND_MAX:
        for g in range(k):
            if bidir:
                fwd = g < n_forward
                label = f"JVP {g}" if fwd else f"VJP {g - n_forward}"
                marker = "s" if fwd else "o"
            else:
                label, marker = f"color {g}", "s"
            handles.append(handle(colors[g], marker, f"{label} ({int(counts[g]):,} nz)"))
    elif bidir:
        if n_forward:
            handles.append(handle(colors[0], "s", f"forward (JVP): {n_forward} colors"))
        if k - n_forward:
            handles.append(handle(colors[n_forward], "o", f"reverse (VJP): {k - n_forward} colors"))
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="small",
            frameon=False,
            borderaxespad=0.0,
        )


def _title(pattern: Any, result: Any) -> str:
    m, n = pattern.shape
    head = f"{m:,}×{n:,}, {pattern.nnz:,} nonzeros"
    if result is None:
        return head
    prob = result.problem
    if prob.name == "bidirectional":
        kind = "star" if prob.decompression_kind == "direct" else "acyclic"
        counts = (
            f"{kind} bicoloring: {plural(result.num_forward, 'JVP')} + "
            f"{plural(result.num_reverse, 'VJP')}"
        )
    elif prob.name == "symmetric":
        kind = "star" if prob.decompression_kind == "direct" else "acyclic"
        counts = f"{kind} coloring: {plural(result.num_colors, 'Hessian-vector product')}"
    else:
        unit = "VJP" if prob.name == "row" else "JVP"
        counts = f"{prob.name} coloring: {plural(result.num_colors, unit)}"
    return f"{head}; {counts} (lower bound {result.lower_bound})"


def spy(
    pattern_or_coloring: Any,
    ax: Any = None,
    *,
    coloring: Any = None,
    markersize: float | None = None,
    max_pixels: int = 1000,
    max_markers: int = 200_000,
    color: Any = _DEFAULT_COLOR,
    title: str | bool = True,
    legend: bool = True,
    aspect: str | float | None = None,
) -> Axes:
    """Draw a sparsity pattern, colored by color group when a coloring is given.

    Args:
        pattern_or_coloring: a :class:`~sparsediff.SparsityPattern`, a
            :class:`~sparsediff.coloring.ColoringResult` (it holds its pattern),
            a ``scipy.sparse`` matrix or a 2-D array (its nonzeros).
        ax: matplotlib ``Axes`` to draw on; default: a new figure
            (``matplotlib.pyplot.subplots``).
        coloring: a :class:`~sparsediff.coloring.ColoringResult` of the pattern:
            each nonzero takes the color of the AD pass it is read from (see
            :mod:`sparsediff.plotting.spyplot`).
        markersize: marker size in points; default: one matrix entry.
        max_pixels: above this many rows or columns the pattern is binned into
            an image of at most ``max_pixels × max_pixels`` blocks.
        max_markers: patterns with more nonzeros are binned too.
        color: color of the nonzeros without a coloring.
        title: ``True`` for a title with the shape and the counts, a string for
            that title, ``False`` for none.
        legend: a legend of the color groups (when there are at most 12, or
            for bicoloring, one entry per direction).
        aspect: ``"equal"``, ``"auto"`` or a number; default ``"equal"`` unless
            the matrix is more than 10 times longer one way than the other.

    Returns:
        The matplotlib ``Axes``.

    Raises:
        ImportError: if matplotlib is not installed (``pip install "sparsediff[plot]"``).

    Example::

        >>> import sparsediff as sd
        >>> result = sd.color(pattern, "bidirectional")      # doctest: +SKIP
        >>> ax = sd.spy(pattern, coloring=result)               # doctest: +SKIP
        >>> ax.figure.savefig("pattern.png")                    # doctest: +SKIP
    """
    mpl = _matplotlib()
    pattern, result = _as_pattern_and_coloring(pattern_or_coloring, coloring)
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be at least 1, got {max_pixels}")
    m, n = pattern.shape
    if aspect is None:
        ratio = max(m, n) / max(min(m, n), 1)
        aspect = "equal" if ratio <= 10 else "auto"
    if ax is None:
        plt = _pyplot()
        width = 6.0
        height = min(max(width * m / max(n, 1), 2.0), 9.0) if aspect == "equal" else 5.0
        extra = 2.6 if result is not None and legend else 0.0
        _, ax = plt.subplots(figsize=(width + extra, height), layout="constrained")

    rows = np.asarray(pattern.rows)
    cols = np.asarray(pattern.cols)
    groups: np.ndarray | None = None
    colors: np.ndarray | None = None
    n_forward = 0
    if result is not None:
        groups = entry_groups(result)
        colors, n_forward = _coloring_palette(result)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(m - 0.5, -0.5)
    ax.set_aspect(aspect)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(mpl.ticker.MaxNLocator(nbins=6, integer=True))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    if result is not None and legend and groups is not None and colors is not None:
        counts = np.bincount(groups[groups >= 0], minlength=colors.shape[0])
        _legend(ax, result, colors, n_forward, counts)
    if title is True:
        ax.set_title(_title(pattern, result), fontsize="medium")
    elif title:
        ax.set_title(str(title), fontsize="medium")
    # Lay the figure out first (legend, title): marker and bin sizes follow the final axes.
    engine = ax.figure.get_layout_engine()
    if engine is not None:
        engine.execute(ax.figure)

    cell = _cell_points(ax, m, n)
    binned = (
        max(m, n) > max_pixels
        or pattern.nnz > max_markers
        or (markersize is None and cell < _MIN_MARKER)
    )
    if pattern.nnz == 0:
        pass
    elif binned:
        # At least two screen pixels per bin: a finer image would drop rows when drawn,
        # and a lone dense row or column (the first, say, along the frame) stays visible.
        width, height = _axes_pixels(ax)
        bins = (
            max(1, min(m, max_pixels, int(height / _BIN_PIXELS))),
            max(1, min(n, max_pixels, int(width / _BIN_PIXELS))),
        )
        palette = colors if colors is not None else np.asarray([mpl.colors.to_rgba(color)])
        image = _binned_image(rows, cols, groups, palette, (m, n), bins)
        ax.imshow(
            image,
            extent=(-0.5, n - 0.5, m - 0.5, -0.5),
            interpolation="nearest",
            aspect=aspect,
            origin="upper",
            zorder=3,  # above the frame, which would hide the first and last rows
        )
    else:
        size = markersize if markersize is not None else 0.9 * cell
        area = size**2
        if groups is None:
            ax.scatter(cols, rows, s=area, marker="s", c=[color], linewidths=0)
        else:
            table = np.concatenate([[(0.5, 0.5, 0.5, 1.0)], colors])
            rgba = table[groups + 1]
            reverse = groups >= n_forward
            bidir = result.problem.name == "bidirectional"
            for mask, marker in ((~reverse, "s"), (reverse, "o" if bidir else "s")):
                if mask.any():
                    ax.scatter(
                        cols[mask], rows[mask], s=area, marker=marker, c=rgba[mask], linewidths=0
                    )
    return ax
