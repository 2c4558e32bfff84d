"""A 2D convolution with a constant 3×3 kernel followed by an elementwise nonlinearity."""

from __future__ import annotations

import numpy as np
from jax import lax
from jax import numpy as jnp

#: The constant kernel: a smoothed Laplacian, all nine taps nonzero.
KERNEL = np.array(
    [[0.05, 0.2, 0.05], [0.2, -1.0, 0.2], [0.05, 0.2, 0.05]],
    dtype=np.float32,
)


def conv2d_tanh(u):
    """``tanh(K * u)`` for an ``(N, N)`` image ``u`` ("same" padding, zeros outside).

    Each output pixel depends on the (up to) nine pixels around it: the
    Jacobian has ``(3 N - 2)²`` nonzeros and column coloring needs 9 colors.
    """
    kernel = jnp.asarray(KERNEL, dtype=u.dtype)
    out = lax.conv_general_dilated(u[None, None], kernel[None, None], (1, 1), "SAME")
    return jnp.tanh(out[0, 0])
