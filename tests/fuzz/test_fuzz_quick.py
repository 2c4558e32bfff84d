"""The project's differential fuzzer: a fixed-seed quick run, and tests of its own pieces."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from benchmarks.fuzz.catalog import FAMILIES, HAVE_EQUINOX
from benchmarks.fuzz.check import check
from benchmarks.fuzz.errors import deliberate_reason
from benchmarks.fuzz.known import known_issue
from benchmarks.fuzz.oracle import FlatProblem, points
from benchmarks.fuzz.program import Arg, Node, Program
from benchmarks.fuzz.repro import repro_source
from benchmarks.fuzz.run import format_summary, program_for, run
from benchmarks.fuzz.shrink import shrink

import sparsediff as sd
from sparsediff.detection.registry import RULES

#: the quick campaign: seed, Jacobian programs, Hessian programs
QUICK_SEED = 0
QUICK_N = 150
QUICK_HESSIAN_FRACTION = 0.3
QUICK_PARTS = 3


def _chain(*ops, shape=(4,), hessian=False) -> Program:
    """A hand-written program applying ``ops`` ((name, params) pairs) one after the other."""
    from benchmarks.fuzz.generate import validate

    nodes = [Node("leaf", (), {"expr": "a0"}, shape)]
    for name, params in ops:
        nodes.append(Node(name, (len(nodes) - 1,), params, ()))
    p = Program((Arg((shape,)),), 0, None, None, tuple(nodes), (len(nodes) - 1,), "single",
                hessian, seed=1)  # fmt: skip
    q = validate(p)
    assert q is not None
    return q


CUMSUM = ("cumulative", {"fn": "cumsum", "axis": 0, "rev": False})
SIN = ("unary", {"fn": "sin"})
FLIP = ("rev", {"axis": 0, "k": 0})


@pytest.fixture
def drop_first_entry(monkeypatch):
    """A deliberately wrong detector: sparsediff's pattern without its first entry."""
    real = sd.jacobian_sparsity

    def wrong(f, *args, **kwargs):
        p = real(f, *args, **kwargs)
        return sd.SparsityPattern(np.asarray(p.rows)[1:], np.asarray(p.cols)[1:], p.shape,
                                  input_structure=p.input_structure,
                                  output_structure=p.output_structure)  # fmt: skip

    monkeypatch.setattr(sd, "jacobian_sparsity", wrong)


# -- the quick run ---------------------------------------------------------------------
@pytest.mark.parametrize("part", range(QUICK_PARTS))
def test_quick_run_is_clean(part):
    # in parts, so that the test workers share them
    start, stop = part * QUICK_N // QUICK_PARTS, (part + 1) * QUICK_N // QUICK_PARTS
    s = run(stop, QUICK_SEED, QUICK_HESSIAN_FRACTION, start=start)
    assert s.programs == stop - start
    assert s.hessians > 0 and s.hessians < stop - start
    assert s.total["exact"] + s.total["conservative"] > (stop - start) // 2
    report = format_summary(s) + "".join(
        f"\nseed {p.seed}: {o.kind}: {o.detail}" for p, o in s.failures
    )
    assert not s.failures, report


def test_every_family_is_generated_over_the_quick_seeds():
    seen = set()
    for k in range(QUICK_N):
        seen |= program_for(QUICK_SEED, k, QUICK_HESSIAN_FRACTION).families()
    expected = set(FAMILIES) - (set() if HAVE_EQUINOX else {"equinox"})
    assert expected <= seen, expected - seen


# -- the oracle ------------------------------------------------------------------------
def test_exact_pattern_is_classified_exact():
    out = check(_chain(CUMSUM, SIN))
    assert out.kind == "exact", out.detail
    assert out.nnz_truth == out.nnz_pattern == 10


def test_dropped_entry_is_unsound(drop_first_entry):
    out = check(_chain(CUMSUM, SIN))
    assert out.kind == "unsound"
    assert "missing (0, 0)" in out.detail


def test_wrong_values_are_caught(monkeypatch):
    real = sd.jacobian

    def doubled(*args, **kwargs):
        prepared = real(*args, **kwargs)
        return lambda *a, **k: 2.0 * jnp.asarray(prepared(*a, **k))

    monkeypatch.setattr(sd, "jacobian", doubled)
    out = check(_chain(FLIP, SIN))
    assert out.kind == "wrong_value", out.detail


def test_wrong_values_of_the_direct_call_are_caught(monkeypatch):
    """A derivative right inside the fuzzer's jit of a vmap but wrong when called
    directly: the direct-call check finds it, on a program whose evaluation computes
    its transcendental functions once (conditionals, which the vmap turns into selects)
    and on one without."""
    real = sd.jacobian

    def wrong_when_direct(*args, **kwargs):
        prepared = real(*args, **kwargs)

        def call(*a, **k):
            out = jnp.asarray(prepared(*a, **k))
            traced = any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(a))
            return out if traced else 2.0 * out

        return call

    monkeypatch.setattr(sd, "jacobian", wrong_when_direct)
    out = check(_chain(FLIP, SIN, SIN))
    assert out.kind == "wrong_value", out.detail
    assert out.detail.startswith("direct call: ")
    out = check(_chain(FLIP, SIN))
    assert out.kind == "wrong_value" and out.detail.startswith("direct call: "), out.detail


