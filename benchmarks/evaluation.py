"""Evaluation benchmark: the cost of evaluating prepared sparse Jacobians and Hessians.

Usage::

    python -m benchmarks.evaluation [--quick] [--no-asdex] [--problems NAME ...] [--json PATH]

For every problem and size the script prints

* sparsediff's preparation time (detection and coloring, from a ``jax.ShapeDtypeStruct``),
  the chosen mode, the number of colors (AD passes; ``forward + reverse`` for bicoloring) with
  the coloring's lower bound, the compile time (the first call) and the evaluation time of the
  prepared, internally jitted Jacobian / Hessian (BCOO output);
* the time of one jitted JVP ``jax.jit(lambda x, v: jax.jvp(f, (x,), (v,))[1])`` (for Hessians
  one Hessian-vector product, forward over reverse; for bicoloring also one VJP), the *floor*
  ``colors x JVP`` (``forward x JVP + reverse x VJP`` for bicoloring, ``colors x HVP`` for
  Hessians) and the ratio ``eval / floor``, the overhead of the sparse evaluation over the AD
  passes it cannot avoid;
* three diagnostics that split the overhead: the same call inside the caller's ``jax.jit``
  (*eval in jit*, without the Python call overhead of the prepared object), the same prepared
  derivative with ``output_format="compressed"`` (*values only*: the nonzero values, no BCOO
  indices), and the *vmap floor*: the JVPs / VJPs / HVPs on the coloring's own 0/1 seeds,
  embedded as constants and each group one ``jax.vmap`` in one jit as sparsediff runs them,
  without decompression.  Both floors can lie far above the evaluation: a vmapped batch can
  be cheaper than separate passes (a batched convolution), and XLA may constant-fold the
  linear part of the products on constant seeds (the single JVP gets its tangent as an
  argument, the floor's seeds are constants like sparsediff's);
* dense ``jax.jit(jax.jacfwd(f))`` (``jax.hessian`` for Hessians) where the dense matrix fits in
  :data:`DENSE_LIMIT_BYTES`, with the speed-up of the sparse evaluation over it;
* asdex 0.5.1's preparation time (``asdex.jacobian_coloring`` / ``asdex.hessian_coloring`` on a
  concrete numpy array), its colors, the compile time and the evaluation time of
  ``jax.jit(asdex.jacobian_from_coloring(f, coloring))`` (``hessian_from_coloring``), and the
  ratio ``asdex eval / sparsediff eval`` (above 1: sparsediff is faster).  asdex gets the
  function flattened to a vector in and a vector out (``f(x.reshape(shape)).ravel()``) for
  multi-dimensional problems: asdex's BCOO output reshapes its result to
  ``(*out_shape, *in_shape)``, which overflows int32 indices from about 46,000 x 46,000 on;
  sparsediff's BCOO output is the flat ``(m, n)`` matrix anyway.

Then it measures the cost of a VJP relative to a JVP (``k = 8`` seeds, ``jax.vmap`` of the
product, the VJP including its forward pass, as in sparsediff's reverse mode) on stencil-like
problems, the Brusselator and the constraints of two NLP benchmark problems (cart-pole
collocation, LUKVLE1) at ``n ~ 10^5``, the basis of the weight ``VJP_COST`` in
``sparsediff.evaluation.modes``, and prints the targets of the issue with PASS / FAIL.

Problems (``--problems``): ``diff`` ``(x[1:] - x[:-1])**2``, ``n = 10^3 .. 10^6``;
``brusselator`` (``sparsediff.problems.brusselator_rhs``, input ``(2, N, N)``),
``N = 32 .. 512``; ``conv2d`` (``tanh`` of a "SAME" convolution with a constant dense 3 x 3
kernel, ``N x N`` image), ``N = 64 .. 512``; Hessians of ``rosenbrock`` (chained) and
``arrowhead`` (``sum(x[1:]**2 x[0]) + sum(cos x)``), ``n = 10^3 .. 10^6``; ``dense_row_col``
(a Jacobian with one dense row, one dense column and a diagonal), ``n = 10^4``.

Methodology.  Wall time (``time.perf_counter``), ``jax.block_until_ready`` on every result.
Preparation and compilation are single calls.  The evaluations of one problem and size
(sparsediff, its values-only variant, the JVP, VJP or HVP, dense AD, asdex) are timed
*interleaved*: round after round, each callable runs a short burst of back-to-back calls
(about 2 ms, at most 10 calls, after a ``gc.collect()``), so that a burst of load from other
processes affects all of them alike, while no single call pays for the caches its neighbour
evicted; each reports the median of its rounds' best calls (5 to 200 rounds within a time
budget per callable; calls that take seconds are repeated less; see :func:`time_interleaved`
for why not the single best call).  Ratios therefore compare times measured side by side
in this run.
Sizes are capped per tool: when the time of a single call (preparation, compilation or
evaluation), extrapolated from the smaller sizes, exceeds :data:`CALL_LIMIT` seconds, or the
tool failed at a smaller size, the size is printed as "skipped" for that tool.

Correctness, at every size: the sparse results of both tools are compared with the dense
matrix of ``jax.jacfwd`` / ``jax.hessian`` where it has at most
``benchmarks.checks.DENSE_CHECK_ELEMENTS`` elements, and otherwise with
``benchmarks.checks.PROBES`` random products ``J v`` (``jax.jvp``; Hessian-vector products for
Hessians).  The verdicts (``benchmarks.verdicts.evaluation_verdicts``) close the report; the
script exits with status 1 when one fails: a wrong or unchecked sparsediff result, an error, a
missed count target or, in full runs, a missed timing target.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import sparsediff
from sparsediff.evaluation import modes as _modes
from sparsediff.problems import brusselator_rhs

from . import nlp_problems, verdicts
from .checks import DENSE_CHECK_ELEMENTS, product_error
from .common import fmt_int, fmt_ratio, fmt_seconds, have_module, log, markdown_table
from .problems import (
    Problem,
    arrowhead,
    chained_diff,
    conv2d_tanh,
    dense_row_col,
    fori_stencil,
    format_size,
    rosenbrock,
)

__all__ = [
    "EVAL_PROBLEMS",
    "VJP_PROBLEMS",
    "CALL_LIMIT",
    "DENSE_LIMIT_BYTES",
    "RATIO_TARGET",
    "time_interleaved",
    "run",
    "report",
    "main",
]

#: a tool is skipped at a size where one call is predicted to take longer than this (seconds)
CALL_LIMIT = 60.0
#: dense AD is skipped where the dense float32 matrix (``n * m * 4`` bytes) exceeds this
DENSE_LIMIT_BYTES = 2e9
#: target for ``eval / (colors x JVP)`` ...
RATIO_TARGET = 1.5
#: ... from this input size on
RATIO_FROM_N = 10**4
#: "no slower than asdex" allows this factor for timing noise
ASDEX_TOLERANCE = 1.1
#: a correct sparse matrix differs from the dense one by at most this, relative to max |J|
CHECK_TOLERANCE = 1e-3
#: number of seeds of the vmapped JVP / VJP comparison
VJP_SEEDS = 8
#: the weight of a VJP in JVPs used by sparsediff's automatic mode
VJP_WEIGHT = _modes.VJP_COST
#: the measurement supports the weight when the geometric mean ratio is within this fraction
VJP_SUPPORT = 0.2

#: the name that selects the VJP / JVP measurement in ``--problems``
VJP_NAME = "vjp_cost"

SD = "sparsediff"
AS = "asdex"
DENSE = "dense"


def _square(size: int) -> tuple[int, ...]:
    return (size, size)


EVAL_PROBLEMS: tuple[Problem, ...] = (
    Problem(
        name="diff",
        title="(x[1:] - x[:-1])**2  (Jacobian)",
        kind="jacobian",
        fn=chained_diff,
        sizes=(10**3, 10**4, 10**5, 10**6),
        quick_sizes=(10**3, 10**4),
        asdex_max=10**6,
        check_size=10**3,
    ),
    Problem(
        name="brusselator",
        title="2D Brusselator, sparsediff.problems.brusselator_rhs, input (2, N, N)  (Jacobian)",
        kind="jacobian",
        fn=brusselator_rhs,
        sizes=(32, 64, 128, 256, 512),
        quick_sizes=(32,),
        asdex_max=512,
        check_size=32,
        ndim_grid=2,
        size_symbol="N",
    ),
    Problem(
        name="conv2d",
        title='tanh(conv_general_dilated(u, K, "SAME")), constant dense 3x3 K, N x N image  '
        "(Jacobian)",
        kind="jacobian",
        fn=conv2d_tanh,
        sizes=(64, 128, 256, 512),
        quick_sizes=(32,),
        asdex_max=512,
        check_size=64,
        size_symbol="N",
        shape_of=_square,
    ),
    Problem(
        name="rosenbrock",
        title="chained Rosenbrock  (Hessian)",
        kind="hessian",
        fn=rosenbrock,
        sizes=(10**3, 10**4, 10**5, 10**6),
        quick_sizes=(10**3, 10**4),
        asdex_max=10**6,
        check_size=10**3,
    ),
    Problem(
        name="arrowhead",
        title="arrowhead sum(x[1:]**2 * x[0]) + sum(cos(x))  (Hessian)",
        kind="hessian",
        fn=arrowhead,
        sizes=(10**3, 10**4, 10**5, 10**6),
        quick_sizes=(10**3,),
        asdex_max=10**6,
        check_size=10**3,
    ),
    Problem(
        name="dense_row_col",
        title="concatenate([sum(x**2, keepdims=True), x[1:] * x[0] + x[1:]**3]): one dense row, "
        "one dense column  (Jacobian)",
        kind="jacobian",
        fn=dense_row_col,
        sizes=(10**4,),
        quick_sizes=(10**3,),
        asdex_max=10**4,
        check_size=10**4,
    ),
)

#: (problem, full-run size, quick size) of the VJP / JVP comparison, each ``n ~ 10^5``
VJP_PROBLEMS: tuple[tuple[Problem, int, int], ...] = (
    (EVAL_PROBLEMS[0], 10**5, 10**4),
    (
        Problem(
            name="fori_stencil",
            title="fori_loop of 10 periodic heat-stencil steps with tanh",
            kind="jacobian",
            fn=fori_stencil,
            sizes=(10**5,),
            quick_sizes=(10**4,),
            asdex_max=0,
            check_size=10**3,
        ),
        10**5,
        10**4,
    ),
    (EVAL_PROBLEMS[2], 316, 100),
    (EVAL_PROBLEMS[1], 224, 72),
    (
        Problem(
            name="cartpole_c",
            title="cart-pole trapezoidal collocation defects (benchmarks.nlp_problems)",
            kind="jacobian",
            fn=lambda z: nlp_problems.cartpole_constraints(
                nlp_problems.jax_ops(), z, z.size // 5 - 1
            ),
            sizes=(20_000,),
            quick_sizes=(2_000,),
            asdex_max=0,
            check_size=10,
            size_symbol="N",
            shape_of=lambda intervals: (5 * (intervals + 1),),
        ),
        20_000,
        2_000,
    ),
    (
        Problem(
            name="lukvle1_c",
            title="LUKVLE1 constraints (benchmarks.nlp_problems)",
            kind="jacobian",
            fn=lambda x: nlp_problems.lukvle1_constraints(nlp_problems.jax_ops(), x),
            sizes=(10**5,),
            quick_sizes=(10**4,),
            asdex_max=0,
            check_size=10,
        ),
        10**5,
        10**4,
    ),
)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any], keep: bool = False) -> tuple[float, Any]:
    """One call of ``fn`` (blocked until ready) after a ``gc.collect()``: (seconds, result)."""
    gc.collect()
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    dt = time.perf_counter() - t0
    return dt, (out if keep else None)


#: a round's calls of one callable take about this long (a burst of back-to-back calls) ...
BURST_SECONDS = 2e-3
#: ... but are at most this many
MAX_BURST = 10


def _burst(fn: Callable[[], Any], calls: int) -> float:
    """The best of ``calls`` back-to-back calls of ``fn`` (each blocked until ready)."""
    best = math.inf
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def time_interleaved(
    fns: dict[str, Callable[[], Any]],
    warm: dict[str, float],
    budget: float = 1.5,
    min_calls: int = 5,
    max_calls: int = 200,
) -> dict[str, float]:
    """Typical wall time of each warmed-up callable, calling them in round-robin order: the
    median over the rounds of each round's best call.

    ``warm[name]`` is the time of one call made after compilation.  In each round every
    callable runs a burst: ``BURST_SECONDS / warm`` back-to-back calls (1 to
    :data:`MAX_BURST`), after one ``gc.collect()``.  A single call right after a neighbour
    that wrote hundreds of megabytes (the dense Jacobian at ``n = 10^4``) pays for the caches
    and pages that neighbour evicted: it measured 2.3 ms for a 150 us evaluation.  The burst's
    later calls do not, and a user who calls a derivative in a loop sees those.  The rounds
    (``budget / (warm x burst)`` clamped to ``[min_calls, max_calls]``; 2 at 2 s or more,
    none more at 10 s or more; the warm-up call counts as one) interleave the callables, so
    that a burst of load from other processes affects all of them alike.  The median of the
    rounds' bests, the warm-up call counting as one more, rather than the single best call:
    on two cores, XLA's CPU runtime splits a loop of some 10^4 elements between its
    threads, and how long waking them takes varies by tens of microseconds from call to call
    (the Rosenbrock Hessian with 10^4 variables, called directly: 48 to 113 us over 40
    rounds, 32 to 45 us with the process pinned to one core), so the best of many calls of
    such a callable is luck, not a typical time. Up to 200 rounds (30 before): a call of some
    10 us ran in a fast and a slow state (15 and 40 us for the diff Jacobian at ``n = 10^3``)
    that each lasted some thousand calls, with JAX's asynchronous CPU dispatch (with
    ``jax_cpu_enable_async_dispatch`` off: 12 us throughout), so a median over a few
    milliseconds of calls was the state's, not the run's.
    """
    rounds: dict[str, int] = {}
    burst: dict[str, int] = {}
    for name in fns:
        w = max(warm[name], 1e-6)
        burst[name] = max(1, min(MAX_BURST, int(BURST_SECONDS / w)))
        if w >= 10.0:
            rounds[name] = 0
        elif w >= 2.0:
            rounds[name] = 1
        else:
            rounds[name] = max(min_calls, min(max_calls, int(budget / (w * burst[name])))) - 1
    samples: dict[str, list[float]] = {name: [warm[name]] for name in fns}
    # Freezing the objects that exist now makes the ``gc.collect()`` before each burst nearly
    # free: a full collection takes ~50 ms with JAX loaded and evicts the CPU caches, which
    # adds hundreds of microseconds to the next (small) call.
    gc.collect()
    gc.freeze()
    try:
        for r in range(max(rounds.values(), default=0)):
            for name, fn in fns.items():
                if r < rounds[name]:
                    gc.collect()
                    samples[name].append(_burst(fn, burst[name]))
    finally:
        gc.unfreeze()
    return {name: float(np.median(samples[name])) for name in fns}


# --------------------------------------------------------------------------------------------
# Size caps
# --------------------------------------------------------------------------------------------


class Caps:
    """Decides, per problem and tool, whether a size is worth running (see the module doc)."""

    def __init__(self, limit: float = CALL_LIMIT):
        self.limit = limit
        self.history: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.failed: dict[tuple[str, str], str] = {}

    def predict(self, problem: str, tool: str, work: float) -> float | None:
        h = self.history.get((problem, tool))
        if not h:
            return None
        w1, t1 = h[-1]
        power = 1.0
        if len(h) >= 2:
            w0, t0 = h[-2]
            # the growth between the last two sizes, once the times are large enough to tell
            if t0 >= 0.5 and t1 > t0 and w1 > w0:
                power = min(2.0, max(1.0, math.log(t1 / t0) / math.log(w1 / w0)))
        return t1 * (work / w1) ** power

    def skip_reason(self, problem: str, tool: str, work: float) -> str | None:
        if (problem, tool) in self.failed:
            return f"skipped (failed at a smaller size: {self.failed[(problem, tool)]})"
        pred = self.predict(problem, tool, work)
        if pred is not None and pred > self.limit:
            return f"skipped (one call predicted to take ~{pred:.0f} s > {self.limit:.0f} s)"
        return None

    def record(self, problem: str, tool: str, work: float, seconds: float) -> None:
        self.history.setdefault((problem, tool), []).append((float(work), float(seconds)))

    def fail(self, problem: str, tool: str, why: str) -> None:
        self.failed[(problem, tool)] = why


def _error_text(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first[:200]}"


# --------------------------------------------------------------------------------------------
# One problem at one size
# --------------------------------------------------------------------------------------------


def _flat(f: Callable, shape: tuple[int, ...]) -> Callable:
    """``f`` as a function of a flat vector returning a flat vector (for asdex)."""

    def g(z: jax.Array) -> jax.Array:
        return jnp.ravel(f(z.reshape(shape)))

    return g


def _dense_matrix(out: Any, m: int, n: int) -> np.ndarray:
    if hasattr(out, "todense"):
        out = out.todense()
    return np.asarray(out, dtype=np.float64).reshape(m, n)


def _check(sparse_out: Any, dense: np.ndarray, m: int, n: int) -> float:
    """``max |J_sparse - J_dense| / max |J_dense|``."""
    j = _dense_matrix(sparse_out, m, n)
    scale = max(float(np.max(np.abs(dense))), 1e-30)
    return float(np.max(np.abs(j - dense))) / scale


def _floor_seconds(row: dict[str, Any], best: dict[str, float]) -> float | None:
    mode = row.get("sd_mode")
    if mode is None or "pass" not in best:
        return None
    if row["kind"] == "hessian":
        return row["sd_colors"] * best["pass"]
    nf, nr = row.get("sd_forward", 0), row.get("sd_reverse", 0)
    if mode == "dense_fwd":
        nf, nr = row["n"], 0
    elif mode == "dense_rev":
        nf, nr = 0, row["m"]
    if nr and "vjp" not in best:
        return None
    return nf * best["pass"] + (nr * best["vjp"] if nr else 0.0)


def _vmapped_products(f: Callable, hess: bool, fwd: np.ndarray, rev: np.ndarray) -> Callable:
    """``x -> products``: the AD work of a sparse evaluation without its decompression.

    ``fwd`` (``(nf, *in_shape)``) and ``rev`` (``(nr, *out_shape)``) are the coloring's 0/1 seeds,
    closed over as compile-time constants exactly as sparsediff embeds them (XLA may fold the
    linear part of the products on constant seeds); each group is one ``jax.vmap`` of JVPs (HVPs
    for Hessians) or VJPs.
    """

    def products(z):
        outs = []
        if fwd.shape[0]:
            seeds = jnp.asarray(fwd, z.dtype)
            if hess:
                outs.append(jax.vmap(lambda t: jax.jvp(jax.grad(f), (z,), (t,))[1])(seeds))
            else:
                outs.append(jax.vmap(lambda t: jax.jvp(f, (z,), (t,))[1])(seeds))
        if rev.shape[0]:
            y, pullback = jax.vjp(f, z)
            seeds = jnp.asarray(rev, y.dtype)
            outs.append(jax.vmap(lambda c: pullback(c)[0])(seeds))
        return outs

    return products


def run_case(
    problem: Problem, size: int, caps: Caps, use_asdex: bool, check: bool, budget: float
) -> dict[str, Any]:
    """Prepares, compiles and times every tool on ``problem`` at ``size``; returns one row."""
    f = problem.fn
    hess = problem.kind == "hessian"
    shape = problem.input_shape(size)
    spec = problem.spec(size)
    n = problem.n_in(size)
    out_shape = jax.eval_shape(f, spec)
    m = n if hess else int(np.prod(out_shape.shape, dtype=np.int64))
    row: dict[str, Any] = {
        "table": "evaluation",
        "problem": problem.name,
        "kind": problem.kind,
        "size": size,
        "size_label": problem.size_label(size),
        "n": n,
        "m": m,
        "notes": [],
    }
    notes: list[str] = row["notes"]
    x = jnp.asarray(problem.concrete(size))
    rng = np.random.default_rng(1)
    v = jnp.asarray(rng.standard_normal(shape).astype(np.float32))
    fns: dict[str, Callable[[], Any]] = {}
    warm: dict[str, float] = {}
    results: dict[str, Any] = {}

    def add(name: str, fn: Callable[[], Any], keep: bool = False) -> float:
        """Compiles (first call) and warms up ``fn``; returns the compile time."""
        t_first, out = _timed(fn, keep=keep)
        if keep:
            results[name] = out
        del out
        warm[name] = _timed(fn)[0]
        fns[name] = fn
        return t_first

    # ---- sparsediff
    coloring = None
    make = sparsediff.hessian if hess else sparsediff.jacobian
    why = caps.skip_reason(problem.name, SD, n)
    if why:
        row["sd_skip"] = why
    else:
        try:
            log("  sparsediff prepare ...")
            t0 = time.perf_counter()
            d = make(f, spec)
            row["sd_prep"] = time.perf_counter() - t0
            row["sd_mode"] = d.mode
            row["sd_colors"] = int(d.num_colors)
            row["sd_nnz"] = int(d.sparsity.nnz)
            c = coloring = d.coloring
            if c is not None:
                row["sd_lower_bound"] = int(c.lower_bound)
                row["sd_forward"] = int(c.num_forward)
                row["sd_reverse"] = int(c.num_reverse)
            elif d.mode == "dense_rev":
                row["sd_forward"], row["sd_reverse"] = 0, int(d.num_colors)
            else:
                row["sd_forward"], row["sd_reverse"] = int(d.num_colors), 0
            log(f"  sparsediff: {d.mode}, {d.num_colors} colors; compile ...")
            row["sd_compile"] = add(SD, lambda: d(x), keep=check)
            caps.record(problem.name, SD, n, max(row["sd_prep"], row["sd_compile"], warm[SD]))
            # the same derivative, nonzero values only (no BCOO assembly)
            extra: dict[str, Any] = {"sparsity": d.sparsity}
            if c is not None:
                extra["coloring"] = c
            else:
                extra["mode"] = d.mode
            dv = make(f, spec, output_format="compressed", **extra)
            row["sd_values_compile"] = add("values", lambda: dv(x).values)
            # the prepared object called inside the caller's jit: no Python call overhead
            in_jit = jax.jit(lambda z: d(z))
            row["sd_injit_compile"] = add("in_jit", lambda: in_jit(x))
            # ... and consumed there (its nonzeros, as a Newton step would use them): JAX
            # copies every array a jit returns, the output's constant indices included
            in_jit_used = jax.jit(lambda z: nonzeros(d(z)))
            row["sd_injit_used_compile"] = add("in_jit_used", lambda: in_jit_used(x))
        except Exception as e:  # report and go on with the other tools
            row["sd_error"] = _error_text(e)
            caps.fail(problem.name, SD, row["sd_error"])
            notes.append(f"sparsediff failed: {row['sd_error']}")

    # ---- one AD pass (the unit of the floor)
    try:
        if hess:
            hvp = jax.jit(lambda z, t: jax.jvp(jax.grad(f), (z,), (t,))[1])
            row["pass_compile"] = add("pass", lambda: hvp(x, v))
        else:
            jvp = jax.jit(lambda z, t: jax.jvp(f, (z,), (t,))[1])
            row["pass_compile"] = add("pass", lambda: jvp(x, v))
            if row.get("sd_reverse"):
                u = jnp.asarray(rng.standard_normal(out_shape.shape).astype(np.float32))
                vjp = jax.jit(lambda z, w: jax.vjp(f, z)[1](w)[0])
                add("vjp", lambda: vjp(x, u))
    except Exception as e:
        notes.append(f"the single JVP/HVP failed: {_error_text(e)}")

    # ---- the same number of products, vmapped as sparsediff does, without decompression
    if coloring is not None:
        try:
            nf, nr = coloring.num_forward, coloring.num_reverse
            fwd_seeds = coloring.forward_seeds(np.float32).T.reshape(nf, *shape)
            rev_seeds = coloring.reverse_seeds(np.float32).T.reshape(nr, *out_shape.shape)
            batch = jax.jit(_vmapped_products(f, hess, fwd_seeds, rev_seeds))
            row["vmap_compile"] = add("vmap", lambda: batch(x))
        except Exception as e:
            notes.append(f"the vmapped products failed: {_error_text(e)}")

    # ---- dense AD
    dense_bytes = 4.0 * n * m
    if dense_bytes > DENSE_LIMIT_BYTES:
        row["dense_skip"] = (
            f"skipped (dense matrix n*m*4 B = {dense_bytes / 1e9:.1f} GB > "
            f"{DENSE_LIMIT_BYTES / 1e9:.0f} GB)"
        )
    else:
        why = caps.skip_reason(problem.name, DENSE, float(n) * m)
        if why:
            row["dense_skip"] = why
        else:
            try:
                log(f"  dense {'jax.hessian' if hess else 'jax.jacfwd'} ...")
                dense_fn = jax.jit(jax.hessian(f) if hess else jax.jacfwd(f))
                keep_dense = check and float(n) * m <= DENSE_CHECK_ELEMENTS
                row["dense_compile"] = add(DENSE, lambda: dense_fn(x), keep=keep_dense)
                caps.record(
                    problem.name, DENSE, float(n) * m, max(row["dense_compile"], warm[DENSE])
                )
            except Exception as e:
                row["dense_error"] = _error_text(e)
                caps.fail(problem.name, DENSE, row["dense_error"])
                notes.append(f"dense AD failed: {row['dense_error']}")

    # ---- asdex
    if use_asdex:
        why = caps.skip_reason(problem.name, AS, n)
        if size > problem.asdex_max:
            why = f"skipped (asdex runs up to size {format_size(problem.asdex_max)})"
        if why:
            row["asdex_skip"] = why
        else:
            try:
                import asdex

                g = f if len(shape) == 1 else _flat(f, shape)
                xa = np.asarray(problem.concrete(size)).reshape(-1)
                xa_dev = jnp.asarray(xa)
                log("  asdex prepare ...")
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    t0 = time.perf_counter()
                    if hess:
                        cp = asdex.hessian_coloring(g, xa)
                        af = jax.jit(asdex.hessian_from_coloring(g, cp))
                    else:
                        cp = asdex.jacobian_coloring(g, xa)
                        af = jax.jit(asdex.jacobian_from_coloring(g, cp))
                    row["asdex_prep"] = time.perf_counter() - t0
                row["asdex_mode"] = str(cp.mode)
                row["asdex_colors"] = int(cp.num_colors)
                for w in caught:
                    msg = str(w.message).strip().splitlines()[0]
                    notes.append(f"asdex warned: {type(w.message).__name__}: {msg}")
                log(f"  asdex: {cp.mode}, {cp.num_colors} colors; compile ...")
                row["asdex_compile"] = add(AS, lambda: af(xa_dev), keep=check)
                caps.record(
                    problem.name, AS, n, max(row["asdex_prep"], row["asdex_compile"], warm[AS])
                )
            except Exception as e:
                row["asdex_error"] = _error_text(e)
                caps.fail(problem.name, AS, row["asdex_error"])
                notes.append(f"asdex failed: {row['asdex_error']}")

    # ---- interleaved timing
    log(f"  timing {', '.join(fns)} ...")
    best = time_interleaved(fns, warm, budget=budget)
    key = {SD: "sd_eval", "values": "sd_values_eval", "pass": "pass_eval", "vjp": "vjp_eval"}
    key.update({DENSE: "dense_eval", AS: "asdex_eval", "in_jit": "sd_injit_eval"})
    key.update({"in_jit_used": "sd_injit_used_eval"})
    key.update({"vmap": "vmap_eval"})
    for name, t in best.items():
        row[key[name]] = t
    floor = _floor_seconds(row, best)
    if floor is not None and SD in best:
        row["floor"] = floor
        row["eval_over_floor"] = best[SD] / floor
        if "in_jit_used" in best:
            row["injit_used_over_floor"] = best["in_jit_used"] / floor
    if SD in best and "vmap" in best:
        row["eval_over_vmap"] = best[SD] / best["vmap"]
    if SD in best and DENSE in best:
        row["dense_over_sd"] = best[DENSE] / best[SD]
    if SD in best and AS in best:
        row["asdex_over_sd"] = best[AS] / best[SD]
    if "in_jit" in best and AS in best:
        row["asdex_over_sd_injit"] = best[AS] / best["in_jit"]
    if SD in best and "in_jit_used" in best:
        row["injit_used_over_eval"] = best["in_jit_used"] / best[SD]

    # ---- correctness against dense AD, or against JVP / HVP probes where it is too large
    if check:
        _correctness(row, results, f, hess, x)
    return row


def nonzeros(out: Any) -> Any:
    """The nonzero values of a sparse derivative's output (the array itself when dense)."""
    return getattr(out, "data", out)


