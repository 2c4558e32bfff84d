"""Pattern generators and an independent compress-then-decompress check."""

from __future__ import annotations

import numpy as np

from sparsediff import SparsityPattern
from sparsediff.coloring import (
    BidirectionalProblem,
    ColoringResult,
    RowProblem,
    SymmetricProblem,
    check_coloring,
)

PROBLEMS = ("column", "row", "symmetric", "acyclic", "bidirectional", "acyclic_bicoloring")
ORDERS = (
    "natural",
    "random",
    "largest_first",
    "smallest_last",
    "incidence_degree",
    "dynamic_largest_first",
    "reversed:largest_first",
)


def banded(n: int, lower: int, upper: int, m: int | None = None) -> SparsityPattern:
    """Diagonals ``-lower .. upper`` of an ``(m, n)`` matrix (``m = n`` by default)."""
    m = n if m is None else m
    r, c = [], []
    for d in range(-lower, upper + 1):
        i = np.arange(m)
        j = i + d
        keep = (j >= 0) & (j < n)
        r.append(i[keep])
        c.append(j[keep])
    return SparsityPattern.from_coo(np.concatenate(r), np.concatenate(c), (m, n))


def arrowhead(n: int, m: int | None = None) -> SparsityPattern:
    """Diagonal plus a dense first row and a dense first column."""
    m = n if m is None else m
    k = min(m, n)
    r = np.concatenate([np.arange(k), np.zeros(n, dtype=int), np.arange(m)])
    c = np.concatenate([np.arange(k), np.arange(n), np.zeros(m, dtype=int)])
    return SparsityPattern.from_coo(r, c, (m, n))


def grid_stencil(q: int, points: int = 5, periodic: bool = False) -> SparsityPattern:
    """Jacobian pattern of a 5-point (star) or 9-point (box) stencil on a ``q x q`` grid."""
    offsets = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    if points == 9:
        offsets += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    ii, jj = np.meshgrid(np.arange(q), np.arange(q), indexing="ij")
    r, c = [], []
    for di, dj in offsets:
        i2, j2 = ii + di, jj + dj
        if periodic:
            i2, j2 = i2 % q, j2 % q
            keep = np.ones_like(i2, dtype=bool)
        else:
            keep = (i2 >= 0) & (i2 < q) & (j2 >= 0) & (j2 < q)
        r.append((ii * q + jj)[keep])
        c.append((i2 * q + j2)[keep])
    return SparsityPattern.from_coo(np.concatenate(r), np.concatenate(c), (q * q, q * q))


def block_diagonal(sizes: list[int]) -> SparsityPattern:
    """Dense square blocks on the diagonal."""
    r, c, off = [], [], 0
    for s in sizes:
        i, j = np.meshgrid(np.arange(s), np.arange(s), indexing="ij")
        r.append(off + i.ravel())
        c.append(off + j.ravel())
        off += s
    return SparsityPattern.from_coo(np.concatenate(r), np.concatenate(c), (off, off))


def random_pattern(m: int, n: int, density: float, seed: int) -> SparsityPattern:
    rng = np.random.default_rng(seed)
    return SparsityPattern.from_dense(rng.random((m, n)) < density)


def random_symmetric(n: int, per_row: float, seed: int, diagonal: bool = True) -> SparsityPattern:
    rng = np.random.default_rng(seed)
    k = int(n * per_row / 2)
    r, c = rng.integers(0, n, k), rng.integers(0, n, k)
    rr, cc = np.concatenate([r, c]), np.concatenate([c, r])
    if diagonal:
        rr, cc = np.concatenate([rr, np.arange(n)]), np.concatenate([cc, np.arange(n)])
    return SparsityPattern.from_coo(rr, cc, (n, n))


def random_matrix(result: ColoringResult, seed: int = 1) -> np.ndarray:
    """Dense random integers on the pattern; symmetric (on the mirrored pattern) if needed."""
    p = result.pattern
    rng = np.random.default_rng(seed)
    a = np.zeros(p.shape)
    if isinstance(result.problem, SymmetricProblem):
        mask = p.todense() | p.todense().T
        upper = np.triu(mask)
        a[upper] = rng.integers(1, 10**6, size=int(upper.sum()))
        return a + np.triu(a, 1).T
    a[p.rows, p.cols] = rng.integers(1, 10**6, size=p.nnz)
    return a


def assert_roundtrip(result: ColoringResult, seed: int = 1) -> None:
    """Compress a random matrix with dense numpy products, decompress, compare exactly."""
    a = random_matrix(result, seed)
    p = result.pattern
    if isinstance(result.problem, SymmetricProblem):
        np.testing.assert_array_equal(a, a.T)
    sf = result.forward_seeds()
    sr = result.reverse_seeds()
    if isinstance(result.problem, BidirectionalProblem):
        compressed = (a @ sf, sr.T @ a)
        ours = result.compress(a)
        np.testing.assert_array_equal(ours[0], compressed[0])
        np.testing.assert_array_equal(ours[1], compressed[1])
    elif isinstance(result.problem, RowProblem):
        compressed = sr.T @ a
        np.testing.assert_array_equal(result.compress(a), compressed)
    else:
        compressed = a @ sf
        np.testing.assert_array_equal(result.compress(a), compressed)
    values = result.decompress(compressed)
    np.testing.assert_array_equal(values, a[p.rows, p.cols])
    dense = result.to_dense(compressed)
    np.testing.assert_array_equal(dense, np.where(p.todense(), a, 0))


def assert_valid(pattern: SparsityPattern, result: ColoringResult) -> None:
    check_coloring(pattern, result)
    assert_roundtrip(result)
    assert result.num_colors >= result.lower_bound
    assert result.num_colors == result.num_forward + result.num_reverse
    assert len(result.groups) == result.num_colors
