"""One of two processes of test_distributed.py: ``jax.distributed`` on localhost
with CPU collectives (gloo), 4 devices per process, 8 in the global mesh.

Usage: ``python distributed_script.py PROCESS_ID PORT``. Both processes prepare
the Jacobian of the row-decomposed Bratu residual (detection and coloring on
each host), evaluate it on the global mesh, check their own row blocks against
dense AD and the gathered matrix against it, and print ``DISTRIBUTED OK``.
"""

from __future__ import annotations

import sys

import jax

process_id, port = int(sys.argv[1]), sys.argv[2]
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.config.update("jax_enable_x64", True)
jax.distributed.initialize(
    coordinator_address=f"localhost:{port}", num_processes=2, process_id=process_id
)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import sparsediff as sd  # noqa: E402
from sparsediff.problems import bratu_residual, sharded_bratu_residual  # noqa: E402

assert jax.process_count() == 2 and jax.device_count() == 8 and jax.local_device_count() == 4
N = 16
mesh = jax.make_mesh((8,), ("x",))
host_u = np.random.default_rng(0).uniform(0, 1, (N, N))
u = jax.make_array_from_callback((N, N), NamedSharding(mesh, P("x")), lambda idx: host_u[idx])
F = sharded_bratu_residual(mesh, "x")

jac = sd.sharded_jacobian(F, u)
blocks = jac(u)
dense = np.asarray(jax.jacfwd(bratu_residual)(jnp.asarray(host_u))).reshape(N * N, N * N)

local = blocks.local_blocks()
assert len(local) == 4, sorted(local)  # this process holds the blocks of its 4 devices
per = N * N // 8
for d, (indptr, indices, vals) in local.items():
    got = np.zeros((per, N * N))
    for r in range(per):
        got[r, indices[indptr[r] : indptr[r + 1]]] = vals[indptr[r] : indptr[r + 1]]
    np.testing.assert_allclose(got, dense[d * per : (d + 1) * per], rtol=1e-13, atol=1e-9)
np.testing.assert_allclose(blocks.todense(), dense, rtol=1e-13, atol=1e-9)  # both gather
print(f"process {process_id}: blocks {sorted(local)}, {jac}", flush=True)
print("DISTRIBUTED OK", flush=True)
