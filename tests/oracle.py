"""Dense oracles: Jacobians/Hessians by JAX's own AD at random points.

What counts as a non-zero entry. Detection promises a pattern that holds every
entry that is non-zero at *some* input. Dense AD can also produce ``inf`` and
``NaN`` (``x / c`` where the constant ``c`` is 0; ``0 * inf`` inside a tangent):

- a finite non-zero and ``±inf`` are non-zeros: the pattern must hold them;
  ``0.0`` and ``-0.0`` never are;
- ``NaN`` is a non-zero only when the seed caused it: entry ``(i, j)`` is NaN
  along the basis vector ``e_j`` while output ``i``'s tangent along the zero
  direction is not NaN.

A NaN that the zero direction gives too (``0 * inf`` from a constant: every
entry of the row of ``x / c`` where ``c == 0`` is NaN, and so is every entry of
``c / x``'s row at ``x == 0``) is the same for every seed, so compressed AD
returns NaN for that row whatever the pattern is: the entry is undefined at that
point and constrains nothing there. This is the test compressed AD needs (a
column outside the pattern must not change a row's tangent). A zero never counts
even where the zero direction gives NaN: under ``jit`` XLA may fold ``0 / c`` to
0 where IEEE arithmetic gives NaN. The looser rule
"NaN counts unless it is NaN at every point" would demand whole rows that are
NaN at one point only (``c / x`` at ``x == 0``), which no pattern can honour
without being dense; the stricter rule "NaN never counts" misses a NaN that only
the seed causes. Reverse mode (``custom_vjp``) compares with the zero cotangent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def _random_like(tree, rng):
    def leaf(x):
        shape = np.shape(x)
        dtype = x.dtype if hasattr(x, "dtype") else np.float32
        return rng.normal(size=shape).astype(dtype)

    return jax.tree_util.tree_map(leaf, tree)


def _flat_function(f, args, argnums, hessian, has_aux, kwargs):
    """``(g, flat)``: ``f`` as a function of the flattened selected arguments."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    sel = tuple(args[i] for i in nums)
    flat, unravel = ravel_pytree(sel)

    def g(flat_x):
        full = list(args)
        for i, v in zip(nums, unravel(flat_x)):
            full[i] = v
        out = f(*full, **kwargs)
        if has_aux:
            out = out[0]
        if hessian:
            return jnp.reshape(out, ())
        return ravel_pytree(out)[0]

    return (jax.grad(g) if hessian else g), flat


def counts_as_nonzero(vals, base) -> np.ndarray:
    """Which derivative entries count as non-zero (see the module docstring).

    ``vals``: the entries; ``base``: the derivative along the zero direction,
    broadcast against ``vals`` (a column of rows for forward mode, a row of columns
    for reverse mode).
    """
    vals, base = np.asarray(vals), np.asarray(base)
    nan = np.isnan(vals)
    return (~nan & (vals != 0)) | (nan & ~np.isnan(base))


def _forward_values(g, flat):
    """``(J, base)``: the tangents along each basis vector, shape (m, n), and along 0, (m,)."""
    n, m = flat.size, jax.eval_shape(g, flat).size

    def push(t):
        return jax.jvp(g, (flat,), (t,))[1]

    cols = np.asarray(jax.vmap(push)(jnp.eye(n, dtype=flat.dtype))).reshape(n, m)
    base = np.asarray(push(jnp.zeros_like(flat))).reshape(-1)
    return cols.T, base[:, None]


def _reverse_values(g, flat):
    """``(J, base)``: the cotangents of each basis output, shape (m, n), and of 0, (1, n)."""
    out, pull = jax.vjp(g, flat)
    m = out.size

    def back(c):
        return pull(c)[0]

    rows = np.asarray(jax.vmap(back)(jnp.eye(m, dtype=out.dtype))).reshape(m, flat.size)
    base = np.asarray(back(jnp.zeros_like(out))).reshape(1, -1)
    return rows, base


def _values(g, flat):
    try:
        return _forward_values(g, flat)
    except TypeError:  # custom_vjp functions only support reverse mode
        return _reverse_values(g, flat)


def dense_jacobian(f, args, argnums=0, hessian=False, has_aux=False, **kwargs):
    """The flattened dense Jacobian (or Hessian) of f at ``args``: shape (m, n)."""
    g, flat = _flat_function(f, args, argnums, hessian, has_aux, kwargs)
    return _values(g, flat)[0]


def nonzero_entries(f, args, argnums=0, hessian=False, has_aux=False, **kwargs):
    """Entries of the Jacobian (Hessian) that count as non-zero at ``args``: (m, n) bool.

    See the module docstring: ``±inf`` counts, NaN counts only where the zero
    direction does not give NaN as well.
    """
    g, flat = _flat_function(f, args, argnums, hessian, has_aux, kwargs)
    vals, base = _values(g, flat)
    return counts_as_nonzero(vals, base)


def oracle_union(f, args, argnums=0, hessian=False, points=4, seed=0, has_aux=False, **kwargs):
    """Union of the non-zeros of the dense derivative at several random points."""
    rng = np.random.default_rng(seed)
    acc = None
    for _ in range(points):
        a = list(args)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        for i in nums:
            a[i] = _random_like(args[i], rng)
        d = nonzero_entries(f, a, argnums, hessian, has_aux, **kwargs)
        acc = d if acc is None else acc | d
    return acc


def assert_sound(pattern, f, args, argnums=0, hessian=False, has_aux=False, points=4, **kw):
    truth = oracle_union(f, args, argnums, hessian, points, has_aux=has_aux, **kw)
    dense = pattern.todense()
    assert dense.shape == truth.shape, (dense.shape, truth.shape)
    missing = np.argwhere(truth & ~dense)
    assert missing.size == 0, f"unsound: pattern misses entries {missing[:10].tolist()}"
    return truth


def assert_exact(pattern, f, args, argnums=0, hessian=False, has_aux=False, points=4, **kw):
    """The pattern is sound and holds nothing that dense AD never shows at the points."""
    truth = assert_sound(pattern, f, args, argnums, hessian, has_aux, points, **kw)
    extra = np.argwhere(pattern.todense() & ~truth)
    assert extra.size == 0, f"inexact: pattern has extra entries {extra[:10].tolist()}"
    return truth
