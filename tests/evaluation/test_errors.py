"""Bad input to prepared derivatives gets clear errors."""

from __future__ import annotations

import warnings

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


def test_dtypes_are_canonicalised_as_jit_does():
    """With x64 off, float64 is float32 (as jax.jit treats it): NumPy float64
    samples and float32 calls agree both ways; a truly different dtype is refused."""
    want = np.asarray(sd.jacobian(f, x, output_format="dense")(x))
    from_np64 = sd.jacobian(f, np.ones(5, np.float64), output_format="dense")
    assert np.array_equal(np.asarray(from_np64(jnp.ones(5, jnp.float32))), want)
    assert np.array_equal(np.asarray(from_np64(np.ones(5))), want)
    from_f32 = sd.jacobian(f, jnp.ones(5, jnp.float32), output_format="dense")
    assert np.array_equal(np.asarray(from_f32(np.ones(5, np.float64))), want)
    with pytest.raises(ValueError, match=r"float16\[5\].*prepared for float32\[5\]"):
        from_f32(np.ones(5, np.float16))


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
    other = sd.color(sd.jacobian_sparsity(f, np.ones(7, np.float32)), "column")
    with pytest.raises(ValueError, match="sparsity pattern has 7 columns"):
        sd.jacobian(f, x, coloring=other)


def test_host_format_under_jit_is_refused():
    import jax

    jac = sd.jacobian(f, x, output_format="scipy_csr")
    with pytest.raises(TypeError, match="cannot be used under jax.jit"):
        jax.jit(lambda v: jac(v))(x)


def test_saved_coloring_round_trip_and_mismatch(tmp_path):
    import jax

    pattern = sd.jacobian_sparsity(f, x)
    for problem in ("column", "row", "bidirectional"):
        c = sd.color(pattern, problem)
        path = sd.save_coloring(c, tmp_path / f"c_{problem}")
        loaded = sd.load_coloring(path)
        assert loaded.num_colors == c.num_colors and loaded.pattern == c.pattern
        jac = sd.jacobian(f, x, coloring=loaded, output_format="dense")
        np.testing.assert_allclose(np.asarray(jac(x)), np.asarray(jax.jacfwd(f)(x)), rtol=1e-6)
    h = sd.color(sd.hessian_sparsity(lambda v: jnp.sum(v[1:] * v[:-1] ** 2), x), "acyclic")
    loaded = sd.load_coloring(sd.save_coloring(h, tmp_path / "h.npz"))
    assert loaded.plan.uses_substitution
    other = sd.save_coloring(
        sd.color(sd.jacobian_sparsity(f, np.ones(9, np.float32))), tmp_path / "other"
    )
    with pytest.raises(ValueError, match=r"the sparsity pattern has 9 columns"):
        sd.jacobian(f, x, coloring=sd.load_coloring(other))
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.ones(3))
    with pytest.raises(ValueError, match="as a sparsediff coloring: not a sparsediff file"):
        sd.load_coloring(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="it is a text file, not a .npz archive"):
        sd.load_coloring(tmp_path / "junk.npz")


def test_custom_vjp_function_uses_reverse_mode():
    from tests.detection.test_exact import mixing

    jac = sd.jacobian(mixing, x)
    assert jac.mode == "rev"
    with pytest.raises(ValueError, match="needs forward-mode AD"):
        sd.jacobian(mixing, x, mode="fwd")


@pytest.mark.parametrize(
    "option, value",
    [("mode", "cos"), ("output_format", "csr"), ("chunk_size", "big"), ("triangle", "both")],
)
def test_an_invalid_option_says_it_is_sparsediffs_own(option, value):
    """A keyword argument of f named like an option is read as the option; the error
    says so and how to pass it to f instead."""

    def f(x, **kw):
        return jnp.sum(jnp.sin(x))

    with pytest.raises(ValueError, match=f"{option}= is sparsediff's own option.*partial"):
        sd.hessian(f, np.ones(3), **{option: value})


def test_an_option_that_shadows_a_parameter_of_f_is_warned_about():
    """f's own verify= would silently take its default: the value given is sparsediff's."""

    def f(x, verify=False, mode="sin"):
        return jnp.sum(jnp.sin(x) if mode == "sin" else jnp.cos(x)) * (2.0 if verify else 1.0)

    with pytest.warns(UserWarning, match="parameter named 'verify'.*functools.partial") as rec:
        sd.hessian(f, np.ones(3), verify=False)
    assert rec[0].filename == __file__  # pointed at the caller's line
    with pytest.warns(UserWarning, match="'mode', but sparsediff.value_and_jacobian reads"):
        sd.value_and_jacobian(f, mode="rev")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.hessian(f, np.ones(3))  # nothing given: nothing to warn about
        sd.hessian(lambda z: jnp.sum(z**3), np.ones(3), mode="star", verify=False)
