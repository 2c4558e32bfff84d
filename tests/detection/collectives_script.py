"""shard_map and collectives on 8 simulated CPU devices, checked against dense AD.

Run by tests/detection/test_collectives.py in a subprocess (the device count must be set
before JAX starts). Prints "COLLECTIVES OK" when every case passes.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import sparsediff as sd

jax.config.update("jax_enable_x64", True)
warnings.simplefilter("error", sd.UnknownPrimitiveWarning)
rng = np.random.default_rng(0)
AUTO = AxisType.Auto
mesh = jax.make_mesh((8,), ("x",), axis_types=(AUTO,))
mesh2 = jax.make_mesh((2, 4), ("a", "b"), axis_types=(AUTO, AUTO))
RING = [(i, (i + 1) % 8) for i in range(8)]
BACK = [(i, (i - 1) % 8) for i in range(8)]


def check(name, f, *args, exact=True, hessian=False):
    """The pattern holds every non-zero of dense AD at 3 random points (and no more)."""
    detect = sd.hessian_sparsity if hessian else sd.jacobian_sparsity
    pattern = detect(f, *args).todense()
    dense = jax.hessian(f) if hessian else jax.jacfwd(f)
    truth = np.zeros_like(pattern)
    for _ in range(3):
        pts = [jnp.asarray(rng.standard_normal(a.shape)) for a in args]
        truth |= np.asarray(dense(*pts)).reshape(pattern.shape) != 0
    missing = np.argwhere(truth & ~pattern)
    assert missing.size == 0, f"{name}: UNSOUND, misses {missing[:5].tolist()}"
    if exact:
        extra = np.argwhere(pattern & ~truth)
        assert extra.size == 0, f"{name}: inexact, extra {extra[:5].tolist()}"
    print(f"{name}: ok ({int(pattern.sum())} entries)")


X = P("x")


def shard(body, in_specs=X, out_specs=X, m=mesh):
    return jax.shard_map(body, mesh=m, in_specs=in_specs, out_specs=out_specs)


def stencil(u):
    left = lax.ppermute(u[-1:], "x", RING)
    right = lax.ppermute(u[:1], "x", BACK)
    ext = jnp.concatenate([left, u, right])
    return ext[:-2] - 2 * ext[1:-1] + ext[2:] + u**2


# the case: 1-D periodic stencil, n = 4096 over 8 devices, halos by ppermute
big = sd.jacobian_sparsity(shard(stencil), jnp.zeros(4096))
assert big.nnz == 12288, big.nnz
print("stencil n=4096: 12288 entries")
check("stencil", shard(stencil), jnp.zeros(64))


def open_chain(u):  # no wrap-around: the ends receive zeros
    left = lax.ppermute(u[-1:], "x", RING[:-1])
    return jnp.concatenate([left, u[:-1]]) + u**2


check("ppermute without wrap-around", shard(open_chain), jnp.zeros(32))
check("psum coupling", shard(lambda u: u * lax.psum(jnp.sum(u**2), "x")), jnp.zeros(32))
check("pmax of known values", shard(lambda u: u * lax.pmax(lax.axis_index("x"), "x")),
      jnp.zeros(16))  # fmt: skip
check("all_gather tiled", shard(lambda u: lax.all_gather(u, "x", tiled=True)[3:7] * u),
      jnp.zeros(32))  # fmt: skip
check("all_gather stacked", shard(lambda u: lax.all_gather(u, "x")[:, 0] * u[0]),
      jnp.zeros(16), exact=False)  # fmt: skip
check("axis_index as a known index",
      shard(lambda u: u * jnp.take(jnp.arange(8.0), lax.axis_index("x")) + u[::-1] ** 2),
      jnp.zeros(16))  # fmt: skip


def rows_2d(a):  # (2, 4) mesh, psum along "b" only: couples each row of devices
    return a * lax.psum(jnp.sum(a), "b")


check("2-D mesh, psum over one axis", shard(rows_2d, P("a", "b"), P("a", "b"), mesh2),
      jnp.zeros((4, 8)))  # fmt: skip
check("replicated in and out",
      shard(lambda w, u: lax.psum(jnp.sum(u * w[0]), "x") * w, (P(), P("x")), P()),
      jnp.zeros(3), jnp.zeros(16))  # fmt: skip


def scanned(u):  # a collective inside a loop body: the sound fallback
    def step(c, _):
        return c + lax.ppermute(c, "x", RING), None

    return lax.scan(step, u, None, length=2)[0]


check("ppermute inside scan", shard(scanned), jnp.zeros(16), exact=False)
check("all_to_all tiled, split 0 concat 0",
      shard(lambda u: lax.all_to_all(u.reshape(8, 1), "x", 0, 0, tiled=True).reshape(-1) * u),
      jnp.zeros(64))  # fmt: skip


def a2a_transpose(u):  # (8, 2) blocks: split rows, concatenate along columns
    return lax.all_to_all(u.reshape(8, 2), "x", 0, 1, tiled=True).reshape(-1) * u


check("all_to_all tiled, split 0 concat 1", shard(a2a_transpose), jnp.zeros(128))
check("all_to_all stacked (tiled=False)",
      shard(lambda u: lax.all_to_all(u.reshape(8, 1), "x", 0, 1, tiled=False).reshape(-1) * u),
      jnp.zeros(64))  # fmt: skip
check("psum_scatter tiled", shard(lambda u: lax.psum_scatter(u**2, "x", tiled=True) * u[0]),
      jnp.zeros(64))  # fmt: skip
check("psum_scatter stacked",
      shard(lambda u: lax.psum_scatter(u.reshape(8, 2) ** 2, "x", tiled=False) * u[:2]),
      jnp.zeros(128))  # fmt: skip
check("Hessian through all_to_all", lambda u: jnp.sum(shard(a2a_transpose)(u) ** 2),
      jnp.zeros(128), hessian=True)  # fmt: skip
check("Hessian through psum_scatter",
      lambda u: jnp.sum(shard(lambda v: lax.psum_scatter(v**3, "x", tiled=True))(u) ** 2),
      jnp.zeros(64), hessian=True)  # fmt: skip


def nested(u):  # (2, 4) mesh: the outer shard_map owns "a", the inner one "b"
    def inner(v):
        return v + lax.ppermute(v, "b", [(i, (i + 1) % 4) for i in range(4)]) ** 2

    return jax.shard_map(inner, in_specs=P("b"), out_specs=P("b"), axis_names={"b"})(u) * u


def nested_outer_axis(u):  # the inner body sums over the outer axis "a": fallback
    def inner(v):
        return v * lax.psum(jnp.sum(v), "a")

    return jax.shard_map(inner, in_specs=P("b"), out_specs=P("b"), axis_names={"b"})(u)


def outer(body):
    return jax.shard_map(body, mesh=mesh2, in_specs=P("a"), out_specs=P("a"), axis_names={"a"})


check("nested shard_map", outer(nested), jnp.zeros(16))
check("nested shard_map, collective over an outer axis", outer(nested_outer_axis),
      jnp.zeros(16), exact=False)  # fmt: skip
check("Hessian through ppermute", lambda u: jnp.sum(shard(stencil)(u) ** 2), jnp.zeros(32),
      hessian=True)  # fmt: skip

# evaluation: the sparse Jacobian of the sharded residual equals dense AD
x = jnp.asarray(rng.standard_normal(64))
jac = sd.jacobian(shard(stencil), x)
np.testing.assert_allclose(jac(x).todense(), jax.jacfwd(shard(stencil))(x), atol=1e-12)
assert jac.num_colors == 4, jac.num_colors  # a ring of 64: 3 colors cannot cycle evenly
print("evaluation equals dense, 4 colors")
print("COLLECTIVES OK")
