"""Dense oracles: Jacobians/Hessians by jax.jacfwd / jax.hessian at random points."""

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


def dense_jacobian(f, args, argnums=0, hessian=False, has_aux=False, **kwargs):
    """The flattened dense Jacobian (or Hessian) of f at ``args``: shape (m, n)."""
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

    if hessian:
        mat = jax.hessian(g)(flat)
    else:
        try:
            mat = jax.jacfwd(g)(flat)
        except TypeError:  # custom_vjp functions only support reverse mode
            mat = jax.jacrev(g)(flat)
    return np.asarray(mat).reshape(-1, flat.size)


def oracle_union(f, args, argnums=0, hessian=False, points=4, seed=0, has_aux=False, **kwargs):
    """Union of the non-zeros of the dense derivative at several random points."""
    rng = np.random.default_rng(seed)
    acc = None
    for _ in range(points):
        a = list(args)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        for i in nums:
            a[i] = _random_like(args[i], rng)
        d = np.abs(dense_jacobian(f, a, argnums, hessian, has_aux, **kwargs)) > 0
        acc = d if acc is None else acc | d
    return acc


def assert_sound(pattern, f, args, argnums=0, hessian=False, has_aux=False, points=4, **kw):
    truth = oracle_union(f, args, argnums, hessian, points, has_aux=has_aux, **kw)
    dense = pattern.todense()
    assert dense.shape == truth.shape, (dense.shape, truth.shape)
    missing = np.argwhere(truth & ~dense)
    assert missing.size == 0, f"unsound: pattern misses entries {missing[:10].tolist()}"
    return truth
