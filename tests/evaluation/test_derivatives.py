"""Prepared sparse Jacobians and Hessians equal dense JAX derivatives."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

import sparsediff as sd

rng = np.random.default_rng(0)


def to_dense(out):
    if isinstance(out, np.ndarray):
        return out
    if sp.issparse(out):
        return out.toarray()
    if hasattr(out, "todense"):
        return np.asarray(out.todense())
    return np.asarray(out)


def residual(x):
    return jnp.concatenate([(x[1:] - x[:-1]) ** 2, jnp.sin(x[:2]) * x[-1]])


def arrow(x):
    # one dense row and one dense column
    return jnp.concatenate([jnp.sum(x**2, keepdims=True), x[1:] * x[0] + x[1:] ** 3])


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def arrow_objective(x):
    return jnp.sum(x[1:] ** 2 * x[0]) + jnp.sum(jnp.cos(x))


X = rng.normal(size=9).astype(np.float32)
#: Hessians are compared in float64: their entries range from about 1 to 1e3 here, so a
#: float32 tolerance loose enough for the largest would hide errors in the smallest
X64 = X.astype(np.float64)


def assert_hessian_close(got, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-10)


JAC_MODES = [None, "fwd", "rev", "bidirectional", "dense_fwd", "dense_rev"]
FORMATS = ["bcoo", "bcsr", "dense", "scipy_csr", "scipy_csc", "scipy_coo", "numpy", "compressed"]


@pytest.mark.parametrize("mode", JAC_MODES)
@pytest.mark.parametrize("f", [residual, arrow], ids=["residual", "arrow"])
def test_jacobian_modes(f, mode):
    jac = sd.jacobian(f, X, mode=mode)
    expected = np.asarray(jax.jacfwd(f)(X))
    np.testing.assert_allclose(to_dense(jac(X)), expected, rtol=2e-5, atol=1e-5)
    x2 = X + 0.5
    np.testing.assert_allclose(
        to_dense(jac(x2)), np.asarray(jax.jacfwd(f)(x2)), rtol=2e-5, atol=1e-5
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_jacobian_output_formats(fmt):
    jac = sd.jacobian(residual, X, output_format=fmt)
    out = jac(X)
    expected = np.asarray(jax.jacfwd(residual)(X))
    if fmt == "compressed":
        values = np.asarray(out.values)
        np.testing.assert_allclose(values, expected[out.pattern.rows, out.pattern.cols], rtol=2e-5)
        out = out.todense()
    if fmt.startswith("scipy"):
        assert sp.issparse(out) and out.format == fmt.split("_")[1]
    np.testing.assert_allclose(to_dense(out), expected, rtol=2e-5, atol=1e-6)


def test_arrow_jacobian_uses_bicoloring():
    x = rng.normal(size=40).astype(np.float32)
    jac = sd.jacobian(arrow, x)
    assert jac.mode == "bidirectional"
    assert jac.num_colors <= 3
    np.testing.assert_allclose(
        to_dense(jac(x)), np.asarray(jax.jacfwd(arrow)(x)), rtol=2e-5, atol=1e-4
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 5])
@pytest.mark.parametrize("mode", ["fwd", "rev", "bidirectional"])
def test_chunking_gives_identical_results(mode, chunk_size):
    full = sd.jacobian(arrow, X, mode=mode, output_format="dense")(X)
    chunked = sd.jacobian(arrow, X, mode=mode, output_format="dense", chunk_size=chunk_size)(X)
    # a batch of at most UNROLL_MAX products runs unrolled when unchunked, vmapped in
    # chunks otherwise: XLA may round the last bit differently
    np.testing.assert_allclose(np.asarray(full), np.asarray(chunked), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", [None, "star", "acyclic", "column", "dense"])
@pytest.mark.parametrize("f", [rosenbrock, arrow_objective], ids=["rosenbrock", "arrow"])
def test_hessian_modes(f, mode):
    with jax.enable_x64(True):
        hes = sd.hessian(f, X64, mode=mode, output_format="dense")
        assert_hessian_close(hes(X64), jax.hessian(f)(X64))


def test_hessian_chunked_and_lower_triangle():
    with jax.enable_x64(True):
        hes = sd.hessian(rosenbrock, X64, output_format="scipy_coo", triangle="lower", chunk_size=1)
        lower = hes(X64).toarray()
        full = np.asarray(jax.hessian(rosenbrock)(X64))
    assert_hessian_close(lower, np.tril(full))
    assert (hes.output_pattern.rows >= hes.output_pattern.cols).all()


@pytest.mark.parametrize("triangle", [None, "lower", "upper"])
@pytest.mark.parametrize("fmt", ["bcoo", "dense"])
def test_direct_outputs_in_evaluation_order(fmt, triangle):
    """BCOO and dense outputs of direct colorings take the values in the order of
    the compressed products (no permutation at evaluation); the entries must
    still land where the pattern says, triangles included."""
    with jax.enable_x64(True):
        hes = sd.hessian(rosenbrock, X64, mode="star", output_format=fmt, triangle=triangle)
        assert hes.plan.layout.order is not None
        full = np.asarray(jax.hessian(rosenbrock)(X64))
        want = {None: full, "lower": np.tril(full), "upper": np.triu(full)}[triangle]
        out = hes(X64)
        assert_hessian_close(to_dense(out), want)  # todense under x64: no cast to float32
    if fmt == "bcoo":
        idx = np.asarray(out.indices)
        assert out.nse == hes.output_pattern.nnz
        assert_hessian_close(out.data, want[idx[:, 0], idx[:, 1]])
        # the pattern's entries, each once
        assert set(map(tuple, idx)) == set(
            zip(hes.output_pattern.rows.tolist(), hes.output_pattern.cols.tolist())
        )
    jac = sd.jacobian(residual, X, mode="fwd", output_format=fmt)
    assert jac.plan.layout.order is not None
    np.testing.assert_allclose(
        to_dense(jac(X)), np.asarray(jax.jacfwd(residual)(X)), rtol=2e-5, atol=1e-6
    )
    # under jit and vmap as well
    xs = np.stack([X, X + 0.25])
    batched = jax.jit(jax.vmap(lambda x: jac(x).todense() if fmt == "bcoo" else jac(x)))(xs)
    for k in range(2):
        np.testing.assert_allclose(
            np.asarray(batched[k]), np.asarray(jax.jacfwd(residual)(xs[k])), rtol=2e-5, atol=1e-5
        )


@pytest.mark.parametrize("fmt", ["bcoo", "dense", "compressed"])
def test_first_call_under_jit_then_outside(fmt):
    """The device arrays built on the first call must not be tracers of that trace."""
    jac = sd.jacobian(residual, X, output_format=fmt)
    inside = jax.jit(lambda x: jac(x))(X)
    outside = jac(X)
    want = np.asarray(jax.jacfwd(residual)(X))
    for out in (inside, outside):
        got = out.todense() if fmt != "dense" else out
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=1e-6)


def test_float64():
    with jax.enable_x64(True):
        x = rng.normal(size=9)
        jac = sd.jacobian(residual, x, output_format="dense")
        out = jac(x)
        assert out.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(out), np.asarray(jax.jacfwd(residual)(x)), rtol=1e-12)
        hes = sd.hessian(rosenbrock, x, output_format="dense")
        np.testing.assert_allclose(
            np.asarray(hes(x)), np.asarray(jax.hessian(rosenbrock)(x)), rtol=1e-10
        )


def test_jit_vmap_and_pytree_argument():
    jac = sd.jacobian(residual, X)

    @jax.jit
    def use(j, x):
        return j(x).todense()

    np.testing.assert_allclose(
        np.asarray(use(jac, X)), np.asarray(jax.jacfwd(residual)(X)), rtol=2e-5, atol=1e-6
    )
    batch = jnp.stack([X, X * 2])
    dense = sd.jacobian(residual, X, output_format="dense")
    out = jax.vmap(dense)(batch)
    np.testing.assert_allclose(
        np.asarray(out), np.asarray(jax.vmap(jax.jacfwd(residual))(batch)), rtol=2e-5, atol=1e-5
    )
    # grad of a scalar function of J
    g = jax.grad(lambda x: jnp.sum(dense(x) ** 2))(X)
    g_ref = jax.grad(lambda x: jnp.sum(jax.jacfwd(residual)(x) ** 2))(X)
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-4, atol=1e-4)


def test_pytrees_argnums_has_aux_and_values():
    def f(params, x, scale=1.0):
        y = params["w"] * x[:3] + jnp.roll(params["b"], 1)
        return {"y": y * scale, "z": jnp.sum(x**2)}, {"aux": x[0]}

    params = {"b": X[:3], "w": X[3:6]}
    x = X[6:]
    vj = sd.value_and_jacobian(f, params, x, argnums=(1, 0), has_aux=True, scale=2.0)
    (value, aux), J = vj(params, x, scale=2.0)
    ref = jax.jacfwd(lambda v: jax.flatten_util.ravel_pytree(f(*_split(v), scale=2.0)[0])[0])(
        jnp.concatenate([x, params["b"], params["w"]])
    )
    np.testing.assert_allclose(to_dense(J), np.asarray(ref), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(value["y"]), np.asarray(f(params, x, 2.0)[0]["y"]))
    assert float(aux["aux"]) == pytest.approx(float(x[0]))
    # a different static kwarg prepares again instead of reusing a stale pattern
    (_, _), J1 = vj(params, x, scale=1.0)
    np.testing.assert_allclose(
        to_dense(J1),
        np.asarray(ref) / np.where(np.arange(ref.shape[0])[:, None] < 3, 2.0, 1.0),
        rtol=2e-5,
        atol=1e-6,
    )


def _split(v):
    x, b, w = v[:3], v[3:6], v[6:9]
    return {"b": b, "w": w}, x


def test_value_and_hessian_returns_value_and_gradient():
    with jax.enable_x64(True):
        value, grad, H = sd.value_and_hessian(rosenbrock, X64, output_format="dense")(X64)
        assert float(value) == pytest.approx(float(rosenbrock(X64)), rel=1e-12)
        assert_hessian_close(grad, jax.grad(rosenbrock)(X64))
        assert_hessian_close(H, jax.hessian(rosenbrock)(X64))


def test_lazy_preparation_caches_by_signature():
    jac = sd.jacobian(residual)
    a = to_dense(jac(X))
    b = to_dense(jac(np.ones(5, np.float32)))
    assert a.shape == (10, 9) and b.shape == (6, 5)
    assert len(jac._cache) == 2
    jac(X * 3)
    assert len(jac._cache) == 2


def test_user_supplied_sparsity_and_coloring():
    pattern = sd.jacobian_sparsity(residual, X)
    col = sd.color(pattern, "column")
    j1 = sd.jacobian(residual, X, sparsity=pattern, output_format="dense")
    j2 = sd.jacobian(residual, X, coloring=col, output_format="dense")
    assert j2.mode == "fwd"
    np.testing.assert_allclose(np.asarray(j1(X)), np.asarray(j2(X)))


@pytest.mark.parametrize("fmt", ["bcoo", "bcsr", "dense", "scipy_csr", "compressed"])
def test_check_jacobian_passes_and_catches_errors(fmt):
    jac = sd.jacobian(residual, X, output_format=fmt)
    sd.check_jacobian(residual, X, prepared=jac)
    hes = sd.hessian(rosenbrock, X, triangle="lower", output_format=fmt)
    sd.check_hessian(rosenbrock, X, prepared=hes)
    # a prepared derivative of another function must be caught
    wrong = sd.jacobian(lambda x: residual(x) * 1.5, X, output_format=fmt)
    with pytest.raises(sd.VerificationError, match="entry"):
        sd.check_jacobian(residual, X, prepared=wrong)


def test_brusselator_n256_beyond_int32_dense_indexing():
    """n = 131 072, so m·n > 2^31: no dense intermediate, no int32 overflow."""
    from sparsediff.problems import brusselator_rhs

    grid = 256
    spec = jax.ShapeDtypeStruct((2, grid, grid), jnp.float32)
    jac = sd.jacobian(brusselator_rhs, spec)
    m, n = jac.sparsity.shape
    assert m * n > 2**31
    y = 1.0 + 0.1 * jax.random.uniform(jax.random.key(1), (2, grid, grid), jnp.float32)
    J = jac(y)
    assert J.shape == (m, n)
    sd.check_jacobian(brusselator_rhs, y, prepared=jac, num_vectors=2)
    # spot-check individual entries against a JVP with a unit seed
    for col in (0, n // 2 + 17, n - 1):
        seed = jnp.zeros(n, jnp.float32).at[col].set(1.0).reshape(2, grid, grid)
        column = np.asarray(jax.jvp(brusselator_rhs, (y,), (seed,))[1]).reshape(-1)
        idx = np.asarray(J.indices)
        data = np.asarray(J.data)
        sel = idx[:, 1] == col
        np.testing.assert_allclose(data[sel], column[idx[sel, 0]], rtol=1e-5, atol=1e-5)
        assert np.count_nonzero(column) <= sel.sum()


def test_hessian_through_a_while_loop_is_evaluated_forward_over_forward():
    """JAX has no reverse mode through while_loop: the gradient is taken in forward
    mode, and the sparse Hessian equals the dense forward-over-forward one."""

    def f(x):
        def body(c):
            y, k = c
            return jnp.sin(y) * y + 0.5 * jnp.roll(y, 1) ** 2, k + 1

        return jnp.sum(jax.lax.while_loop(lambda c: c[1] < 3, body, (x, 0))[0] ** 2)

    x = jnp.linspace(0.1, 0.9, 12)
    prepared = sd.hessian(f, x, output_format="dense")
    dense = jax.jacfwd(jax.jacfwd(f))(x)
    assert np.allclose(prepared(x), dense, rtol=1e-4, atol=1e-5)
    assert np.allclose(
        jax.jit(prepared)(x * 0.5), jax.jacfwd(jax.jacfwd(f))(x * 0.5), rtol=1e-4, atol=1e-5
    )
