"""Drawing helpers shared by the op generators: constants, axes, indices, shapes."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "VALUES",
    "MAX_SIZE",
    "const",
    "mask",
    "axis",
    "indices",
    "starts",
    "small_shape",
    "BODIES",
    "body",
]

#: values of drawn constants: exact zeros and repeats on purpose
VALUES = np.array([0.0, 0.0, 1.0, -1.0, 0.5, 2.0, -1.5], np.float32)
#: largest number of elements of any intermediate value
MAX_SIZE = 64


def const(rng: np.random.Generator, shape) -> np.ndarray:
    """A float32 constant of ``shape`` with exact zeros (sometimes all zero or zero-free)."""
    r = rng.random()
    vals = VALUES
    if r < 0.1:
        return np.zeros(shape, np.float32)
    if r < 0.25:
        vals = VALUES[VALUES != 0]
    return rng.choice(vals, size=shape).astype(np.float32)


def mask(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.random(shape) < rng.choice([0.2, 0.5, 0.8])


def axis(rng: np.random.Generator, shape) -> int | None:
    return int(rng.integers(len(shape))) if shape else None


def indices(rng: np.random.Generator, n: int, k: int | None = None) -> np.ndarray:
    """int32 indices into an axis of length ``n``: in range, negative, duplicated and
    out of range (both ends)."""
    k = int(rng.integers(1, 6)) if k is None else k
    lo, hi = -n - 2, n + 2
    if rng.random() < 0.4:  # in range only (negative ones included)
        lo, hi = -n, n - 1
    return rng.integers(lo, hi + 1, size=k).astype(np.int32)


def starts(rng: np.random.Generator, shape, sizes) -> tuple[int, ...]:
    """Constant starts of a dynamic slice: in range, negative and past the end."""
    return tuple(int(rng.integers(-2, s - z + 3)) for s, z in zip(shape, sizes))


def small_shape(rng: np.random.Generator, size: int) -> tuple[int, ...]:
    """A random shape of exactly ``size`` elements (rank 1 to 3)."""
    factors = []
    n = size
    p = 2
    while n > 1 and p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    rank = int(rng.integers(1, 4))
    dims = [1] * rank
    for f in factors:
        dims[int(rng.integers(rank))] *= f
    assert math.prod(dims) == size
    return tuple(dims)


#: shape-preserving bodies of branches and loops (``{a}``: the value), values kept bounded
BODIES = {
    "half": "{a} * 0.5 + 0.25",
    "sin": "jnp.sin({a})",
    "flip": "jnp.flip({a})",
    "roll": "jnp.roll({a}, 1)",
    "cumsum": "jnp.tanh(jnp.cumsum({a}.ravel())).reshape({a}.shape)",
    "zero": "{a} * 0.0",
    "floor": "jnp.floor({a})",
    "mix": "jnp.tanh({a}) + 0.5 * jnp.roll({a}, 1)",
    "first": "jnp.zeros_like({a}) + jnp.tanh({a}.ravel()[0])",
    "sort": "jnp.sort({a}.ravel()).reshape({a}.shape)",
}


def body(rng: np.random.Generator) -> str:
    return str(rng.choice(sorted(BODIES)))
