"""Dynamic slices, gathers and scatters with input-dependent indices beside constant ones.

XLA clamps every start of a dynamic slice into ``[0, dim - size]``, known or
not; bounded indices are enumerated per element and per index-vector component.
Each case is checked against the union of dense Jacobians over many points.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import sparsediff as sd
from tests.oracle import assert_exact, assert_sound


def _pick(x, k):
    """An input-dependent index in ``[0, k - 1]``."""
    return jnp.argmax(x.reshape(-1)[:k])


X22 = np.zeros((2, 2), np.float32)
X33 = np.zeros((3, 3), np.float32)
X44 = np.zeros((4, 4), np.float32)
X5 = np.zeros(5, np.float32)

EXACT = {
    # a constant start past the end is clamped, beside an input-dependent one
    "slice_const_past_end": (lambda x: lax.dynamic_slice(x, (jnp.argmax(x) % 2, 2), (1, 1)), X22),
    # a negative constant start is clamped to 0, not wrapped
    "slice_const_negative": (
        lambda y: lax.dynamic_slice(y, (jnp.argmax(y) % 2, -1), (2, 2)) + 1.0 * y[:2, :2],
        X33,
    ),
    "update_const_negative": (
        lambda y: lax.dynamic_update_slice(y, jnp.sin(y[2, :2])[None], (-5, jnp.argmax(y) % 2)),
        X33,
    ),
    "update_const_past_end": (
        lambda y: lax.dynamic_update_slice(y, jnp.sin(y[0, :2])[None], (jnp.argmax(y) % 2, 5)),
        X33,
    ),
    "slice_both_starts_bounded": (
        lambda y: lax.dynamic_slice(y, (_pick(y, 2), _pick(y[1], 3)), (2, 2)),
        X44,
    ),
    # integer_pow keeps interval bounds: 0 or 1 squared
    "slice_start_integer_pow": (
        lambda x: lax.dynamic_slice(x, (lax.integer_pow(_pick(x, 2), 2),), (3,)),
        X5,
    ),
    # per-element bounds: [0, 1] + i with i in [0, 1] reaches {0, 1} and {1, 2}
    "take_offset_array": (lambda x: jnp.take(x, jnp.array([0, 1]) + _pick(x, 2)), X5),
    "take_fill_mode": (
        lambda x: jnp.take(x, _pick(x, 5) - 2, mode="fill", fill_value=0.0),
        X5,
    ),
    "index_from_boolean": (lambda x: x[(x[0] > 0).astype(jnp.int32) + 2], X5),
    # two components of an index vector range independently of each other
    "gather_two_components": (
        lambda x: x[jnp.stack([_pick(x[0], 4), _pick(x[1], 2)]), jnp.stack([_pick(x[1], 2), 0])],
        X44,
    ),
    "scatter_two_components": (
        lambda x: jnp.zeros((4, 4)).at[_pick(x[1], 2), _pick(x[0], 4)].set(x[2, 0]),
        X44,
    ),
    "scatter_add_offset_array": (
        lambda x: jnp.zeros(5).at[jnp.array([0, 2]) + _pick(x, 2)].add(x[3:5]),
        X5,
    ),
    # python modulo of a bounded index: the sign fix-up is decided by the bounds
    "slice_start_python_mod": (
        lambda x: lax.dynamic_slice(x, (jnp.argmax(x) % 3,), (2,)),
        X5,
    ),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_bounded_indices_are_exact(name):
    f, x = EXACT[name]
    pattern = sd.jacobian_sparsity(f, x)
    assert_exact(pattern, f, (x,), points=48)


def test_no_crash_and_sound_on_clamped_update_window():
    """The window of a start past the end used to be empty (a broadcast error)."""
    f, x = EXACT["update_const_past_end"]
    pattern = sd.jacobian_sparsity(f, x)
    assert pattern.shape == (9, 9)
    assert_sound(pattern, f, (x,), points=48)


def test_too_many_windows_reduce_the_axis_soundly():
    """Starts with more candidates than can be enumerated: the axis is reduced."""

    def f(x):
        i = jnp.argmax(x[:300])  # 300 candidate starts
        j = jnp.argmax(x[:3])
        return lax.dynamic_slice(x.reshape(20, 20), (j, i), (2, 3))

    x = np.zeros(400, np.float32)
    pattern = sd.jacobian_sparsity(f, x)
    dense = pattern.todense()
    # rows 0..3 of the 20x20 view (start j in [0, 2], window 2), any column
    reachable = np.zeros((20, 20), bool)
    reachable[:4, :] = True
    assert not (dense.any(axis=0).reshape(20, 20) & ~reachable).any()
    assert_sound(pattern, f, (x,), points=16)


def test_overflowing_index_arithmetic_has_no_bounds():
    """i * 2**30 wraps around in int32: no bounds are kept, so every start may occur."""

    def f(x):
        i = _pick(x, 3) * (2**30)  # 0, 2**30 or 2**31 (wraps to -2**31)
        return lax.dynamic_slice(x, (i,), (2,))

    x = np.zeros(6, np.float32)
    dense = sd.jacobian_sparsity(f, x).todense()
    assert dense[:, :6].any(axis=0).all()  # any window along the axis
