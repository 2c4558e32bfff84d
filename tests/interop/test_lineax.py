"""sparsediff.lineax.SparseLU inside optimistix and diffrax equals lineax's dense LU."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

lx = pytest.importorskip("lineax", reason="lineax is not installed (extra 'lineax')")
pytest.importorskip("sparsax", reason="sparsax is not installed (extra 'lineax')")
optx = pytest.importorskip("optimistix", reason="optimistix is not installed (extra 'lineax')")
diffrax = pytest.importorskip("diffrax", reason="diffrax is not installed (extra 'lineax')")

import sparsediff  # noqa: E402
import sparsediff.lineax as sdlx  # noqa: E402
from sparsediff.problems import brusselator_rhs  # noqa: E402


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def broyden(x, args=None):
    left = jnp.concatenate([jnp.zeros(1, x.dtype), x[:-1]])
    right = jnp.concatenate([x[1:], jnp.zeros(1, x.dtype)])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def newton(solver, x0):
    return optx.root_find(broyden, optx.Newton(1e-10, 1e-10, linear_solver=solver), x0).value


def test_optimistix_newton_matches_dense_lu_under_jit():
    x0 = -jnp.ones(200)
    ours = jax.jit(lambda z: newton(sdlx.SparseLU(), z))(x0)
    dense = jax.jit(lambda z: newton(lx.LU(), z))(x0)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(dense), rtol=1e-10, atol=1e-12)
    assert float(jnp.abs(broyden(ours)).max()) < 1e-10


@pytest.mark.parametrize("solver_name", ["Chord", "LevenbergMarquardt"])
def test_other_optimistix_solvers(solver_name):
    x0 = -jnp.ones(50)
    if solver_name == "Chord":
        sol = optx.root_find(broyden, optx.Chord(1e-10, 1e-10, linear_solver=sdlx.SparseLU()), x0)
    else:
        sol = optx.least_squares(
            broyden, optx.LevenbergMarquardt(1e-10, 1e-10, linear_solver=sdlx.SparseLU()), x0
        )
    assert float(jnp.abs(broyden(sol.value)).max()) < 1e-8


def test_operator_matrix_transpose_and_pytrees():
    def fn(tree, args=None):
        u, v = tree["u"], tree["v"]
        return {"u": u**3 + jnp.roll(v, 1), "v": jnp.sin(v) * 2.0 + u * v}

    point = {"u": jnp.linspace(0.5, 1.5, 6), "v": jnp.linspace(-1.0, 1.0, 6)}
    op = lx.JacobianLinearOperator(fn, point)
    pattern, values = sdlx.sparse_matrix(op)
    dense = np.asarray(lx.MatrixLinearOperator(op.as_matrix()).as_matrix())
    got = np.zeros_like(dense)
    got[pattern.rows, pattern.cols] = np.asarray(values)
    np.testing.assert_allclose(got, dense, rtol=1e-12)
    assert pattern.nnz < dense.size
    b = {"u": jnp.ones(6), "v": jnp.arange(6.0)}
    for operator in (op, op.T):
        ours = lx.linear_solve(operator, b, sdlx.SparseLU()).value
        want = lx.linear_solve(operator, b, lx.LU()).value
        for k in ("u", "v"):
            np.testing.assert_allclose(np.asarray(ours[k]), np.asarray(want[k]), rtol=1e-10)


def test_seed_products_are_not_constant_folded():
    # Inside a caller's jit the seeds are constants; XLA must not fold the JVPs' linear
    # operations on them (at n = 10^6 that took seconds and logged constant-folding
    # errors in examples/optimistix_newton.py): the shifts of the colors x n seed
    # tangents stay operations of the compiled program.
    import re

    def shifted(x, args):
        return jnp.concatenate([x[1:], x[:1]]) * 3.0 - x**2

    def matrix_values(x):
        return sdlx.sparse_matrix(lx.JacobianLinearOperator(shifted, x))[1]

    hlo = jax.jit(matrix_values).lower(jnp.ones(1000)).compile().as_text()
    shapes = re.findall(r"= f64\[(\d+),(\d+)\]\{[^}]*\} (?:slice|concatenate)\(", hlo)
    assert ("2", "1000") in shapes, shapes


def test_pattern_is_valid_away_from_the_traced_point():
    """An operator whose entries vanish at the first point must still get the full pattern."""
    sdlx.clear_cache()

    def fn(x, args=None):
        return x**2 * x[::-1] + x

    zero_first = jnp.zeros(5)
    pattern, _ = sdlx.sparse_matrix(lx.JacobianLinearOperator(fn, zero_first))
    x = jnp.linspace(0.3, 1.2, 5)
    dense = np.asarray(jax.jacfwd(fn)(x))
    got = np.zeros(dense.shape, bool)
    got[pattern.rows, pattern.cols] = True
    assert not ((dense != 0) & ~got).any()


def brusselator_solve(solver, y0, t1=0.05):
    term = diffrax.ODETerm(lambda t, y, args: brusselator_rhs(y, alpha=args))
    stepper = diffrax.Kvaerno5(
        root_finder=diffrax.VeryChord(rtol=1e-8, atol=1e-8, linear_solver=solver)
    )
    return diffrax.diffeqsolve(
        term,
        stepper,
        t0=0.0,
        t1=t1,
        dt0=1e-3,
        y0=y0,
        args=5.0,
        stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8),
    ).ys[-1]


def test_diffrax_kvaerno5_brusselator_matches_dense_lu():
    grid = 6
    y0 = 1.0 + 0.2 * jax.random.uniform(jax.random.key(0), (2, grid, grid), jnp.float64)
    ours = jax.jit(lambda y: brusselator_solve(sdlx.SparseLU(), y))(y0)
    dense = jax.jit(lambda y: brusselator_solve(lx.LU(), y))(y0)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(dense), rtol=1e-7, atol=1e-9)


def test_reverse_mode_through_diffrax_matches_dense_lu():
    grid = 4
    y0 = 1.0 + 0.2 * jax.random.uniform(jax.random.key(1), (2, grid, grid), jnp.float64)

    def loss(y, solver):
        return jnp.sum(brusselator_solve(solver, y, t1=0.02) ** 2)

    ours = jax.jit(jax.grad(lambda y: loss(y, sdlx.SparseLU())))(y0)
    dense = jax.jit(jax.grad(lambda y: loss(y, lx.LU())))(y0)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(dense), rtol=1e-6, atol=1e-9)


def test_needs_x64():
    with jax.enable_x64(False):
        op = lx.MatrixLinearOperator(jnp.eye(3))
        with pytest.raises(RuntimeError, match="jax_enable_x64"):
            sdlx.SparseLU().init(op, {})


def test_tall_operators_least_squares_and_transpose():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(9, 5)) * (rng.random((9, 5)) < 0.5)
    A[np.arange(5), np.arange(5)] += 3.0  # full column rank
    op = lx.MatrixLinearOperator(jnp.asarray(A))
    b = jnp.asarray(rng.normal(size=9))
    x = lx.linear_solve(op, b, sdlx.SparseLU()).value
    np.testing.assert_allclose(np.asarray(x), np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-9)
    c = jnp.asarray(rng.normal(size=5))
    y = lx.linear_solve(op.T, c, sdlx.SparseLU()).value  # least-norm solution of Aᵀ y = c
    np.testing.assert_allclose(np.asarray(y), np.linalg.pinv(A.T) @ np.asarray(c), rtol=1e-9)


# -- backends ----------------------------------------------------------------------------

from sparsediff.lineax import pardiso as pardiso_backend  # noqa: E402
from sparsediff.lineax.operator import prepare  # noqa: E402

needs_pardiso = pytest.mark.skipif(
    not pardiso_backend.available(), reason='pardiso-mkl-jax is not installed (extra "pardiso")'
)
BACKENDS = ["klu", pytest.param("pardiso", marks=needs_pardiso)]


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'umfpack'"):
        sdlx.SparseLU(backend="umfpack")


def test_pardiso_backend_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pardiso_backend, "available", lambda: False)
    op = lx.MatrixLinearOperator(jnp.eye(3) * 2.0)
    with pytest.raises(ImportError, match=r"sparsediff\[pardiso\]"):
        lx.linear_solve(op, jnp.ones(3), sdlx.SparseLU(backend="pardiso"))


def brusselator_operator(grid, gamma, seed=0):
    y = 1.0 + 0.2 * jax.random.uniform(jax.random.key(seed), (2, grid, grid), jnp.float64)
    return lx.JacobianLinearOperator(lambda z, a: z - gamma * brusselator_rhs(z), y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_solve_and_transpose_like_dense_lu(backend):
    op = brusselator_operator(6, 0.05)
    b = jax.random.normal(jax.random.key(3), (2, 6, 6), jnp.float64)
    solver = sdlx.SparseLU(backend=backend)
    for operator in (op, op.T):
        ours = jax.jit(lambda v, o=operator: lx.linear_solve(o, v, solver).value)(b)
        want = lx.linear_solve(operator, b, lx.LU()).value
        np.testing.assert_allclose(np.asarray(ours), np.asarray(want), rtol=1e-10, atol=1e-12)


@needs_pardiso
def test_pardiso_newton_and_diffrax_match_dense_lu():
    x0 = -jnp.ones(200)
    ours = jax.jit(lambda z: newton(sdlx.SparseLU(backend="pardiso"), z))(x0)
    dense = jax.jit(lambda z: newton(lx.LU(), z))(x0)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(dense), rtol=1e-10, atol=1e-12)
    y0 = 1.0 + 0.2 * jax.random.uniform(jax.random.key(0), (2, 6, 6), jnp.float64)
    ours = jax.jit(lambda y: brusselator_solve(sdlx.SparseLU(backend="pardiso"), y))(y0)
    dense = jax.jit(lambda y: brusselator_solve(lx.LU(), y))(y0)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(dense), rtol=1e-7, atol=1e-9)


@needs_pardiso
def test_pardiso_reverse_mode_through_diffrax():
    y0 = 1.0 + 0.2 * jax.random.uniform(jax.random.key(1), (2, 4, 4), jnp.float64)

    def loss(y, solver):
        return jnp.sum(brusselator_solve(solver, y, t1=0.02) ** 2)

    ours = jax.jit(jax.grad(lambda y: loss(y, sdlx.SparseLU(backend="pardiso"))))(y0)
    dense = jax.jit(jax.grad(lambda y: loss(y, lx.LU())))(y0)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(dense), rtol=1e-6, atol=1e-9)


@needs_pardiso
def test_pardiso_interleaved_factorisations_of_one_pattern_stay_correct():
    """Two matrices of one pattern factorised in one program: Pardiso keeps one
    factorisation per pattern, so a solve may meet the other matrix's; the
    residual check must catch that and hand the solve to KLU."""
    solver = sdlx.SparseLU(backend="pardiso")
    b = jax.random.normal(jax.random.key(4), (2, 5, 5), jnp.float64)

    def both(b):
        ops = [brusselator_operator(5, g, seed=s) for s, g in ((0, 0.05), (1, 0.2))]
        states = [solver.init(o, {}) for o in ops]  # both factorised before any solve
        return [solver.compute(st, b, {})[0] for st in states], ops

    xs, ops = both(b)
    for x, op in zip(xs, ops):
        want = lx.linear_solve(op, b, lx.LU()).value
        np.testing.assert_allclose(np.asarray(x), np.asarray(want), rtol=1e-10, atol=1e-12)


@needs_pardiso
def test_pardiso_falls_back_to_klu_when_the_residual_is_too_large(monkeypatch):
    monkeypatch.setattr(pardiso_backend, "BACKWARD_ERROR_MAX", -1.0)  # every solve is redone
    op = brusselator_operator(5, 0.1)
    b = jnp.ones((2, 5, 5))
    ours = lx.linear_solve(op, b, sdlx.SparseLU(backend="pardiso")).value
    want = lx.linear_solve(op, b, lx.LU()).value
    np.testing.assert_allclose(np.asarray(ours), np.asarray(want), rtol=1e-10, atol=1e-12)


@needs_pardiso
def test_pardiso_under_vmap_over_matrices_and_right_hand_sides():
    solver = sdlx.SparseLU(backend="pardiso")
    gammas = jnp.array([0.02, 0.1, 0.3])
    b = jax.random.normal(jax.random.key(5), (3, 2, 4, 4), jnp.float64)

    def solve(g, v):
        return lx.linear_solve(brusselator_operator(4, g), v, solver).value

    def dense(g, v):
        return lx.linear_solve(brusselator_operator(4, g), v, lx.LU()).value

    ours = jax.jit(jax.vmap(solve))(gammas, b)
    want = jax.vmap(dense)(gammas, b)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(want), rtol=1e-10, atol=1e-12)
    one_matrix = jax.jit(jax.vmap(lambda v: solve(0.1, v)))(b)
    want = jax.vmap(lambda v: dense(0.1, v))(b)
    np.testing.assert_allclose(np.asarray(one_matrix), np.asarray(want), rtol=1e-10, atol=1e-12)


def test_auto_backend_picks_pardiso_only_for_large_wide_band_operators(monkeypatch):
    monkeypatch.setattr(pardiso_backend, "available", lambda: True)
    sdlx.clear_cache()  # the bandwidth is measured at preparation, where Pardiso is available
    wide = prepare(brusselator_operator(32, 0.01))[0]  # n = 2048, a 2D grid
    narrow = prepare(lx.JacobianLinearOperator(broyden, -jnp.ones(4096)))[0]
    small = prepare(brusselator_operator(8, 0.01))[0]
    assert wide.bandwidth >= sdlx.PARDISO_MIN_BANDWIDTH and narrow.bandwidth == 1
    auto, klu, pardiso = (sdlx.SparseLU(backend=b) for b in ("auto", "klu", "pardiso"))
    assert [auto._use_pardiso(p) for p in (wide, narrow, small)] == [True, False, False]
    assert not klu._use_pardiso(wide) and pardiso._use_pardiso(small)


def test_auto_picks_pardiso_reads_a_pattern(monkeypatch):
    monkeypatch.setattr(pardiso_backend, "available", lambda: True)
    grid = sparsediff.jacobian_sparsity(brusselator_rhs, jax.ShapeDtypeStruct((2, 32, 32), float))
    band = sparsediff.jacobian_sparsity(broyden, jax.ShapeDtypeStruct((4096,), float))
    assert sdlx.auto_picks_pardiso(grid) and not sdlx.auto_picks_pardiso(band)
    monkeypatch.setattr(pardiso_backend, "available", lambda: False)
    assert not sdlx.auto_picks_pardiso(grid)
