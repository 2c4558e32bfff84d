"""A function whose Jacobian is an arrowhead: a dense first row, a dense first column
and the diagonal."""

from __future__ import annotations

import jax.numpy as jnp


def arrowhead(x):
    """``[sum(x²), x[1:] x[0] + x[1:]³]`` for a vector ``x`` of length ``n``.

    The first output depends on every input (a dense row) and every output
    depends on ``x[0]`` (a dense column).  Column coloring and row coloring both
    need ``n`` passes; bicoloring needs 3: one VJP for the dense row, one JVP for
    the dense column and one JVP for the diagonal.
    """
    head = jnp.sum(x**2, keepdims=True)
    rest = x[1:] * x[0] + x[1:] ** 3
    return jnp.concatenate([head, rest])
