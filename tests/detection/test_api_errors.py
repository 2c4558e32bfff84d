"""Bad input gets a clear error naming the problem."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd

x = np.ones(4, np.float32)


@pytest.mark.parametrize("fn", [sd.jacobian_sparsity, sd.hessian_sparsity])
def test_argnums_out_of_range(fn):
    with pytest.raises(ValueError, match="argnums 2 is out of range.*2 positional arguments"):
        fn(lambda a, b: jnp.sum(a * b), x, x, argnums=2)


@pytest.mark.parametrize("argnums", ["0", 1.5, [0, "a"], True])
def test_argnums_wrong_type(argnums):
    with pytest.raises(TypeError, match="argnums must be an int or a sequence of ints"):
        sd.jacobian_sparsity(lambda a, b: a * b, x, x, argnums=argnums)


def test_argnums_empty_or_duplicate():
    with pytest.raises(ValueError, match="must not be empty"):
        sd.jacobian_sparsity(lambda a: a, x, argnums=())
    with pytest.raises(ValueError, match="duplicates"):
        sd.jacobian_sparsity(lambda a, b: a * b, x, x, argnums=(0, 0))


def test_negative_argnums_counts_from_the_end():
    p = sd.jacobian_sparsity(lambda a, b: a * b[:4], x, np.ones(6, np.float32), argnums=-1)
    assert p.shape == (4, 6)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_integer_or_bool_differentiated_argument(dtype):
    with pytest.raises(TypeError, match=f"argument 0 .*dtype {np.dtype(dtype).name}"):
        sd.jacobian_sparsity(lambda a: a * 2, np.ones(3, dtype))


def test_integer_leaf_in_pytree_argument_is_named():
    with pytest.raises(TypeError, match=r"\['n'\].*int32"):
        sd.jacobian_sparsity(lambda p: p["x"] * p["n"], {"x": x, "n": np.ones(4, np.int32)})


def test_integer_non_differentiated_argument_is_fine():
    p = sd.jacobian_sparsity(lambda a, i: a[i], x, np.array([1, 2], np.int32))
    assert p.shape == (2, 4)


def test_hessian_of_vector_output_names_shape():
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        sd.hessian_sparsity(lambda a: a**2, x)


def test_hessian_of_pytree_output():
    with pytest.raises(ValueError, match="scalar"):
        sd.hessian_sparsity(lambda a: {"s": jnp.sum(a)}, x)


def test_hessian_of_integer_output():
    with pytest.raises(TypeError, match="floating-point output"):
        sd.hessian_sparsity(lambda a: jnp.sum(a).astype(jnp.int32), x)


@pytest.mark.parametrize("fn", [sd.jacobian_sparsity, sd.hessian_sparsity])
def test_has_aux_requires_a_pair(fn):
    with pytest.raises(ValueError, match=r"must return a pair \(output, aux\), but it returned a"):
        fn(lambda a: jnp.sum(a), x, has_aux=True)


def test_not_callable():
    with pytest.raises(TypeError, match="must be callable"):
        sd.jacobian_sparsity(3, x)


def test_unsupported_sample_leaf():
    with pytest.raises(TypeError, match="not an array"):
        sd.jacobian_sparsity(lambda a: a, "hello")
