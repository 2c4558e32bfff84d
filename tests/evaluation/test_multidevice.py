"""Evaluation sharded over 8 simulated CPU devices equals one device (subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

import sparsediff as sd

ROOT = Path(__file__).resolve().parents[2]


def test_eight_simulated_devices_give_single_device_results():
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("multidevice_script.py"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "MULTIDEVICE OK" in proc.stdout


def test_devices_argument_is_validated():
    x = jax.numpy.ones(4)
    with pytest.raises(ValueError, match="devices=99"):
        sd.jacobian(lambda z: z**2 + z[0], x, devices=99)
    with pytest.raises(TypeError, match="devices must be"):
        sd.jacobian(lambda z: z**2 + z[0], x, devices="all")
    # one device here: no mesh, whatever the default
    assert sd.jacobian(lambda z: z**2 + z[0], x, devices=1).mesh is None
