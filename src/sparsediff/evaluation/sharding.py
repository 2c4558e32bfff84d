"""Multi-device evaluation: the compressed products split across devices.

The AD passes of a sparse derivative are independent, one per color: the seed
matrix is split along its color axis over a one-dimensional device mesh
(``jax.sharding``), each device runs its share of the vmapped JVPs, VJPs or
HVPs, and decompression reads the products where they lie (XLA moves what it
needs). The primal computation is replicated. Results equal those of one
device: every product is computed exactly as it would be there.

``devices`` (an argument of :func:`sparsediff.jacobian` and friends):

* ``None`` (default): every local device when there are several, else none;
* ``1`` or ``False``: a single device (no sharding);
* an ``int`` ``k``: the first ``k`` devices of ``jax.devices()``;
* a sequence of devices, or a ``jax.sharding.Mesh`` (its first axis is used).

On several hosts, start JAX with ``jax.distributed.initialize()``; every host
prepares the same derivative (detection and coloring are deterministic host
computations) and calls it inside the same program, which XLA runs sharded
over the global mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["resolve_mesh", "constrain_leading"]

AXIS = "colors"


def resolve_mesh(devices: Any) -> Mesh | None:
    """The mesh over which the products are split (``None``: one device)."""
    if devices is False or (
        isinstance(devices, int) and not isinstance(devices, bool) and devices == 1
    ):
        return None
    if isinstance(devices, Mesh):
        return devices if devices.devices.size > 1 else None
    if devices is None or devices is True:
        devs = jax.devices()
        if len(devs) < 2:
            return None
    elif isinstance(devices, int):
        avail = jax.devices()
        if devices < 1 or devices > len(avail):
            raise ValueError(
                f"devices={devices}: there are {len(avail)} devices ({avail[0].platform})"
            )
        devs = avail[:devices]
    elif isinstance(devices, Sequence):
        devs = list(devices)
        if not devs or not all(isinstance(d, jax.Device) for d in devs):
            raise TypeError("devices must be None, an int, a sequence of jax devices or a Mesh")
        if len(devs) < 2:
            return None
    else:
        raise TypeError(
            f"devices must be None, an int, a sequence of jax devices or a Mesh; got {devices!r}"
        )
    return Mesh(np.array(devs), (AXIS,))


def constrain_leading(a: jax.Array, mesh: Mesh | None) -> jax.Array:
    """``a`` split along its leading axis over the mesh's first axis."""
    if mesh is None or a.ndim == 0 or a.shape[0] < 2:
        return a
    spec = PartitionSpec(mesh.axis_names[0], *([None] * (a.ndim - 1)))
    return jax.lax.with_sharding_constraint(a, NamedSharding(mesh, spec))
