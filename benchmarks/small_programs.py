"""Detection of small, long programs: sparsediff beside asdex.

Nonlinear programs are often written as Python loops over a few variables, so
their jaxprs are long (one equation per operation per iteration) and their
arrays tiny: there the cost is per equation, not per nonzero. The programs:

* ``loop30``: a 2-variable constraint summing 30 terms in a Python loop
  (1,596 equations), the case of issue #17;
* ``vector30``: the same constraint written with arrays (45 equations).

Each is detected as a Jacobian (two outputs) and as a Hessian (of the first
output), two ways:

* ``repeat``: the same function object every call. Both tools then reuse
  JAX's trace (asdex through ``jax.make_jaxpr``'s cache, sparsediff through its
  own trace cache), so the time is the analysis itself.
* ``first``: a new function object every call, so the time includes tracing
  the Python code (the time a script that detects once waits). Before each
  call sparsediff forgets what it remembers across detections (traces, their
  constant folding, the transcendental constants JAX computed), so that the
  repeated calls measure a program it has never seen.

Best of ``repeats`` calls (``time.perf_counter``), after one untimed warm-up
per tool, program and kind. The verdicts ask sparsediff to be no slower than
asdex (asdex / sparsediff >= 1) on ``loop30``, both kinds and both ways, and
its patterns to contain asdex's and the dense derivative's nonzeros.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .common import fmt_seconds, have_module, markdown_table, time_call

__all__ = ["PROGRAMS", "KINDS", "MODES", "run", "format_table"]

TERMS = 30
KINDS = ("jacobian", "hessian")
MODES = ("repeat", "first")


def _loop30() -> Callable[[jax.Array], jax.Array]:
    mu = jnp.linspace(0.5, 90.0, TERMS)

    def g(y):
        acc = 0.0
        for k in range(TERMS):
            a = jnp.sin(mu[k]) / (mu[k] + jnp.sin(mu[k]) * jnp.cos(mu[k]))
            r = jnp.exp(-(mu[k] ** 2) * y[0] ** 2) - 2 * jnp.exp(
                -(mu[k] ** 2) * (y[0] ** 2 + y[1] ** 2)
            ) * jnp.cos(mu[k] * y[1])
            acc = acc + a * r * jnp.where(y[0] > 0, 1.0, -1.0)
        return jnp.stack([acc, y[0] * y[1]])

    return g


def _vector30() -> Callable[[jax.Array], jax.Array]:
    mu = jnp.linspace(0.5, 90.0, TERMS)

    def g(y):
        a = jnp.sin(mu) / (mu + jnp.sin(mu) * jnp.cos(mu))
        r = jnp.exp(-(mu**2) * y[0] ** 2) - 2 * jnp.exp(
            -(mu**2) * (y[0] ** 2 + y[1] ** 2)
        ) * jnp.cos(mu * y[1])
        return jnp.stack([jnp.sum(a * r * jnp.where(y[0] > 0, 1.0, -1.0)), y[0] * y[1]])

    return g


#: name -> factory of a fresh function object
PROGRAMS: dict[str, Callable[[], Callable[[jax.Array], jax.Array]]] = {
    "loop30": _loop30,
    "vector30": _vector30,
}


def _function(program: str, kind: str) -> Callable[[jax.Array], jax.Array]:
    g = PROGRAMS[program]()
    if kind == "hessian":
        return lambda y: g(y)[0]
    return g


def _detect(tool: str, kind: str) -> Callable[..., Any]:
    if tool == "asdex":
        import asdex as mod
    else:
        import sparsediff as mod

    return mod.hessian_sparsity if kind == "hessian" else mod.jacobian_sparsity


def _forget() -> None:
    """sparsediff forgets every detection before this one (see ``first``)."""
    from sparsediff.detection import known_eval, trace_cache

    trace_cache.clear()
    known_eval.clear_memos()


def _dense_keys(program: str, kind: str, x: np.ndarray) -> set[tuple[int, int]]:
    f = _function(program, kind)
    rng = np.random.default_rng(0)
    keys: set[tuple[int, int]] = set()
    for _ in range(3):
        y = x + rng.uniform(-0.2, 0.2, x.shape).astype(x.dtype)
        d = jax.hessian(f)(y) if kind == "hessian" else jax.jacfwd(f)(y)
        keys |= {(int(i), int(j)) for i, j in zip(*np.nonzero(np.asarray(d)))}
    return keys


def _keys(pattern: Any) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in zip(np.asarray(pattern.rows), np.asarray(pattern.cols))}


def run(use_asdex: bool = True, repeats: int = 7) -> list[dict[str, Any]]:
    """One row per program, kind and mode: ``sd_time``, ``asdex_time`` (best of
    ``repeats``), ``ratio`` (asdex / sparsediff), ``sd_nnz``, ``asdex_nnz``,
    ``sd_missing`` (dense nonzeros or asdex entries not in sparsediff's pattern),
    ``equations`` and ``sd_error`` / ``asdex_error``."""
    tools = ["sparsediff"] + (["asdex"] if use_asdex and have_module("asdex") else [])
    x = np.array([0.3, 0.4], np.float32)
    rows = []
    for program in PROGRAMS:
        for kind in KINDS:
            dense = _dense_keys(program, kind, x)
            eqns = len(jax.make_jaxpr(_function(program, kind))(x).eqns)
            found: dict[str, set] = {}
            for mode in MODES:
                row: dict[str, Any] = {
                    "program": program,
                    "kind": kind,
                    "mode": mode,
                    "equations": eqns,
                }
                for tool in tools:
                    key = "sd" if tool == "sparsediff" else "asdex"
                    det = _detect(tool, kind)
                    same = _function(program, kind)
                    sample = jnp.asarray(x) if tool == "sparsediff" else x

                    forget = _forget if tool == "sparsediff" and mode == "first" else None

                    def call(det=det, same=same, sample=sample, mode=mode, prog=program, k=kind):
                        f = same if mode == "repeat" else _function(prog, k)
                        return det(f, sample)

                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            call()  # warm-up (and, for "repeat", the trace both tools reuse)
                            timing = time_call(call, repeats, setup=forget)
                    except Exception as exc:  # noqa: BLE001 - reported in the table
                        row[f"{key}_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
                        continue
                    row[f"{key}_time"] = timing.best
                    found[key] = _keys(timing.result)
                    row[f"{key}_nnz"] = len(found[key])
                if "sd" in found:
                    truth = dense | found.get("asdex", set())
                    row["sd_missing"] = len(truth - found["sd"])
                    row["dense_nnz"] = len(dense)
                if row.get("sd_time") and row.get("asdex_time"):
                    row["ratio"] = row["asdex_time"] / row["sd_time"]
                rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    header = [
        "program", "equations", "kind", "calls", "sparsediff", "asdex", "asdex/sd",
        "nnz sd / asdex / dense", "missing",
    ]  # fmt: skip
    body = []
    for r in rows:
        body.append(
            [
                r["program"],
                str(r["equations"]),
                r["kind"],
                "same function" if r["mode"] == "repeat" else "new function",
                r.get("sd_error") or fmt_seconds(r.get("sd_time")),
                r.get("asdex_error") or fmt_seconds(r.get("asdex_time")),
                "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x",
                f"{r.get('sd_nnz', '-')} / {r.get('asdex_nnz', '-')} / {r.get('dense_nnz', '-')}",
                str(r.get("sd_missing", "-")),
            ]
        )
    return markdown_table(header, body)