def _correctness(row: dict[str, Any], results: dict[str, Any], f, hess: bool, x) -> None:
    """``<tool>_check_error`` and ``<tool>_check`` (``"dense"`` or ``"probes"``) per tool."""
    m, n = row["m"], row["n"]
    dense = _dense_matrix(results.pop(DENSE), m, n) if DENSE in results else None
    for tool, prefix in ((SD, "sd"), (AS, "asdex")):
        if tool not in results:
            continue
        try:
            if dense is not None:
                row[f"{prefix}_check_error"] = _check(results[tool], dense, m, n)
                row[f"{prefix}_check"] = "dense"
            else:
                kind = "hessian" if hess else "jacobian"
                row[f"{prefix}_check_error"] = product_error(results[tool], f, kind, x)
                row[f"{prefix}_check"] = "probes"
        except Exception as e:  # the check is then missing: a failing verdict for sparsediff
            row["notes"].append(f"{tool}: correctness check failed: {_error_text(e)}")


# --------------------------------------------------------------------------------------------
# VJP / JVP cost
# --------------------------------------------------------------------------------------------


def vjp_cost(problem: Problem, size: int, k: int = VJP_SEEDS, budget: float = 1.5) -> dict:
    """Times ``k`` vmapped JVPs against ``k`` vmapped VJPs (and one of each) of ``problem``."""
    f = problem.fn
    shape = problem.input_shape(size)
    out_shape = jax.eval_shape(f, problem.spec(size)).shape
    rng = np.random.default_rng(2)
    x = jnp.asarray(problem.concrete(size))
    tangents = jnp.asarray(rng.standard_normal((k, *shape)).astype(np.float32))
    cotangents = jnp.asarray(rng.standard_normal((k, *out_shape)).astype(np.float32))

    @jax.jit
    def jvps(z, ts):
        return jax.vmap(lambda t: jax.jvp(f, (z,), (t,))[1])(ts)

    @jax.jit
    def vjps(z, cs):
        pullback = jax.vjp(f, z)[1]
        return jax.vmap(lambda c: pullback(c)[0])(cs)

    @jax.jit
    def jvp1(z, t):
        return jax.jvp(f, (z,), (t,))[1]

    @jax.jit
    def vjp1(z, c):
        return jax.vjp(f, z)[1](c)[0]

    t1, c1 = tangents[0], cotangents[0]
    fns = {
        "jvp_k": lambda: jvps(x, tangents),
        "vjp_k": lambda: vjps(x, cotangents),
        "jvp_1": lambda: jvp1(x, t1),
        "vjp_1": lambda: vjp1(x, c1),
    }
    warm = {}
    for name, fn in fns.items():
        _timed(fn)
        warm[name] = _timed(fn)[0]
    best = time_interleaved(fns, warm, budget=budget, min_calls=10, max_calls=60)
    return {
        "table": "vjp_cost",
        "problem": problem.name,
        "size_label": problem.size_label(size),
        "n": problem.n_in(size),
        "m": int(np.prod(out_shape, dtype=np.int64)),
        "k": k,
        **best,
        "ratio_k": best["vjp_k"] / best["jvp_k"],
        "ratio_1": best["vjp_1"] / best["jvp_1"],
    }


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def run(
    quick: bool = False,
    use_asdex: bool = True,
    problems: Sequence[str] | None = None,
    vjp: bool = True,
) -> list[dict[str, Any]]:
    """Runs the benchmark; returns one dict per problem and size (``table == "evaluation"``)
    followed by one per VJP / JVP measurement (``table == "vjp_cost"``).

    ``problems`` selects problems by name (``None``: all); the VJP / JVP measurement runs when
    ``vjp`` is true and ``problems`` is ``None`` or names :data:`VJP_NAME`.
    """
    if use_asdex and not have_module("asdex"):
        log("asdex is not installed: running without it")
        use_asdex = False
    selected = [p for p in EVAL_PROBLEMS if problems is None or p.name in problems]
    budget = 0.4 if quick else 1.5
    caps = Caps()
    rows: list[dict[str, Any]] = []
    for problem in selected:
        sizes = problem.quick_sizes if quick else problem.sizes
        for size in sizes:
            log(f"{problem.name} {problem.size_label(size)} ...")
            t0 = time.perf_counter()
            row = run_case(problem, size, caps, use_asdex, check=True, budget=budget)
            row["wall"] = time.perf_counter() - t0
            rows.append(row)
            jax.clear_caches()
            gc.collect()
    if vjp and (problems is None or VJP_NAME in problems):
        for problem, size, quick_size in VJP_PROBLEMS:
            s = quick_size if quick else size
            log(f"VJP/JVP cost: {problem.name} {problem.size_label(s)} ...")
            rows.append(vjp_cost(problem, s, budget=budget))
            jax.clear_caches()
    return rows


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _colors_cell(r: dict[str, Any]) -> str:
    if "sd_colors" not in r:
        return "-"
    c = str(r["sd_colors"])
    if r.get("sd_forward") and r.get("sd_reverse"):
        c = f"{c} ({r['sd_forward']}+{r['sd_reverse']})"
    lb = r.get("sd_lower_bound")
    return f"{c} / {lb}" if lb is not None else c


