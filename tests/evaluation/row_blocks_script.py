"""Row-block Jacobians on 8 simulated CPU devices (run by test_row_blocks.py).

Checks, for meshes with automatic and with explicit axes, a ``shard_map``
residual with halo exchange (Bratu) and the same residual as plain
``jax.numpy`` on a sharded array: the pattern is the exact five-point one, the
values equal dense ``jax.jacfwd``, every block's values stay on its device, and
the errors for inputs that are not laid out over a mesh.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import sparsediff as sd
from sparsediff.problems import bratu_residual, sharded_bratu_residual

jax.config.update("jax_enable_x64", True)
assert jax.device_count() == 8, jax.devices()
N = 16


def five_point(n: int) -> np.ndarray:
    k = np.arange(n * n)
    r, c = divmod(k, n)
    want = np.zeros((n * n, n * n), dtype=bool)
    want[k, k] = True
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ok = (r + dr >= 0) & (r + dr < n) & (c + dc >= 0) & (c + dc < n)
        want[k[ok], ((r + dr) * n + c + dc)[ok]] = True
    return want


def check(mesh, residual, label: str) -> None:
    u = jax.device_put(
        jnp.asarray(np.random.default_rng(0).uniform(0, 1, (N, N))), NamedSharding(mesh, P("x"))
    )
    jac = sd.sharded_jacobian(residual, u)
    assert (jac.sparsity.todense() == five_point(N)).all(), label
    blocks = jac(u)
    dense = np.asarray(jax.jacfwd(bratu_residual)(np.asarray(u))).reshape(N * N, N * N)
    np.testing.assert_allclose(blocks.todense(), dense, rtol=1e-13, atol=1e-9, err_msg=label)
    # each block's values on its own device, equal to its rows of the dense matrix
    assert blocks.values.sharding.spec == P("x"), blocks.values.sharding
    local = blocks.local_blocks()
    assert sorted(local) == list(range(8))
    per = N * N // 8
    for d, (indptr, indices, vals) in local.items():
        rows = dense[d * per : (d + 1) * per]
        got = np.zeros_like(rows)
        for r in range(per):
            got[r, indices[indptr[r] : indptr[r + 1]]] = vals[indptr[r] : indptr[r + 1]]
        np.testing.assert_allclose(got, rows, rtol=1e-13, atol=1e-9, err_msg=f"{label} block {d}")
    shard_devices = {s.device for s in blocks.values.addressable_shards}
    assert len(shard_devices) == 8
    # a second point: the same prepared derivative
    v = u * 0.5
    dense_v = np.asarray(jax.jacfwd(bratu_residual)(np.asarray(v))).reshape(N * N, N * N)
    np.testing.assert_allclose(jac(v).todense(), dense_v, rtol=1e-13, atol=1e-9)
    print(label, "ok", jac)


for kind in (AxisType.Auto, AxisType.Explicit):
    mesh = jax.make_mesh((8,), ("x",), axis_types=(kind,))
    check(mesh, sharded_bratu_residual(mesh, "x"), f"shard_map, {kind}")
mesh = jax.make_mesh((8,), ("x",), axis_types=(AxisType.Auto,))
check(mesh, bratu_residual, "plain jax.numpy on a sharded array (automatic axes)")

# errors: an input without a mesh, a leading axis that does not split evenly
try:
    sd.sharded_jacobian(bratu_residual, jnp.ones((N, N)))
except ValueError as err:
    assert "NamedSharding" in str(err), err
else:
    raise AssertionError("an unsharded input must be refused")
try:
    sd.sharded_jacobian(bratu_residual, jnp.ones((12, 12)), mesh=mesh, axis="x")
except ValueError as err:
    assert "split evenly" in str(err), err
else:
    raise AssertionError("12 rows over 8 devices must be refused")


# the product J v on the mesh, inside jit, equals the dense product
mesh = jax.make_mesh((8,), ("x",), axis_types=(AxisType.Auto,))
F = sharded_bratu_residual(mesh, "x")
lay = NamedSharding(mesh, P("x"))
u = jax.device_put(jnp.asarray(np.random.default_rng(1).uniform(0, 1, (N, N))), lay)
v = jax.device_put(jnp.asarray(np.random.default_rng(2).standard_normal((N, N))), lay)
blocks = sd.sharded_jacobian(F, u)(u)
jv = jax.jit(lambda b, w: b.matvec(w))(blocks, v)
dense = np.asarray(jax.jacfwd(bratu_residual)(np.asarray(u))).reshape(N * N, N * N)
np.testing.assert_allclose(
    np.asarray(jv).reshape(-1), dense @ np.asarray(v).reshape(-1), rtol=1e-12
)
assert jv.sharding.spec == P("x")
print("MATVEC OK")

# a jitted function of the row blocks compiles once per prepared derivative
traces = []


@jax.jit
def product(b, w):
    traces.append(1)
    return b.matvec(w)


jac = sd.sharded_jacobian(F, u)
for point in (u, u * 0.5, u * 0.25):
    product(jac(point), v)
assert len(traces) == 1, traces
print("ONE COMPILATION OK")
print("ROW BLOCKS OK")
