"""Two processes on localhost (``jax.distributed``, CPU collectives): the row-block
Jacobian of a domain-decomposed PDE residual equals dense AD."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def test_two_processes_of_four_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    port = str(_free_port())
    script = str(Path(__file__).with_name("distributed_script.py"))
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(i), port],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=600)
            outs.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for i, (code, out, err) in enumerate(outs):
        assert code == 0 and "DISTRIBUTED OK" in out, f"process {i}:\n{out[-2000:]}\n{err[-4000:]}"
