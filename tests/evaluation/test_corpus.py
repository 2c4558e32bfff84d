"""Sparse derivatives of the whole detection corpus equal dense JAX derivatives."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import sparsediff as sd
from tests.detection.test_exact import HESSIAN_CASES, JACOBIAN_CASES, x7

FORMATS = ["bcoo", "bcsr", "dense", "scipy_csr"]


def dense_of(out):
    if hasattr(out, "toarray"):
        return out.toarray()
    if hasattr(out, "todense"):
        return np.asarray(out.todense())
    return np.asarray(out)


def random_like(args, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=np.shape(a)).astype(np.float32) for a in args)


@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES))
def test_corpus_jacobian(name):
    f, args, _ = JACOBIAN_CASES[name]
    fmt = FORMATS[sorted(JACOBIAN_CASES).index(name) % len(FORMATS)]
    jac = sd.jacobian(f, *args, output_format=fmt)
    x = random_like(args, 1)
    try:
        ref = jax.jacfwd(f)(*x)
    except TypeError:  # custom_vjp: reverse mode only
        ref = jax.jacrev(f)(*x)
    ref = np.asarray(ref).reshape(jac.sparsity.shape)
    np.testing.assert_allclose(dense_of(jac(*x)), ref, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("name", sorted(HESSIAN_CASES))
def test_corpus_hessian(name):
    """In float64, to rounding: a float32 tolerance would hide wrong small entries."""
    f, _ = HESSIAN_CASES[name]
    (x,) = random_like((x7,), 2)
    x = x.astype(np.float64)
    with jax.enable_x64(True):
        hes = sd.hessian(f, x, output_format="dense")
        ref = np.asarray(jax.hessian(lambda v: f(v).reshape(()))(x))
        got = np.asarray(hes(x))
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9, err_msg=name)
