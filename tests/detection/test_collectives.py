"""shard_map and collectives: exact where the communication is known, sound always."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import AbstractMesh, AxisType
from jax.sharding import PartitionSpec as P

import sparsediff as sd
from sparsediff.detection.rules import collectives

ROOT = Path(__file__).resolve().parents[2]


def test_eight_simulated_devices_against_dense_ad():
    """Every case of collectives_script.py on 8 CPU devices (a subprocess: the device
    count is fixed when JAX starts)."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("collectives_script.py"))],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "COLLECTIVES OK" in proc.stdout


def _abstract(n: int, name: str = "x") -> AbstractMesh:
    return AbstractMesh((n,), (name,), axis_types=(AxisType.Auto,))


def test_stencil_on_an_abstract_mesh_of_16_is_exact():
    """Detection needs no devices: an abstract mesh of 16 shards, periodic halo exchange."""

    def local(u):
        left = lax.ppermute(u[-1:], "x", [(i, (i + 1) % 16) for i in range(16)])
        right = lax.ppermute(u[:1], "x", [(i, (i - 1) % 16) for i in range(16)])
        ext = jnp.concatenate([left, u, right])
        return ext[:-2] - 2 * ext[1:-1] + ext[2:]

    f = jax.shard_map(local, mesh=_abstract(16), in_specs=P("x"), out_specs=P("x"))
    spec = jax.ShapeDtypeStruct(
        (64,), jnp.float32, sharding=jax.NamedSharding(_abstract(16), P("x"))
    )
    p = sd.jacobian_sparsity(f, spec)
    n = 64
    rows = np.arange(n)
    want = np.zeros((n, n), dtype=bool)
    want[rows, rows] = want[rows, (rows - 1) % n] = want[rows, (rows + 1) % n] = True
    assert (p.todense() == want).all()


def test_too_many_shards_fall_back_soundly(monkeypatch):
    monkeypatch.setattr(collectives, "MAX_SHARDS", 4)

    def local(u):
        return u * 2.0

    f = jax.shard_map(local, mesh=_abstract(8), in_specs=P("x"), out_specs=P("x"))
    p = sd.jacobian_sparsity(f, jax.ShapeDtypeStruct((16,), jnp.float32))
    assert p.nnz == 16 * 16  # every output on every input: sound, not exact
