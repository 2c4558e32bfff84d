"""Jacobians evaluated on the function's mesh, as per-device row blocks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.problems import bratu_residual

ROOT = Path(__file__).resolve().parents[2]


def _env(devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
    )
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_eight_simulated_devices_against_dense_ad():
    """Every case of row_blocks_script.py on 8 CPU devices (a subprocess: the device
    count is fixed when JAX starts)."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("row_blocks_script.py"))],
        env=_env(8), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "ROW BLOCKS OK" in proc.stdout


def test_one_device_is_one_block():
    mesh = jax.make_mesh((1,), ("x",))
    u = jax.device_put(jnp.ones((4, 4)), jax.NamedSharding(mesh, jax.P("x")))
    jac = sd.sharded_jacobian(bratu_residual, u)
    blocks = jac(u)
    assert blocks.num_blocks == 1 and blocks.shape == (16, 16)
    dense = np.asarray(jax.jacfwd(bratu_residual)(np.ones((4, 4), np.float32))).reshape(16, 16)
    np.testing.assert_allclose(blocks.todense(), dense, rtol=1e-6)
    with pytest.raises(ValueError, match="prepared for"):
        jac(jnp.ones((4, 5)))
