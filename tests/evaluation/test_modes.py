"""The mode choice (``sparsediff.evaluation.modes``): non-symmetric Hessians."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.evaluation import modes, pipeline


@jax.custom_vjp
def _roll_vjp(x):
    """Identity whose backward rule also adds the rolled cotangent: JAX's second
    derivatives through it are not symmetric."""
    return x * 1.0


_roll_vjp.defvjp(lambda x: (x * 1.0, None), lambda _, g: (g + jnp.roll(g, 1),))


def lopsided(x):
    """Its Hessian pattern has a full first row and column (star: few colors, column:
    all of them) and, from the rule, a sub-diagonal without its mirror."""
    v = _roll_vjp(x)
    return jnp.sum(jnp.sin(2.0 * v) * (1.0 + v)) + x[0] * jnp.sum(x**2)


X = jnp.linspace(0.1, 0.9, 12)


def test_the_example_is_what_it_claims():
    h = np.asarray(jax.hessian(lopsided)(X))
    assert np.abs(h - h.T).max() > 1.0
    assert not modes.is_symmetric(sd.hessian_sparsity(lopsided, X))


@pytest.mark.parametrize("given", [False, True])
def test_a_non_symmetric_hessian_from_custom_rules_has_jax_values(given):
    pattern = sd.hessian_sparsity(lopsided, X) if given else None
    d = sd.hessian(lopsided, X, sparsity=pattern, output_format="dense")
    assert d.mode in ("column", "dense")
    np.testing.assert_allclose(np.asarray(d(X)), jax.hessian(lopsided)(X), rtol=1e-5, atol=1e-5)


def _arrow_plus_one(n: int, extra: tuple[int, int] | None) -> sd.SparsityPattern:
    """Full first row and column, tridiagonal, and optionally one unmirrored entry."""
    i = np.arange(n)
    rows = [np.zeros(n, int), i, i, i[1:], i[:-1]]
    cols = [i, np.zeros(n, int), i, i[:-1], i[1:]]
    if extra is not None:
        rows.append(np.array([extra[0]]))
        cols.append(np.array([extra[1]]))
    return sd.SparsityPattern(np.concatenate(rows), np.concatenate(cols), (n, n))


def test_is_symmetric():
    assert modes.is_symmetric(_arrow_plus_one(20, None))
    assert modes.is_symmetric(_arrow_plus_one(20, (5, 5)))
    assert not modes.is_symmetric(_arrow_plus_one(20, (5, 15)))
    assert not modes.is_symmetric(sd.SparsityPattern(np.array([0]), np.array([0]), (1, 2)))


def test_only_custom_rules_rule_out_the_symmetric_colorings():
    lopsided_pattern = _arrow_plus_one(20, (5, 15))
    assert modes.choose(lopsided_pattern, "hessian", None).mode == "star"
    off = modes.choose(lopsided_pattern, "hessian", None, symmetric_ok=False)
    assert off.mode == "dense"  # the full first row needs every column's own color
    symmetric = _arrow_plus_one(20, None)
    assert modes.choose(symmetric, "hessian", None, symmetric_ok=False).mode == "star"
    banded = sd.SparsityPattern(np.array([0, 1, 1, 2, 3]), np.array([0, 0, 1, 2, 3]), (4, 4))
    chosen = modes.choose(banded, "hessian", None, symmetric_ok=False)
    assert chosen.mode == "column" and chosen.coloring.num_colors == 2
    # an explicit mode is the user's choice
    assert modes.choose(lopsided_pattern, "hessian", "star", symmetric_ok=False).mode == "star"


def test_custom_rules_are_looked_up_only_for_non_symmetric_patterns(monkeypatch):
    """A detected Hessian's program is the gradient's, so telling whether f has custom
    rules takes one more trace of f; it is done only when the pattern needs it."""
    traced = []
    real = pipeline._custom_rules
    monkeypatch.setattr(
        pipeline, "_custom_rules", lambda f, model: traced.append(f) or real(f, model)
    )
    sd.hessian(lambda x: jnp.sum(jnp.sin(x) * x[::-1]), X)
    assert traced == []
    sd.hessian(lopsided, X)
    assert traced == [lopsided]
    sd.hessian(lopsided, X, mode="column")
    assert traced == [lopsided]
