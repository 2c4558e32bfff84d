"""Compressed AD: one JVP, VJP or Hessian-vector product per color, vmapped.

A handful of products (at most :data:`UNROLL_MAX`) are traced one by one
instead: XLA fuses each product into one loop over the data, where the
vmapped batch carries a color axis through every intermediate. On the chained
Rosenbrock Hessian (n = 10^6, 3 colors, CPU) the three separate products ran
at the floor of 3 x one product, the vmapped batch at 1.7 x that floor.

``chunk_size`` bounds how many products are in flight at once: the seeds are
split into chunks that ``jax.lax.map`` runs one after the other, each chunk
vmapped; results equal the unchunked ones up to rounding (XLA may compile a
chunk and the whole batch, or an unrolled batch, see above, to different
kernels; one .ci/run saw a 1-ulp difference for a batch of 5 against chunks of 2).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .residuals import linearized

__all__ = ["UNROLL_MAX", "map_products", "jvp_products", "vjp_products", "hvp_products"]


#: at most this many products are traced one by one instead of vmapped
UNROLL_MAX = 4


def map_products(
    fn: Callable, seeds: jax.Array, chunk_size: int | None, constrain: Callable | None = None
) -> jax.Array:
    """``vmap(fn)(seeds)`` over the leading axis, in chunks of ``chunk_size``.

    ``constrain``: applied to every batch of seeds and of products (the
    multi-device split of the leading axis, see :mod:`.sharding`).
    """
    k = seeds.shape[0]
    if k == 0:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct(seeds.shape[1:], seeds.dtype))
        return jnp.zeros((0, *out.shape), out.dtype)
    if constrain is None and (chunk_size is None or chunk_size >= k) and k <= UNROLL_MAX:
        return jnp.stack([fn(seeds[i]) for i in range(k)])
    if constrain is not None:
        inner = fn

        def batch(s):
            return constrain(jax.vmap(inner)(constrain(s)))
    else:

        def batch(s):
            return jax.vmap(fn)(s)

    if chunk_size is None or chunk_size >= k:
        return batch(seeds)
    chunk_size = max(int(chunk_size), 1)
    n_chunks = -(-k // chunk_size)
    pad = n_chunks * chunk_size - k
    padded = jnp.concatenate([seeds, jnp.zeros((pad, *seeds.shape[1:]), seeds.dtype)])
    chunks = padded.reshape(n_chunks, chunk_size, *seeds.shape[1:])
    out = jax.lax.map(batch, chunks)
    return out.reshape(n_chunks * chunk_size, *out.shape[2:])[:k]


def jvp_products(
    g: Callable,
    x: jax.Array,
    seeds: jax.Array,
    chunk_size: int | None,
    constrain=None,
    keep: bool = False,
):
    """``(y, aux, B)`` with ``B[c] = J @ seeds[c]``: one linearisation, one JVP per seed
    (``keep``: its transcendental functions computed once, see :mod:`.residuals`)."""
    y, jvp_fn, aux = linearized(lambda z: jax.linearize(g, z, has_aux=True), x, keep)
    return y, aux, map_products(jvp_fn, seeds, chunk_size, constrain)


def vjp_products(
    g: Callable,
    x: jax.Array,
    seeds: Callable,
    chunk_size: int | None,
    constrain=None,
    keep: bool = False,
):
    """``(y, aux, C)`` with ``C[c] = S[c] @ J``: one forward pass, one VJP per seed.

    ``seeds(dtype, m)`` makes the seed matrix ``S`` once the output's dtype and
    size are known (no extra trace of ``g`` to find them)."""
    y, vjp_fn, aux = linearized(lambda z: jax.vjp(g, z, has_aux=True), x, keep)
    s = seeds(y.dtype, y.size)
    return y, aux, map_products(lambda t: vjp_fn(t)[0], s, chunk_size, constrain)


def hvp_products(
    f: Callable,
    x: jax.Array,
    seeds: jax.Array,
    chunk_size: int | None,
    constrain=None,
    holomorphic: bool = False,
    keep: bool = False,
    by_rows: bool = False,
):
    """``(value, grad, aux, B)`` with ``B[c] = H @ seeds[c]`` (forward over reverse).

    The value and gradient come out of the same linearisation as the products.
    ``by_rows``: ``B[c] = seeds[c] @ H`` instead, reverse over reverse, for a function
    that JAX differentiates in reverse mode only (``jax.custom_vjp``, where
    ``jax.hessian`` fails and ``jax.jacrev(jax.grad(f))`` works); the same products
    where ``H`` is symmetric.
    """

    def value_grad(z):
        (v, aux), grad = jax.value_and_grad(f, has_aux=True, holomorphic=holomorphic)(z)
        return (v, grad), aux

    if by_rows:
        (value, grad), pull, aux = linearized(
            lambda z: jax.vjp(value_grad, z, has_aux=True), x, keep
        )
        zero = jnp.zeros((), value.dtype)
        products = map_products(lambda s: pull((zero, s))[0], seeds, chunk_size, constrain)
        return value, grad, aux, products

    def forward_value_grad(z):
        def value_twice(w):
            v, aux = f(w)
            return v, (v, aux)

        grad, (v, aux) = jax.jacfwd(value_twice, has_aux=True, holomorphic=holomorphic)(z)
        return (v, grad), aux

    try:
        (value, grad), lin, aux = linearized(
            lambda z: jax.linearize(value_grad, z, has_aux=True), x, keep
        )
    except Exception as err:  # noqa: BLE001 - no reverse mode: forward, else re-raised
        # no reverse mode through f (a while_loop, a primitive without a transpose
        # rule): the gradient in forward mode instead (forward over forward; each
        # product then costs one JVP per input element, see the Hessian how-to).
        try:
            (value, grad), lin, aux = linearized(
                lambda z: jax.linearize(forward_value_grad, z, has_aux=True), x, keep
            )
        except Exception:  # noqa: BLE001 - f fails in forward mode too: its own error
            raise err from None
    products = map_products(lambda s: lin(s)[1], seeds, chunk_size, constrain)
    return value, grad, aux, products