def test_xlas_own_miscompilation_is_noted_not_failed():
    """Campaign 7373, program 525: XLA's CPU backend computes a dynamic_update_slice whose
    update is read from its own operand, followed by a convolution, wrongly when compiled
    unbatched (jax.jit(f)(x) differs from f(x) and from jax.vmap(f)). JAX's own compiled
    dense derivative gives the same values as sparsediff's direct call there: noted, not a
    wrong value. (The float64 recheck fails on the program's float32 kernel; before, that
    stopped the whole campaign.)"""
    p = program_for(7373, 525, 0.25)
    o = check(p)
    assert o.kind in ("exact", "conservative"), o.detail
    f, x = FlatProblem(p).f, points(p)[7][0]
    if not np.allclose(jax.jit(f)(*x), f(*x)):  # XLA still miscompiles it
        assert "float64 recheck failed" in o.detail
        assert "JAX's own dense derivative compiled unbatched" in o.detail


def test_points_have_ties_zeros_and_large_values():
    p = _chain(SIN, shape=(6,))
    vals = [np.asarray(a[0]) for a, _ in points(p)]
    assert any((v == 0).all() for v in vals)
    assert any(len(np.unique(v)) < v.size and (v != v[0]).any() for v in vals)
    assert any(np.abs(v).max() >= 10 for v in vals)
    assert any((v < 0).all() for v in vals)


def test_crash_and_deliberate_errors(monkeypatch):
    def crash(f, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sd, "jacobian_sparsity", crash)
    assert check(_chain(SIN)).kind == "internal_crash"


def test_strict_mode_error_is_deliberate(monkeypatch):
    from jax.extend.core import primitives as P

    monkeypatch.delitem(RULES, P.cumsum_p)
    with sd.detection_options(strict=True):
        out = check(_chain(CUMSUM))
    assert out.kind == "deliberate_error", out.detail
    assert "unsupported primitive" in out.detail


def test_whitelist_decides_by_type_and_module():
    with pytest.raises(ValueError) as info:
        sd.jacobian_sparsity(jnp.sin, jnp.ones(2), argnums=3)
    assert deliberate_reason(info.value) == "argument validation"
    try:
        raise ValueError("a ValueError raised outside sparsediff")
    except ValueError as exc:
        assert deliberate_reason(exc) is None


def test_oracle_error_when_jax_cannot_differentiate():
    # forward mode stops at the custom_vjp, reverse mode at the data-dependent while_loop
    p = _chain(("while_data", {"b0": "half", "k": 3}), ("roll_vjp", {}))
    out = check(p, known_filter=False)
    assert out.kind == "oracle_error", out.detail


# -- known issues, shrinking, repros -------------------------------------------------
def test_known_issue_filter(monkeypatch):
    from benchmarks.fuzz import known

    assert known.KNOWN_ISSUES == ()  # every earlier entry is fixed
    entry = known.KnownIssue(
        "self-tangent",
        "a custom_jvp rule applied to its own tangent",
        lambda p, kind, detail: "lin_jvp" in p.ops_used() and "RecursionError" in detail,
    )
    monkeypatch.setattr(known, "KNOWN_ISSUES", (entry,))
    p = _chain(("lin_jvp", {}))
    assert known_issue(p, "internal_crash", "RecursionError: ...") == "self-tangent"
    assert known_issue(p, "internal_crash", "ValueError: another crash") is None
    assert known_issue(_chain(SIN), "unsound") is None


def test_shrinker_reduces_a_failing_program(drop_first_entry, capsys):
    ops = [SIN, CUMSUM, ("const_mul", {"c": np.float32(2.0)}), FLIP, SIN,
           ("cumulative", {"fn": "cummax", "axis": 0, "rev": True})]  # fmt: skip
    p = _chain(*ops, shape=(5,))
    assert check(p).kind == "unsound"
    q, spent = shrink(p, lambda r: check(r).kind == "unsound", budget=60)
    assert 0 < spent <= 60
    assert q.size() < p.size()
    assert len(q.nodes) < len(p.nodes)
    assert check(q).kind == "unsound"
    src = repro_source(q, check(q))
    assert "def f(a0" in src and "jacobian_sparsity" in src
    exec(compile(src, "<repro>", "exec"), {})  # noqa: S102 - the repro shows the failure
    assert "missing entries: [[0 0]]" in capsys.readouterr().out


def test_repro_source_runs_the_tested_program():
    p = program_for(QUICK_SEED, 3, 0.0)
    ns: dict = {}
    exec(p.source(), ns)  # noqa: S102
    args, kwargs = points(p)[6]
    got = ns["f"](*args, **kwargs)
    want = p.function()(*args, **kwargs)
    np.testing.assert_allclose(np.ravel(np.asarray(_first(got))),
                               np.ravel(np.asarray(_first(want))))  # fmt: skip