def _time_or(r: dict[str, Any], key: str, skip_key: str) -> str:
    if key in r:
        return fmt_seconds(r[key])
    if skip_key in r and r[skip_key].startswith("skipped"):
        return "skipped"
    return "-"


def _failed(r: dict[str, Any], prefix: str) -> bool:
    return f"{prefix}_error" in r


def _ratio_cell(r: dict[str, Any], key: str) -> str:
    return f"{r[key]:.2f}" if key in r else "-"


def sparsediff_table(problem: Problem, rows: list[dict[str, Any]]) -> str:
    """sparsediff's figures against the floor of its AD passes."""
    unit = "HVP" if problem.kind == "hessian" else "JVP"
    headers = [
        "size",
        "n",
        "mode",
        "colors / lb",
        "prep",
        "compile",
        "eval",
        "eval in jit",
        "jit, used",
        "used/eval",
        "values only",
        f"1 {unit}",
        "floor",
        "eval/floor",
        "vmap floor",
        "eval/vmap",
    ]
    body = []
    for r in rows:
        failed = "FAILED" if _failed(r, "sd") else None
        body.append(
            [
                r["size_label"],
                fmt_int(r["n"]),
                failed or r.get("sd_mode", "skipped" if "sd_skip" in r else "-"),
                _colors_cell(r),
                _time_or(r, "sd_prep", "sd_skip"),
                _time_or(r, "sd_compile", "sd_skip"),
                _time_or(r, "sd_eval", "sd_skip"),
                fmt_seconds(r.get("sd_injit_eval")),
                fmt_seconds(r.get("sd_injit_used_eval")),
                _ratio_cell(r, "injit_used_over_eval"),
                fmt_seconds(r.get("sd_values_eval")),
                fmt_seconds(r.get("pass_eval")),
                fmt_seconds(r.get("floor")),
                _ratio_cell(r, "eval_over_floor"),
                fmt_seconds(r.get("vmap_eval")),
                _ratio_cell(r, "eval_over_vmap"),
            ]
        )
    return markdown_table(headers, body, align="lllr" + "r" * (len(headers) - 4))


