"""Pieces of the evaluation benchmark (``benchmarks/evaluation.py``)."""

from __future__ import annotations

import jax
import numpy as np
from benchmarks.evaluation import VJP_PROBLEMS, time_interleaved, vjp_cost


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


def test_interleaved_timing_runs_bursts_in_rounds(monkeypatch):
    from benchmarks import evaluation

    calls: list[str] = []

    def counted(name: str):
        def fn():
            calls.append(name)
            return jax.numpy.zeros(())

        return fn

    # a 10 us callable gets bursts of 10 calls; a 1 ms one bursts of 2; a 5 ms one single calls
    warm = {"fast": 1e-5, "mid": 1e-3, "slow": 5e-3}
    time_interleaved({k: counted(k) for k in warm}, warm, budget=0.05)
    assert calls.count("fast") == 10 * (200 - 1)
    assert calls.count("mid") == 2 * (25 - 1)
    assert calls.count("slow") == 1 * (10 - 1)
    # round-robin: each round visits every callable once, as one burst
    assert calls[:13] == ["fast"] * 10 + ["mid"] * 2 + ["slow"]

    # the result: the median of the rounds' bests and the warm-up, not the single best
    bests = iter([1.0, 9.0, 3.0, 8.0] + [2.0] * 100)
    monkeypatch.setattr(evaluation, "_burst", lambda fn, k: next(bests))
    got = time_interleaved({"a": counted("a")}, {"a": 5.0}, min_calls=5)  # warm 5 s: 1 round
    assert got == {"a": (5.0 + 1.0) / 2}
    got = time_interleaved({"a": counted("a")}, {"a": 1e-3}, budget=0.004, min_calls=5)
    assert got == {"a": 3.0}  # median of 1e-3 (warm-up), 9, 3, 8, 2
