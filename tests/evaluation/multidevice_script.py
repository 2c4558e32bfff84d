"""Run in a subprocess with 8 simulated CPU devices (see test_multidevice.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import sparsediff as sd
from sparsediff.problems import brusselator_rhs, extended_rosenbrock

assert len(jax.devices()) == 8, jax.devices()

y = 1.0 + 0.1 * jax.random.uniform(jax.random.key(0), (2, 6, 6), jnp.float32)
for mode in ("fwd", "rev", "bidirectional"):
    for chunk in (None, 3):
        one = sd.jacobian(brusselator_rhs, y, mode=mode, devices=1, chunk_size=chunk)
        many = sd.jacobian(brusselator_rhs, y, mode=mode, chunk_size=chunk)
        assert one.mesh is None and many.mesh is not None and many.mesh.devices.size == 8
        a, b = np.asarray(one(y).todense()), np.asarray(many(y).todense())
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            b, np.asarray(jax.jacfwd(brusselator_rhs)(y)).reshape(b.shape), rtol=1e-5, atol=1e-5
        )
        # nonzeros of the split evaluation: in pattern order, wherever the values live
        p = many.output_pattern
        want = b[np.asarray(p.rows), np.asarray(p.cols)]
        np.testing.assert_allclose(np.asarray(many.nonzeros(y)), want, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(np.asarray(many.nonzeros(y)), want, rtol=1e-6, atol=1e-7)

x = jnp.linspace(-1.0, 1.0, 40)
for mode in ("star", "acyclic", "column"):
    one = sd.hessian(extended_rosenbrock, x, mode=mode, devices=1)
    many = sd.hessian(extended_rosenbrock, x, mode=mode, devices=4)
    assert many.mesh.devices.size == 4
    np.testing.assert_allclose(
        np.asarray(one(x).todense()), np.asarray(many(x).todense()), rtol=1e-6, atol=1e-6
    )

# the products really are split: the compiled program carries the 8-way sharding
jac = sd.jacobian(brusselator_rhs, y, mode="fwd")
lowered = jac._jitted.lower((y,), [], jac._device())
assert '"colors"=8' in lowered.as_text(), "no 8-device mesh in the lowered evaluation"
compiled = lowered.compile().as_text()
# each device computes its share of the products, then they are gathered
assert "all-gather" in compiled, "the products are not split across the devices"
# and under the caller's jit
np.testing.assert_allclose(
    np.asarray(jax.jit(lambda z: jac(z).todense())(y)), np.asarray(jac(y).todense()), rtol=1e-6
)
print("MULTIDEVICE OK")