def _first(out):
    if isinstance(out, dict):
        return out["y0"]
    if isinstance(out, tuple):
        return out[0]
    return out


def test_programs_are_data_and_deterministic():
    a, b = program_for(5, 11, 0.5), program_for(5, 11, 0.5)
    assert a.source() == b.source()
    assert len({program_for(5, k, 0.5).source() for k in range(10)}) == 10


# -- command line and report stage -----------------------------------------------------
def test_command_line_writes_json_and_exits_zero(tmp_path, capsys, monkeypatch):
    import json
    import os

    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))  # no process-wide change
    from benchmarks.fuzz.__main__ import main

    out = tmp_path / "fuzz.json"
    assert main(["--n", "3", "--seed", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["programs"] == 3 and data["failures"] == []
    assert "| **all** | 3 |" in capsys.readouterr().out


def test_report_runs_the_fuzz_stage():
    from benchmarks.report import FUZZ_PROGRAMS, STAGES, stage_argv

    assert "fuzz" in STAGES
    argv = stage_argv("fuzz", quick=True, no_asdex=True)
    assert argv[-4:] == ["--n", str(FUZZ_PROGRAMS[0]), "--workers", "0"]  # one per core
    assert stage_argv("fuzz")[-1] == "--asdex"


def test_workers_check_the_same_programs_as_one_process() -> None:
    """``--workers``: the same programs, outcomes and order as a single process."""
    one = run(4, seed=11, hessian_fraction=0.5)
    two = run(4, seed=11, hessian_fraction=0.5, workers=2, chunk=2)
    assert two.programs == one.programs == 4
    assert two.total == one.total
    assert {k: dict(v) for k, v in two.by_family.items()} == {
        k: dict(v) for k, v in one.by_family.items()
    }
    assert two.hessians == one.hessians
    # from a start: the rest of the same programs, with one worker and with two
    head = run(2, seed=11, hessian_fraction=0.5)
    for workers in (1, 2):
        tail = run(4, seed=11, hessian_fraction=0.5, workers=workers, chunk=1, start=2)
        assert tail.programs == 2 and head.total + tail.total == one.total
        assert head.hessians + tail.hessians == one.hessians


def test_values_where_jax_modes_disagree_are_not_wrong():
    """Campaign 0, program 8448: tied updates of a scatter-min, where jax.jacfwd and
    jax.jacrev give different subgradients; sparsediff's one VJP equals jax.jacrev's."""
    o = check(program_for(0, 8448, 0.25))
    assert o.kind in ("exact", "conservative"), (o.kind, o.detail)
    assert "where JAX's modes disagree" in o.detail


def test_recheck_reports_recorded_failures_with_this_code(tmp_path, capsys):
    """``--recheck``: a campaign's recorded failures checked again; exit 0 when none stays."""
    import json

    from benchmarks.fuzz.__main__ import main

    path = tmp_path / "campaign.json"
    record = {"seed": 8448, "hessian": False, "kind": "wrong_value", "detail": "recorded"}
    path.write_text(json.dumps({"failures": [record]}))
    assert main(["--recheck", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| 8448 | Jacobian | wrong_value | conservative |" in out
    assert "1 recorded failures, 0 still failing" in out


def test_kept_values_inside_a_callers_vmapped_jit():
    """Program 458 of campaign 4242: a forward-over-forward Hessian with eight colors
    whose evaluation keeps values computed once. Evaluated under the fuzzer's jit of
    a vmap beside the dense Hessian, it gave wrong values while the evaluation kept
    them behind optimization barriers (XLA drops those there); it now keeps them in
    conditionals. Checked in the caller's vmapped jit and directly."""
    from benchmarks.fuzz.oracle import FlatProblem, dense_at

    p = program_for(4242, 458, 0.25)
    assert p.hessian
    assert check(p).kind in ("exact", "conservative")
    prob, pts = FlatProblem(p), points(p)
    prepared = sd.hessian(prob.f, *p.sample_args(), output_format="dense")
    assert prepared._run.keep
    dense, _, _ = dense_at(prob, pts)
    stacked = jax.tree_util.tree_map(lambda *v: jnp.stack(v), *[a for a, _ in pts])
    batched = jax.jit(jax.vmap(lambda a: prepared(*a)))(stacked)
    np.testing.assert_allclose(np.asarray(batched).reshape(dense.shape), dense, rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    direct = np.stack([np.asarray(prepared(*a)) for a, _ in pts]).reshape(dense.shape)
    np.testing.assert_allclose(direct, dense, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k", [582, 865])
def test_a_non_symmetric_hessian_is_not_blamed_on_the_pattern(k):
    """Campaign 7373, programs 582 and 865, found by the direct-call check: a custom_vjp
    rule denser than its primal makes JAX's Hessian non-symmetric; the detected pattern
    was given as sparsity=, a star coloring was chosen, and the first call's check blamed
    the pattern. Now such a pattern gets a column (or dense) mode, which gives JAX's values.
    """
    o = check(program_for(7373, k, 0.25))
    assert o.kind in ("exact", "conservative"), o.detail
