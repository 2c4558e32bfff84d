"""Checking one program: detection against the empirical pattern, values against dense AD.

Classes (:data:`CLASSES`), decided in this order:

``oracle_error``
    JAX itself cannot differentiate (or run) the program: skipped, counted apart. So does
    an exception of sparsediff that JAX's own AD raises alike on the program in the mode
    sparsediff needs (e.g. ``jax.grad`` for Hessian detection), and an internal check of
    XLA's runtime failing on the sparse derivative.
``internal_crash`` / ``deliberate_error``
    sparsediff raised while detecting, preparing or evaluating; deliberate when the
    exception is on the whitelist of :mod:`benchmarks.fuzz.errors`.
``unsound``
    an entry that is non-zero in the dense derivative at some point (and still non-zero
    when re-computed in float64) is missing from the detected pattern. NaN entries are
    not structural non-zeros and are ignored (counted in the detail).
``wrong_value``
    the evaluated sparse derivative (``output_format="dense"``) differs from the dense
    one at some point (float32 tolerance, where both are finite), and still differs when
    both are recomputed in float64 there, and differs from every other AD composition of
    JAX there too (forward and reverse rules may pick different subgradients at a
    non-differentiable point, such as tied updates of a scatter-min; sparsediff may use
    either). A Hessian that is not symmetric at a point (custom derivative rules) is
    compared there only when its detected pattern is not symmetric either: sparsediff
    then reads every entry from its own column, as ``jax.hessian`` does, while for a
    symmetric pattern its star and acyclic colorings assume symmetry. The sparse
    derivative is evaluated inside the fuzzer's ``jit`` of a ``vmap`` over the points,
    and also called directly at each point (as users call it) and checked alike: the
    ``vmap`` compiles another program (conditionals become selects, for instance those
    that compute transcendental functions once, :mod:`sparsediff.evaluation.residuals`;
    dynamic slices become gathers). Where the direct call's values equal JAX's own dense
    derivative compiled and called the same way, the difference is XLA's and is noted,
    not failed.
``exact`` / ``conservative``
    the pattern equals / strictly contains the union of the empirical non-zeros.

A failure of a program that matches a :mod:`known issue <benchmarks.fuzz.known>` gets
``known`` set to the issue's id (and does not fail the run while the filter is on).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable

import numpy as np

import sparsediff as sd

from .errors import FUZZER_BUGS, deliberate_reason, describe, raising_module
from .known import known_issue
from .oracle import (
    POINT_KINDS,
    FlatProblem,
    dense_at,
    points,
    recheck_values_x64,
    recheck_x64,
    sparse_loop,
)
from .program import Program

__all__ = ["Outcome", "check", "CLASSES", "FAILURES", "RTOL", "ATOL"]

CLASSES = ("exact", "conservative", "unsound", "internal_crash", "deliberate_error",
           "wrong_value", "oracle_error")  # fmt: skip
FAILURES = ("unsound", "internal_crash", "wrong_value")
#: tolerance of the value check (float32, relative to the largest entry at the point)
RTOL = 2e-3
ATOL = 1e-4


@dataclasses.dataclass
class Outcome:
    kind: str
    detail: str = ""
    known: str | None = None
    families: tuple[str, ...] = ()
    nnz_pattern: int = 0
    nnz_truth: int = 0
    warnings: tuple[str, ...] = ()
    asdex: str | None = None  # asdex's class on the same program, when run
    point: int | None = None  # index into POINT_KINDS of a point that shows the failure
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.kind in FAILURES and self.known is None


def _detector(p: Program, tool: str = "sparsediff"):
    if tool == "asdex":
        import asdex

        return asdex.hessian_sparsity if p.hessian else asdex.jacobian_sparsity
    return sd.hessian_sparsity if p.hessian else sd.jacobian_sparsity


def _exception_outcome(exc: BaseException, stage: str, prob=None, pts=None) -> Outcome:
    if type(exc).__name__ == "JaxRuntimeError" and "INTERNAL: RET_CHECK" in str(exc):
        # XLA's runtime failed an internal check on a valid program: not sparsediff's
        return Outcome("oracle_error", f"{stage}: XLA internal error: {describe(exc)}")
    reason = deliberate_reason(exc)
    if reason is not None:
        return Outcome("deliberate_error", f"{stage}: {reason}: {describe(exc)}")
    mode = None if prob is None else _jax_fails_alike(prob, pts, exc)
    if mode is not None:  # JAX's own AD fails the same way: not sparsediff's crash
        return Outcome("oracle_error", f"{stage}: JAX fails alike in mode {mode}: {describe(exc)}")
    return Outcome("internal_crash", f"{stage}: {describe(exc)}")


def _jax_fails_alike(prob: FlatProblem, pts, exc: BaseException) -> str | None:
    """The AD mode in which JAX itself raises like ``exc`` on this program (sparsediff's
    Hessian detection traces ``jax.grad``; its evaluation runs JVPs or VJPs), if any."""
    import jax

    args, kw = pts[0]
    x, w = prob.flat_x(args), kw.get("w")
    modes = ("rev", "fwd-rev", "rev-rev", "fwd") if prob.p.hessian else ("rev", "fwd")
    for mode in modes:
        if mode == "rev" and prob.p.hessian:
            fn = jax.grad(prob.g)
        else:
            fn = prob.derivative(mode)
        try:
            jax.make_jaxpr(fn)(x, args, w)
        except Exception as other:  # noqa: BLE001
            if type(other) is type(exc) and str(other)[:80] == str(exc)[:80]:
                return mode
    return None


def _oracle_only(prob: FlatProblem, pts) -> Outcome | None:
    """``oracle_error`` when JAX cannot differentiate the program, else ``None``."""
    try:
        dense_at(prob, pts)
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, FUZZER_BUGS) and raising_module(exc).startswith(__package__):
            raise  # a bug of the fuzzer itself, not of JAX
        return Outcome("oracle_error", describe(exc))
    return None


def _entries(mask: np.ndarray, limit: int = 6) -> str:
    idx = np.argwhere(mask)
    more = f" (+{len(idx) - limit} more)" if len(idx) > limit else ""
    return ", ".join(f"({int(r)}, {int(c)})" for r, c in idx[:limit]) + more


def _classify(
    p: Program, prob: FlatProblem, pts, pattern, prep, direct=None
) -> tuple[Outcome, np.ndarray]:
    note = ""
    try:
        dense, sparse, mode = dense_at(prob, pts, prep)
    except Exception as batched_exc:  # noqa: BLE001
        oracle = _oracle_only(prob, pts)
        if oracle is not None:
            return oracle, None
        if prep is None:
            raise
        dense, _, mode = dense_at(prob, pts)
        try:  # the sparse derivative alone, point by point
            sparse = sparse_loop(prob, pts, prep)
        except Exception as exc:  # noqa: BLE001
            return _exception_outcome(exc, "evaluation", prob, pts), None
        note = f"; vmap of the sparse derivative failed ({describe(batched_exc)[:160]})"
    nan = np.isnan(dense)
    nonzero = (dense != 0) & ~nan
    truth = nonzero.any(axis=0)
    nan_only = (nan.any(axis=0) & ~truth).sum()
    note += f"; {int(nan_only)} NaN-only entries ignored" if nan_only else ""
    detected = pattern.todense().astype(bool).reshape(truth.shape)
    missing = truth & ~detected
    if missing.any():
        d64 = recheck_x64(prob, pts, mode)
        real = ((d64 != 0) & ~np.isnan(d64)).any(axis=0)
        noise = missing & ~real
        missing &= real
        truth &= ~noise
        if noise.any():
            note += f"; {int(noise.sum())} float32-only entries dropped after float64 recheck"
    if missing.any():
        at = [POINT_KINDS[k] for k in range(len(pts)) if (nonzero[k] & missing).any()]
        first = next(k for k in range(len(pts)) if (nonzero[k] & missing).any())
        msg = f"missing {_entries(missing)} at points {at}{note}"
        return Outcome("unsound", msg, point=first), truth
    # a non-symmetric Hessian's values are JAX's only where its pattern is not symmetric
    asym_ok = not (p.hessian and np.array_equal(detected, detected.T))
    if sparse is not None:
        failure, note = _values_check(p, prob, pts, mode, dense, sparse, note, "", asym_ok)
        if failure is not None:
            return failure, truth
    if direct is not None:
        try:
            values = _direct(direct, pts)
        except Exception as exc:  # noqa: BLE001
            return _exception_outcome(exc, "evaluation (direct call)", prob, pts), truth
        label = "direct call: "
        failure, note = _values_check(p, prob, pts, mode, dense, values, note, label, asym_ok)
        if failure is not None:
            return failure, truth
    kind = "exact" if np.array_equal(truth, detected) else "conservative"
    extra = int((detected & ~truth).sum())
    return Outcome(kind, f"{extra} extra entries{note}" if extra else note.lstrip("; ")), truth


def _direct(direct: Callable, pts) -> np.ndarray:
    """The sparse derivative called directly (no ``vmap``) at every point."""
    return np.stack([np.asarray(direct(a, k)) for a, k in pts])


def _values_check(p: Program, prob: FlatProblem, pts, mode: str, dense, sparse, note: str,
                  label: str, asym_ok: bool) -> tuple[Outcome | None, str]:  # fmt: skip
    """``(wrong_value outcome or None, note)``: ``sparse`` against ``dense``, the
    differences confirmed in float64 (and against JAX's other AD modes). Non-symmetric
    Hessians are compared only with ``asym_ok``."""
    sparse = np.asarray(sparse).reshape(dense.shape)
    bad = _mismatch(dense, sparse)
    if p.hessian and not asym_ok:  # star/acyclic colorings assume a symmetric Hessian
        asym = _mismatch(dense, np.swapaxes(dense, 1, 2)).any(axis=(1, 2))
        if (bad.any(axis=(1, 2)) & asym).any():
            note += f"; values not compared at {int(asym.sum())} non-symmetric Hessians"
        bad[asym] = False
    if bad.any():  # confirm in float64 at the points concerned
        ks = [k for k in range(len(pts)) if bad[k].any()]
        try:
            d64, s64 = recheck_values_x64(prob, [pts[k] for k in ks], mode)
        except Exception as exc:  # noqa: BLE001 - e.g. a float32 constant JAX won't mix
            note += f"; float64 recheck failed ({describe(exc)[:120]}), mismatches kept"
        else:
            confirmed = np.zeros_like(bad)
            confirmed[ks] = bad[ks] & _mismatch(d64, s64)
            if not confirmed.any():
                note += f"; {int(bad.sum())} float32-only value mismatches (float64 agrees)"
            bad = confirmed
    if bad.any() and label:
        note += _jit_disagrees(prob, pts, mode, sparse, bad)
    if bad.any():
        note += _modes_disagree(prob, pts, mode, bad)
    if not bad.any():
        return None, note
    k = int(np.argwhere(bad)[0][0])
    r, c = (int(v) for v in np.argwhere(bad[k])[0])
    return Outcome(
        "wrong_value",
        f"{label}at point {POINT_KINDS[k]} entry ({r}, {c}): sparse {sparse[k, r, c]!r} vs "
        f"dense {dense[k, r, c]!r} ({int(bad.sum())} entries differ){note}",
        point=k,
    ), note


def _jit_disagrees(prob: FlatProblem, pts, mode: str, sparse, bad: np.ndarray) -> str:
    """Clears (in place) the points of ``bad`` where a directly called sparse derivative
    equals JAX's own dense derivative compiled with ``jax.jit`` and called directly too:
    the difference to the reference (the dense derivative compiled under ``vmap``) is then
    XLA's, which compiles ``f`` alone differently than ``f`` batched, and every compiled
    derivative inherits it.  (Seen: a ``dynamic_update_slice`` whose update is read from its
    own operand, followed by a convolution, computed wrongly by XLA's CPU backend when
    compiled unbatched.)  Returns a note."""
    import jax

    dense_jit = jax.jit(prob.derivative(mode))
    cleared = []
    for k in range(len(pts)):
        if not bad[k].any():
            continue
        args, kw = pts[k]
        try:
            d = np.asarray(dense_jit(prob.flat_x(args), args, kw.get("w")))
        except Exception:  # noqa: BLE001 - no verdict from this reference
            continue
        if not _mismatch(d.reshape(1, *sparse.shape[1:]), sparse[k : k + 1]).any():
            bad[k] = False
            cleared.append(POINT_KINDS[k])
    if not cleared:
        return ""
    return (f"; values equal JAX's own dense derivative compiled unbatched (XLA computes f "
            f"alone and f vmapped differently) at {', '.join(cleared)}")  # fmt: skip


def _modes_disagree(prob: FlatProblem, pts, mode: str, bad: np.ndarray) -> str:
    """Clears (in place) the points of ``bad`` where the sparse value equals the dense
    derivative of another AD composition of JAX: there JAX's own modes disagree (a
    non-differentiable point, e.g. tied updates of a scatter-min, where forward and reverse
    rules pick different subgradients), and sparsediff took one of them. Returns a note."""
    cleared = []
    for other in prob.modes():
        ks = [k for k in range(len(pts)) if bad[k].any()]
        if other == mode or not ks:
            continue
        try:
            d_o, s_o = recheck_values_x64(prob, [pts[k] for k in ks], other)
        except Exception:  # noqa: BLE001 - that composition does not apply here
            continue
        for k, differs in zip(ks, _mismatch(d_o, s_o).any(axis=(1, 2))):
            if not differs:
                bad[k] = False
                cleared.append(f"{POINT_KINDS[k]} ({other})")
    if not cleared:
        return ""
    return (f"; values equal another AD mode's where JAX's modes disagree at "
            f"{', '.join(cleared)}")  # fmt: skip


def _derivative(res, has_aux: bool):
    """The derivative from what a prepared sparse derivative returned (``(J, aux)``
    with ``has_aux``)."""
    return res[0] if has_aux else res


def _mismatch(dense: np.ndarray, sparse: np.ndarray) -> np.ndarray:
    """Entries where both are finite and differ beyond the float32 tolerance."""
    fin = np.isfinite(dense) & np.isfinite(sparse)
    d = np.where(fin, dense, 0)
    scale = np.abs(d).max(axis=(1, 2), keepdims=True)
    tol = ATOL * (1.0 + scale) + RTOL * np.abs(d)
    return fin & (np.abs(np.where(fin, sparse, 0) - d) > tol)


def check(
    p: Program, known_filter: bool = True, asdex: bool = False, values: bool = True
) -> Outcome:
    """Classify ``p`` (see the module docstring)."""
    t0 = time.perf_counter()
    prob = FlatProblem(p)
    pts = points(p)
    sample, kw = p.sample_args(), p.kwargs_sample()
    caught: list[str] = []
    pattern = prep = direct = None
    out: Outcome | None = None
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always", sd.UnknownPrimitiveWarning)
            pattern = _detector(p)(prob.f, *sample, argnums=p.argnums, has_aux=p.has_aux, **kw)
        caught = [str(w.message).split(";")[0] for w in rec
                  if issubclass(w.category, sd.UnknownPrimitiveWarning)]  # fmt: skip
    except Exception as exc:  # noqa: BLE001
        out = _oracle_only(prob, pts) or _exception_outcome(exc, "detection", prob, pts)
    if out is None and values:
        make = sd.hessian if p.hessian else sd.jacobian
        try:
            prepared = make(prob.f, *sample, argnums=p.argnums, has_aux=p.has_aux,
                            sparsity=pattern, output_format="dense", **kw)  # fmt: skip
            prep = lambda a, k: _derivative(prepared(*a, **k), p.has_aux)  # noqa: E731
            direct = prep
        except Exception as exc:  # noqa: BLE001
            out = _oracle_only(prob, pts) or _exception_outcome(exc, "preparation", prob, pts)
    truth = None
    if out is None:
        out, truth = _classify(p, prob, pts, pattern, prep, direct)
    if pattern is not None:
        out.nnz_pattern = int(pattern.nnz)
    if truth is not None:
        out.nnz_truth = int(truth.sum())
        if asdex:
            out.asdex = _asdex_class(p, prob, sample, kw, truth)
    out.families = tuple(sorted(p.families()))
    out.warnings = tuple(caught)
    if known_filter and out.kind in FAILURES:
        out.known = known_issue(p, out.kind, out.detail)
    out.seconds = time.perf_counter() - t0
    return out


def _asdex_class(p: Program, prob: FlatProblem, sample, kw, truth: np.ndarray) -> str:
    try:
        pat = _detector(p, "asdex")(prob.f, *sample, argnums=p.argnums, has_aux=p.has_aux, **kw)
        detected = np.asarray(pat.todense()).astype(bool).reshape(truth.shape)
    except Exception:  # noqa: BLE001 - any failure of the other tool is just counted
        return "error"
    if (truth & ~detected).any():
        return "unsound"
    return "exact" if np.array_equal(truth, detected) else "conservative"