def comparison_table(problem: Problem, rows: list[dict[str, Any]]) -> str:
    """sparsediff's evaluation beside dense AD and asdex."""
    dense_name = "jax.hessian" if problem.kind == "hessian" else "jacfwd"
    headers = [
        "size",
        "n",
        "colors",
        "eval",
        dense_name,
        f"{dense_name}/eval",
        "asdex prep",
        "asdex colors",
        "asdex compile",
        "asdex eval",
        "asdex/sd eval",
        "asdex/sd in jit",
    ]
    body = []
    for r in rows:
        failed = "FAILED" if _failed(r, "asdex") else None
        body.append(
            [
                r["size_label"],
                fmt_int(r["n"]),
                fmt_int(r.get("sd_colors")),
                _time_or(r, "sd_eval", "sd_skip"),
                "FAILED" if _failed(r, "dense") else _time_or(r, "dense_eval", "dense_skip"),
                fmt_ratio(r.get("dense_over_sd")),
                failed or _time_or(r, "asdex_prep", "asdex_skip"),
                fmt_int(r.get("asdex_colors")),
                _time_or(r, "asdex_compile", "asdex_skip"),
                _time_or(r, "asdex_eval", "asdex_skip"),
                _ratio_cell(r, "asdex_over_sd"),
                _ratio_cell(r, "asdex_over_sd_injit"),
            ]
        )
    return markdown_table(headers, body)


