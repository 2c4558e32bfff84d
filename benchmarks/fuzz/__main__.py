"""Differential fuzzer of sparsity detection and sparse derivatives.

Usage::

    python -m benchmarks.fuzz [--n 20000] [--hessian-fraction 0.25] [--seed 0] [--asdex]
                              [--no-known-filter] [--max-repros 5] [--json out.json] [--quick]
                              [--max-ops 8] [--families NAME ...] [--workers K]
    python -m benchmarks.fuzz --recheck CAMPAIGN_JSON

Generates random JAX programs (:mod:`benchmarks.fuzz.generate`), compares the patterns of
``sparsediff.jacobian_sparsity`` / ``hessian_sparsity`` with the union of the non-zeros of
dense derivatives at chosen points and the values of the sparse derivative with the dense
ones (:mod:`benchmarks.fuzz.check`), prints a Markdown table per family, and a shrunk,
standalone repro of each failure. Exits with 1 when anything is unsound, crashes or has
wrong values (known issues excepted, unless ``--no-known-filter``).
"""

from __future__ import annotations

import os

# Compilation dominates a fuzz run of small programs; speed it up before JAX starts. (Not
# --xla_backend_optimization_level=0: it made the CPU FFT thunk fail a layout RET_CHECK.)
os.environ.setdefault("XLA_FLAGS", "--xla_llvm_disable_expensive_passes=true")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from .run import format_failure, format_summary, run, shrink_failure  # noqa: E402

QUICK_N = 300


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fuzz",
                                 description=__doc__.splitlines()[0])  # fmt: skip
    ap.add_argument("--n", type=int, default=20_000, help="number of programs")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_N} programs")
    ap.add_argument("--hessian-fraction", type=float, default=0.25,
                    help="share of programs checked as Hessians (default 0.25)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0, help="campaign seed")
    ap.add_argument("--asdex", action="store_true", help="also run asdex on every program")
    ap.add_argument("--no-asdex", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-known-filter", action="store_true",
                    help="count failures of known issues as failures")  # fmt: skip
    ap.add_argument("--no-values", action="store_true", help="skip the value check")
    ap.add_argument("--max-repros", type=int, default=5, help="failures shrunk and printed")
    ap.add_argument("--json", help="write the counts and failures to this file")
    ap.add_argument("--max-ops", type=int, default=8, help="ops per program, at most")
    ap.add_argument("--families", nargs="+", help="draw ops from these families only")
    ap.add_argument("--recheck", metavar="CAMPAIGN_JSON",
                    help="check again, with this code, the failures a campaign's --json "
                    "recorded (same --max-ops and --families as the campaign)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=1,
                    help="processes checking programs (0: one per usable core)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.recheck:
        return recheck(args.recheck, args.max_ops, args.families)
    n = QUICK_N if args.quick else args.n
    use_asdex = args.asdex and not args.no_asdex
    if use_asdex:
        try:
            import asdex  # noqa: F401
        except ImportError:
            print("asdex is not installed; running without it", file=sys.stderr)
            use_asdex = False
    known_filter = not args.no_known_filter
    workers = args.workers if args.workers > 0 else len(os.sched_getaffinity(0))
    t0 = time.perf_counter()

    def progress(k, s):
        if k % 100 == 0 or k == n:
            el = time.perf_counter() - t0
            print(f"[fuzz] {k}/{n} programs, {s.failed} failures, {el:.0f} s", file=sys.stderr,
                  flush=True)  # fmt: skip

    summary = run(n, args.seed, args.hessian_fraction, use_asdex, known_filter,
                  values=not args.no_values, progress=progress, max_ops=args.max_ops,
                  families=None if args.families is None else tuple(args.families),
                  workers=workers)  # fmt: skip
    print("# Differential fuzzing of sparsity detection\n")
    print(f"`python -m benchmarks.fuzz --n {n} --seed {args.seed} --hessian-fraction "
          f"{args.hessian_fraction}{' --asdex' if use_asdex else ''}` "
          f"({workers} worker{'s' if workers > 1 else ''}, {summary.seconds:.0f} s)\n")  # fmt: skip
    print(format_summary(summary, known_filter), flush=True)
    if args.json:  # before shrinking, which may take long
        with open(args.json, "w") as fh:
            json.dump(summary.to_json(), fh, indent=1)
    if summary.failures:
        n_fail, k = len(summary.failures), args.max_repros
        print(f"\n## Failures ({n_fail}; the first {k} shrunk below)\n")
        for p, o in summary.failures:  # unshrunk, at once
            print(f"- seed {p.seed}: {o.kind}: {o.detail}", flush=True)
        print()
        for p, o in summary.failures[: args.max_repros]:
            q, qo, spent = shrink_failure(p, o, known_filter)
            print(format_failure(p, o, q, qo, spent), flush=True)
    return 1 if summary.failures else 0


def recheck(path: str, max_ops: int, families) -> int:
    """Checks the failures recorded in a campaign's JSON again; exits 1 if any remains."""
    from .check import FAILURES, check
    from .generate import generate

    with open(path) as fh:
        failures = json.load(fh).get("failures", [])
    print(f"# Failures of {path}, checked again\n")
    print("| program seed | Jacobian / Hessian | recorded | now | detail |")
    print("|---:|:---|:---|:---|:---|")
    remaining = 0
    for rec in failures:
        p = generate(rec["seed"], hessian=rec["hessian"], max_ops=max_ops,
                     families=None if families is None else tuple(families))  # fmt: skip
        o = check(p)
        remaining += o.kind in FAILURES and o.known is None
        detail = o.detail.replace("|", "/")[:200]
        kind = "Hessian" if rec["hessian"] else "Jacobian"
        print(f"| {rec['seed']} | {kind} | {rec['kind']} | {o.kind} | {detail} |", flush=True)
    print(f"\n{len(failures)} recorded failures, {remaining} still failing")
    return 1 if remaining else 0


if __name__ == "__main__":
    raise SystemExit(main())
