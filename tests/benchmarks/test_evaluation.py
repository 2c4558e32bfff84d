"""Pieces of the evaluation benchmark (``benchmarks/evaluation.py``)."""

from __future__ import annotations

import jax
import numpy as np
from benchmarks.evaluation import VJP_PROBLEMS, vjp_cost


def test_the_nlp_constraints_of_the_vjp_table_are_the_nlp_problems_own():
    by_name = {p.name: p for p, _, _ in VJP_PROBLEMS}
    cartpole, lukvle1 = by_name["cartpole_c"], by_name["lukvle1_c"]
    # N intervals: 5 (N + 1) variables, 4 N defects; n variables: n - 2 constraints
    assert jax.eval_shape(cartpole.fn, cartpole.spec(40)).shape == (4 * 40,)
    assert cartpole.n_in(40) == 5 * 41
    assert jax.eval_shape(lukvle1.fn, lukvle1.spec(50)).shape == (48,)


def test_vjp_cost_row_of_an_nlp_constraint_function():
    problem = next(p for p, _, _ in VJP_PROBLEMS if p.name == "cartpole_c")
    row = vjp_cost(problem, 30, budget=0.05)
    assert row["problem"] == "cartpole_c" and row["n"] == 5 * 31 and row["m"] == 4 * 30
    for key in ("jvp_k", "vjp_k", "jvp_1", "vjp_1"):
        assert np.isfinite(row[key]) and row[key] > 0
