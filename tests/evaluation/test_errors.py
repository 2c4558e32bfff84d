"""Bad input to prepared derivatives gets clear errors."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd

x = np.ones(5, np.float32)


def f(v):
    return v[1:] * v[:-1]


def test_call_time_shape_mismatch():
    jac = sd.jacobian(f, x)
    with pytest.raises(ValueError, match=r"argument 0 has shape/dtype float32\[6\].*float32\[5\]"):
        jac(np.ones(6, np.float32))


def test_call_time_dtype_mismatch():
    jac = sd.jacobian(f, x)
    with pytest.raises(ValueError, match="float64"):
        jac(np.ones(5, np.float64))


def test_invalid_modes():
    with pytest.raises(ValueError, match="mode 'star' is not valid for a jacobian"):
        sd.jacobian(f, x, mode="star")
    with pytest.raises(ValueError, match="mode 'rev' is not valid for a hessian"):
        sd.hessian(lambda v: jnp.sum(v**2), x, mode="rev")


def test_non_scalar_hessian():
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        sd.hessian(f, x)


def test_bad_output_format_and_chunk_size():
    with pytest.raises(ValueError, match="output_format must be one of"):
        sd.jacobian(f, x, output_format="csr")
    with pytest.raises(ValueError, match="chunk_size"):
        sd.jacobian(f, x, chunk_size=0)


def test_mismatched_coloring_or_pattern():
    other = sd.coloring(sd.jacobian_sparsity(f, np.ones(7, np.float32)), "column")
    with pytest.raises(ValueError, match="sparsity pattern has 7 columns"):
        sd.jacobian(f, x, coloring=other)


def test_host_format_under_jit_is_refused():
    import jax

    jac = sd.jacobian(f, x, output_format="scipy_csr")
    with pytest.raises(TypeError, match="cannot be used under jax.jit"):
        jax.jit(lambda v: jac(v))(x)