def _notes(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        label = r["size_label"]
        for key, tool in (("sd_skip", "sparsediff"), ("dense_skip", "dense"), ("asdex_skip", AS)):
            if key in r:
                lines.append(f"- {label}: {tool} {r[key]}")
        for note in r["notes"]:
            lines.append(f"- {label}: {note}")
        for prefix, tool in (("sd", "sparsediff"), ("asdex", AS)):
            if f"{prefix}_check_error" in r:
                err = r[f"{prefix}_check_error"]
                verdict = verdicts.check_status(err, CHECK_TOLERANCE)
                verdict = "correct" if verdict == verdicts.PASS else verdict
                against = (
                    "dense AD: max |error| / max |J|"
                    if r.get(f"{prefix}_check") == "dense"
                    else "JVP/HVP probes: max |M v - J v| / max |J v|"
                )
                lines.append(f"- {label}: {tool} vs {against} = {err:.1e} ({verdict})")
    return lines


def vjp_table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "problem",
        "size",
        "n",
        f"{VJP_SEEDS} JVPs (vmap)",
        f"{VJP_SEEDS} VJPs (vmap)",
        "VJP/JVP (vmap)",
        "1 JVP",
        "1 VJP",
        "VJP/JVP (single)",
    ]
    body = [
        [
            r["problem"],
            r["size_label"],
            fmt_int(r["n"]),
            fmt_seconds(r["jvp_k"]),
            fmt_seconds(r["vjp_k"]),
            f"{r['ratio_k']:.2f}",
            fmt_seconds(r["jvp_1"]),
            fmt_seconds(r["vjp_1"]),
            f"{r['ratio_1']:.2f}",
        ]
        for r in rows
    ]
    return markdown_table(headers, body, align="ll" + "r" * (len(headers) - 2))


