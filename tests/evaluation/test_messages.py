"""Messages of the public entry points: has_aux, verification, lazily given options."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd

x = jnp.ones(3)


def _square(v):
    return v**2


@pytest.mark.parametrize(
    ("call", "returned"),
    [
        (lambda: sd.jacobian(_square, x, has_aux=True), "a single array of shape (3,)"),
        (lambda: sd.jacobian_sparsity(_square, x, has_aux=True), "a single array of shape (3,)"),
        (
            lambda: sd.hessian(lambda v: jnp.sum(v**2), x, has_aux=True),
            "a single array of shape ()",
        ),
        (lambda: sd.jacobian(lambda v: (v, v, v), x, has_aux=True), "a tuple of 3 elements"),
        (lambda: sd.jacobian(lambda v: [v], x, has_aux=True), "a list of 1 element"),
    ],
)
def test_has_aux_says_what_f_returned(call, returned):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert message.startswith("has_aux=True: f must return a pair (output, aux), but it returned")
    assert returned in message
    assert "Tracer" not in message


def test_has_aux_array_message_names_the_dtype():
    with pytest.raises(ValueError, match=r"shape \(3,\) and dtype float32; return \(output, aux\)"):
        sd.jacobian(_square, x, has_aux=True)


def test_check_jacobian_prints_plain_numbers():
    wrong = sd.jacobian(lambda v: v**3, jnp.arange(1.0, 4.0))
    with pytest.raises(sd.VerificationError) as info:
        sd.check_jacobian(_square, jnp.arange(1.0, 4.0), prepared=wrong)
    message = str(info.value)
    assert "np." not in message and "(np" not in message
    assert message.startswith("J @ v (vector 0): entry ")
    entry = message.split("entry ", 1)[1].split(" is ", 1)[0]
    assert entry.isdigit()  # a plain index, not (np.int64(2),)
    got = message.split(" is ", 1)[1].split(",", 1)[0]
    want = message.split("JAX gives ", 1)[1].split(" ", 1)[0]
    float(got), float(want)  # plain numbers, not np.float32(...)


def test_check_hessian_prints_plain_numbers():
    wrong = sd.hessian(lambda v: jnp.sum(v**4), jnp.arange(1.0, 4.0))
    with pytest.raises(sd.VerificationError) as info:
        sd.check_hessian(lambda v: jnp.sum(v**3), jnp.arange(1.0, 4.0), prepared=wrong)
    assert "np." not in str(info.value)
    assert str(info.value).startswith("H @ v (vector 0): entry ")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: sd.jacobian(_square, mode="bogus"), "mode 'bogus' is not valid for a jacobian"),
        (lambda: sd.jacobian(_square, mode="star"), "choose one of fwd, rev"),
        (lambda: sd.hessian(jnp.sum, mode="fwd"), "mode 'fwd' is not valid for a hessian"),
        (lambda: sd.value_and_hessian(jnp.sum, mode="rev"), "not valid for a hessian"),
        (lambda: sd.jacobian(_square, output_format="csr"), "output_format must be one of"),
        (lambda: sd.value_and_jacobian(_square, chunk_size=0), "chunk_size must be a positive"),
        (lambda: sd.jacobian(_square, chunk_size=2.5), "chunk_size must be a positive"),
        (lambda: sd.hessian(jnp.sum, triangle="diagonal"), "triangle must be 'lower', 'upper'"),
    ],
)
def test_lazy_form_validates_options_at_once(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_lazy_form_with_valid_options_still_works():
    jac = sd.jacobian(_square, mode="fwd", output_format="dense", chunk_size=1)
    np.testing.assert_allclose(np.asarray(jac(x)), 2 * np.eye(3))
    hes = sd.hessian(lambda v: jnp.sum(v**3), mode="star", triangle="lower", output_format="dense")
    np.testing.assert_allclose(np.asarray(hes(x)), 6 * np.eye(3))


def test_eager_form_gives_the_same_mode_message():
    with pytest.raises(ValueError, match="mode 'bogus' is not valid for a jacobian"):
        sd.jacobian(_square, x, mode="bogus")


def test_documented_layout_maps_blocks_back_to_jax_jacobian():
    # jacobian's docstring: one flat (m, n) matrix, leaves raveled in pytree order; the
    # structures' offsets give each leaf's rows and columns
    assert "drop-in" not in sd.jacobian.__doc__.split("\n\n")[0]
    assert "not a drop-in for ``jax.jacobian``" in sd.jacobian.__doc__
    assert "not a drop-in for ``jax.hessian``" in sd.hessian.__doc__
    import jax

    def f(p):
        return {"u": p["a"] * p["b"][0], "v": jnp.sin(p["b"]).sum(axis=1)}

    p = {"a": jnp.arange(1.0, 4.0), "b": jnp.arange(6.0).reshape(2, 3)}
    jac = sd.jacobian(f, p, output_format="dense")
    J = np.asarray(jac(p))
    blocks = jax.jacobian(f)(p)
    outs, ins = jac.sparsity.output_structure, jac.sparsity.input_structure
    assert J.shape == (outs.size, ins.size)
    for i, (out_key, row_block) in enumerate(sorted(blocks.items())):
        for j, (in_key, block) in enumerate(sorted(row_block.items())):
            r0, r1 = outs.offsets[i], outs.offsets[i + 1]
            c0, c1 = ins.offsets[j], ins.offsets[j + 1]
            assert (outs.leaves[i].path, ins.leaves[j].path) == (f"['{out_key}']", f"['{in_key}']")
            shape = outs.leaves[i].shape + ins.leaves[j].shape
            np.testing.assert_allclose(J[r0:r1, c0:c1].reshape(shape), block, rtol=1e-6)
