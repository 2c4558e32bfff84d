"""Generate the figures of the documentation (small PNGs next to this script).

Run from the repository root, with sparsediff and matplotlib installed::

    python docs/figures/make_figures.py

Every pattern and coloring drawn here is computed by sparsediff itself, so the
figures show what the library does on these small examples.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

import sparsediff as sd  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DPI = 100
PALETTE = [
    "#4477aa",
    "#ee6677",
    "#228833",
    "#ccbb44",
    "#66ccee",
    "#aa3377",
    "#bbbbbb",
    "#ee8866",
    "#117733",
    "#882255",
]
ZERO = "#f4f4f4"
GRID = "#ffffff"
DEFAULT = "#1f3f8f"


# -- helpers -------------------------------------------------------------------------
def _rgb_image(codes: np.ndarray, palette: list[str]) -> np.ndarray:
    """RGB image: ``codes == -1`` is a structural zero, ``k >= 0`` takes ``palette[k]``."""
    img = np.empty((*codes.shape, 3))
    img[...] = to_rgb(ZERO)
    for k, color in enumerate(palette):
        img[codes == k] = to_rgb(color)
    return img


def draw_matrix(ax, codes, palette=None, title=None, labels=None, fontsize=8):
    """Draw a small matrix as a grid of squares colored by ``codes``."""
    codes = np.asarray(codes)
    palette = palette or [DEFAULT]
    m, n = codes.shape
    ax.imshow(_rgb_image(codes, palette), interpolation="nearest", aspect="equal")
    ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, m, 1), minor=True)
    ax.grid(which="minor", color=GRID, linewidth=1.0)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if labels is not None:
        for (i, j), text in np.ndenumerate(labels):
            if text:
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color="white")
    if title:
        ax.set_title(title, fontsize=10)


def save(fig, name: str) -> None:
    path = HERE / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    print(f"wrote {path.relative_to(HERE.parent.parent)} ({path.stat().st_size // 1024} kB)")


def colored_by_column(pattern: sd.SparsityPattern, colors: np.ndarray) -> np.ndarray:
    codes = np.full(pattern.shape, -1)
    codes[pattern.rows, pattern.cols] = np.asarray(colors)[pattern.cols]
    return codes


# -- example functions (the same ones the explanation pages use) ------------------------
def laplacian_2d(u):
    """Five-point Laplacian of a 6 x 6 grid with zero boundary values."""
    p = jnp.pad(u, 1)
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u


def banded(x):
    """Each output depends on three consecutive inputs."""
    p = jnp.pad(x, 1)
    return p[:-2] * p[1:-1] + jnp.sin(p[2:])


def arrowhead(x):
    """A dense first row (a sum) and a dense first column (x[0] scales everything)."""
    return jnp.concatenate([jnp.sum(x)[None], x[0] * x[1:] ** 2])


def chain_energy(x):
    """Scalar energy whose Hessian is banded with bandwidth 2."""
    return jnp.sum((x[2:] - x[:-2]) ** 2 * x[1:-1]) + jnp.sum(x**4)


# -- figures ---------------------------------------------------------------------------
def fig_spy() -> None:
    """A five-point Laplacian and its column coloring, drawn by ``sparsediff.spy``."""
    pattern = sd.jacobian_sparsity(laplacian_2d, jax.ShapeDtypeStruct((6, 6), jnp.float32))
    result = sd.color(pattern, "column")
    fig, ax = plt.subplots(figsize=(4.0, 4.0))
    sd.spy(pattern, ax, coloring=result)
    save(fig, "spy.png")


def fig_column_coloring() -> None:
    x = jax.ShapeDtypeStruct((8,), jnp.float32)
    pattern = sd.jacobian_sparsity(banded, x)
    result = sd.color(pattern, "column")
    colors = np.asarray(result.column_colors)
    k = result.num_colors
    seeds = result.forward_seeds(np.int64)  # (n, k)
    dense = pattern.todense().astype(np.int64)
    compressed = dense @ seeds  # number of contributions per compressed entry (0 or 1)

    fig, axes = plt.subplots(
        1, 3, figsize=(7.2, 2.9), gridspec_kw={"width_ratios": [pattern.n, k, k]}
    )
    draw_matrix(axes[0], colored_by_column(pattern, colors), PALETTE, "J (columns colored)")
    seed_codes = np.where(seeds > 0, np.arange(k)[None, :], -1)
    draw_matrix(axes[1], seed_codes, PALETTE, "S (seeds)", labels=np.where(seeds > 0, "1", ""))
    comp_codes = np.full(compressed.shape, -1)
    for c in range(k):
        comp_codes[compressed[:, c] > 0, c] = c
    draw_matrix(axes[2], comp_codes, PALETTE, "B = J S")
    fig.suptitle(
        f"{pattern.n} columns, {k} colors: {k} JVPs instead of {pattern.n}", fontsize=10, y=1.02
    )
    save(fig, "column_coloring.png")


def fig_star_coloring() -> None:
    x = jax.ShapeDtypeStruct((8,), jnp.float32)
    pattern = sd.hessian_sparsity(chain_energy, x)
    star = sd.color(pattern, "star")
    acyclic = sd.color(pattern, "acyclic")
    fig, axes = plt.subplots(1, 2, figsize=(6.0, 3.2))
    draw_matrix(
        axes[0],
        colored_by_column(pattern, star.column_colors),
        PALETTE,
        f"star coloring: {star.num_colors} HVPs",
    )
    draw_matrix(
        axes[1],
        colored_by_column(pattern, acyclic.column_colors),
        PALETTE,
        f"acyclic coloring: {acyclic.num_colors} HVPs",
    )
    save(fig, "star_acyclic.png")


def fig_bicoloring() -> None:
    x = jax.ShapeDtypeStruct((10,), jnp.float32)
    pattern = sd.jacobian_sparsity(arrowhead, x)
    column = sd.color(pattern, "column")
    bi = sd.color(pattern, "bidirectional")
    # which pass each nonzero is read from (forward colors first, then reverse ones)
    plan = bi.plan
    src = np.full(pattern.nnz, -1, dtype=np.int64)
    src[np.asarray(plan.direct_nz)] = np.asarray(plan.direct_src)
    m, n = pattern.shape
    fwd_size = m * bi.num_forward
    group = np.where(src < fwd_size, src % max(bi.num_forward, 1), bi.num_forward)
    group += np.where(src >= fwd_size, (src - fwd_size) // n, 0)
    codes = np.full(pattern.shape, -1)
    codes[pattern.rows, pattern.cols] = group
    palette = ["#4477aa", "#66ccee", "#ee6677", "#ee8866"]
    fig, axes = plt.subplots(1, 2, figsize=(6.0, 3.2))
    draw_matrix(
        axes[0],
        colored_by_column(pattern, column.column_colors),
        PALETTE,
        f"column coloring: {column.num_colors} JVPs",
    )
    draw_matrix(
        axes[1],
        codes,
        palette,
        f"bicoloring: {bi.num_forward} JVPs + {bi.num_reverse} VJP",
    )
    save(fig, "bicoloring.png")


def fig_global_local() -> None:
    def f(x):
        return jnp.where(x > 0, x**2, 0.0) + 0.5 * jnp.roll(x, 1) * (x > 1)

    x = jnp.array([1.5, -1.0, 0.5, 2.0, -0.5, 3.0])
    global_pattern = sd.jacobian_sparsity(f, x)
    local = np.asarray(jax.jacfwd(f)(x)) != 0
    fig, axes = plt.subplots(1, 2, figsize=(5.6, 3.0))
    draw_matrix(
        axes[0],
        np.where(global_pattern.todense(), 0, -1),
        title=f"global pattern ({global_pattern.nnz} entries)",
    )
    draw_matrix(
        axes[1],
        np.where(local, 2, np.where(global_pattern.todense(), 6, -1)),
        PALETTE,
        f"nonzero at one x ({int(local.sum())} entries)",
    )
    save(fig, "global_local.png")


def fig_pipeline() -> None:
    stages = [
        ("detection", "jaxpr → pattern"),
        ("coloring", "pattern → colors"),
        ("compressed AD", "one JVP/VJP/HVP\nper color"),
        ("decompression", "B → J or H"),
    ]
    fig, ax = plt.subplots(figsize=(8.0, 1.5))
    ax.set_xlim(0, 8)
    ax.set_ylim(0, 1.5)
    ax.axis("off")
    for i, (name, detail) in enumerate(stages):
        x0 = 0.1 + 2.0 * i
        color = PALETTE[0] if i < 2 else PALETTE[2]
        box = FancyBboxPatch(
            (x0, 0.25), 1.6, 1.0, boxstyle="round,pad=0.02", facecolor=color, edgecolor="none"
        )
        ax.add_patch(box)
        ax.text(x0 + 0.8, 0.95, name, ha="center", va="center", color="white", fontsize=10)
        ax.text(x0 + 0.8, 0.55, detail, ha="center", va="center", color="white", fontsize=8)
        if i < len(stages) - 1:
            ax.add_patch(
                FancyArrowPatch(
                    (x0 + 1.65, 0.75), (x0 + 2.05, 0.75), arrowstyle="-|>", mutation_scale=12
                )
            )
    ax.text(2.0, 0.05, "preparation: once per shape", ha="center", fontsize=8, color=PALETTE[0])
    ax.text(6.0, 0.05, "evaluation: every call, jitted", ha="center", fontsize=8, color=PALETTE[2])
    save(fig, "pipeline.png")


def main() -> None:
    fig_pipeline()
    fig_spy()
    fig_column_coloring()
    fig_star_coloring()
    fig_bicoloring()
    fig_global_local()


if __name__ == "__main__":
    main()