def vjp_verdict(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no VJP/JVP measurement"
    ratios = [r["ratio_k"] for r in rows]
    geo = math.exp(sum(math.log(q) for q in ratios) / len(ratios))
    lo, hi = min(ratios), max(ratios)
    if abs(geo - VJP_WEIGHT) <= VJP_SUPPORT * VJP_WEIGHT:
        verdict = f"supports the weight {VJP_WEIGHT}"
    else:
        verdict = f"does NOT support the weight {VJP_WEIGHT} (a weight near {geo:.1f} fits better)"
    return (
        f"vmapped VJP / vmapped JVP ({VJP_SEEDS} seeds): {lo:.2f} .. {hi:.2f}, geometric mean "
        f"{geo:.2f}: the measurement {verdict}"
    )


def verdicts_of(rows: list[dict[str, Any]], quick: bool, use_asdex: bool) -> list:
    """The targets and correctness verdicts of the run (``benchmarks.verdicts``)."""
    return verdicts.evaluation_verdicts(
        rows,
        quick,
        use_asdex,
        tolerance=CHECK_TOLERANCE,
        ratio_target=RATIO_TARGET,
        ratio_from_n=RATIO_FROM_N,
        asdex_tolerance=ASDEX_TOLERANCE,
    )


def _vmap_diagnostic(rows: list[dict[str, Any]]) -> list[str]:
    """eval / vmap floor: a diagnostic beside the floor target, not a verdict."""
    ev = [r for r in rows if r["table"] == "evaluation"]
    vm = [r for r in ev if r["n"] >= RATIO_FROM_N and "eval_over_vmap" in r]
    if not vm:
        return []
    bad = [r for r in vm if r["eval_over_vmap"] > RATIO_TARGET]
    detail = ", ".join(f"{r['problem']} {r['size_label']}: {r['eval_over_vmap']:.2f}" for r in bad)
    return [
        f"(diagnostic, not a target: eval/(vmap floor) > {RATIO_TARGET} in {len(bad)} of "
        f"{len(vm)} rows" + (f": {detail})" if bad else ")")
    ]


def report(rows: list[dict[str, Any]], quick: bool = False, use_asdex: bool = True) -> str:
    out = [f"## Evaluation: sparsediff {sparsediff.__version__}, jax {jax.__version__}"]
    if use_asdex and have_module("asdex"):
        import importlib.metadata

        out[0] += f", asdex {importlib.metadata.version('asdex')}"
    out[0] += f" ({jax.default_backend()})"
    out.append(
        "\nTimes are medians of per-round best calls, in interleaved bursts (see the module "
        "docstring).  eval: "
        "the prepared sparse derivative called on an array (BCOO output); eval in jit: the "
        "same call inside the caller's jax.jit returning the BCOO (JAX copies every array a "
        "jit returns, the constant indices included); jit, used: the call inside the caller's "
        "jit with its nonzeros used there (as a Newton step uses them), used/eval its ratio to "
        "eval; values only: output_format='compressed' (nonzero values, no BCOO); floor: "
        "colors x one pass (forward x JVP + reverse x VJP for bicoloring; HVP for Hessians); "
        "vmap floor: the same passes on the coloring's constant seeds, vmapped in one jit as "
        "sparsediff runs them, without decompression; colors / lb: colors (forward+reverse) / "
        "lower bound; asdex/sd > 1: sparsediff faster."
    )
    ev = [r for r in rows if r["table"] == "evaluation"]
    for problem in EVAL_PROBLEMS:
        prows = [r for r in ev if r["problem"] == problem.name]
        if not prows:
            continue
        out.append(f"\n### {problem.name}: {problem.title}\n")
        out.append(sparsediff_table(problem, prows))
        out.append("")
        out.append(comparison_table(problem, prows))
        notes = _notes(prows)
        if notes:
            out.append("")
            out.extend(notes)
    vj = [r for r in rows if r["table"] == "vjp_cost"]
    if vj:
        out.append("\n### Cost of a VJP relative to a JVP\n")
        out.append(vjp_table(vj))
        out.append("\n" + vjp_verdict(vj))
    out.append("\n### Verdicts\n")
    out.append(verdicts.format_verdicts(verdicts_of(rows, quick, use_asdex), quick))
    out.extend(_vmap_diagnostic(rows))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.evaluation", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="small sizes only (< 1 minute)")
    ap.add_argument("--no-asdex", action="store_true", help="time sparsediff only")
    ap.add_argument(
        "--problems",
        nargs="+",
        default=None,
        choices=[*(p.name for p in EVAL_PROBLEMS), VJP_NAME],
        help=f"problems to run (default: all); {VJP_NAME} is the VJP / JVP cost measurement",
    )
    ap.add_argument("--no-vjp", action="store_true", help="skip the VJP / JVP cost measurement")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    use_asdex = not args.no_asdex and have_module("asdex")
    if not args.no_asdex and not use_asdex:
        print("note: asdex is not installed (pip install asdex==0.5.1); timing sparsediff only\n")
    rows = run(quick=args.quick, use_asdex=use_asdex, problems=args.problems, vjp=not args.no_vjp)
    print(report(rows, quick=args.quick, use_asdex=use_asdex))
    print(f"\n(total benchmark wall time {math.ceil(time.perf_counter() - t0)} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)
    return verdicts.exit_code(verdicts_of(rows, args.quick, use_asdex), args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
