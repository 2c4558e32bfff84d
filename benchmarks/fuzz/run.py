"""A fuzz campaign: many programs, counts per class and family, shrunk repros of failures."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np

from .catalog import FAMILIES
from .check import CLASSES, FAILURES, Outcome, check
from .generate import generate
from .known import KNOWN_ISSUES
from .program import Program
from .repro import repro_source
from .shrink import shrink

__all__ = ["Summary", "program_for", "run", "shrink_failure", "format_summary"]


@dataclasses.dataclass
class Summary:
    programs: int = 0
    seconds: float = 0.0
    total: Counter = dataclasses.field(default_factory=Counter)
    by_family: dict = dataclasses.field(default_factory=lambda: defaultdict(Counter))
    known: Counter = dataclasses.field(default_factory=Counter)
    asdex: Counter = dataclasses.field(default_factory=Counter)
    failures: list = dataclasses.field(default_factory=list)  # (program, outcome)
    known_examples: dict = dataclasses.field(default_factory=dict)  # issue id -> (p, outcome)
    known_failures: list = dataclasses.field(default_factory=list)  # (seed, id, kind, detail)
    skipped: Counter = dataclasses.field(default_factory=Counter)  # oracle/deliberate errors
    hessians: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def add(self, p: Program, o: Outcome) -> None:
        self.programs += 1
        self.hessians += int(p.hessian)
        self.total[o.kind] += 1
        for fam in o.families or ("(leaves only)",):
            self.by_family[fam][o.kind] += 1
            self.by_family[fam]["programs"] += 1
        if o.known is not None:
            self.known[o.known] += 1
            self.known_examples.setdefault(o.known, (p, o))
            self.known_failures.append((p.seed, o.known, o.kind, o.detail))
        elif o.kind in FAILURES:
            self.failures.append((p, o))
        if o.asdex is not None:
            self.asdex[o.asdex] += 1
        if o.kind in ("oracle_error", "deliberate_error"):
            self.skipped[f"{o.kind}: {o.detail[:90]}"] += 1

    def to_json(self) -> dict:
        return {
            "programs": self.programs,
            "hessians": self.hessians,
            "seconds": self.seconds,
            "total": dict(self.total),
            "by_family": {k: dict(v) for k, v in self.by_family.items()},
            "known": dict(self.known),
            "asdex": dict(self.asdex),
            "skipped": dict(self.skipped),
            "known_failures": [
                {"seed": seed, "issue": kid, "kind": kind, "detail": detail}
                for seed, kid, kind, detail in self.known_failures
            ],
            "failures": [
                {"seed": p.seed, "hessian": p.hessian, "kind": o.kind, "detail": o.detail}
                for p, o in self.failures
            ],
        }


def program_for(
    seed: int, k: int, hessian_fraction: float, max_ops: int = 8, families=None
) -> Program:
    """The ``k``-th program of the campaign ``seed``."""
    hessian = bool(np.random.default_rng([seed, k, 7]).random() < hessian_fraction)
    return generate(seed * 1_000_003 + k, hessian=hessian, max_ops=max_ops, families=families)


def _check_slice(args) -> list[tuple[int, Outcome]]:
    """A worker's share of a campaign: programs ``start, start + step, ...`` below ``n``."""
    n, start, step, seed, hessian_fraction, asdex, known_filter, values, max_ops, families = args
    out = []
    for k in range(start, n, step):
        p = program_for(seed, k, hessian_fraction, max_ops, families)
        out.append((k, check(p, known_filter=known_filter, asdex=asdex, values=values)))
    return out


def run(
    n: int,
    seed: int = 0,
    hessian_fraction: float = 0.25,
    asdex: bool = False,
    known_filter: bool = True,
    values: bool = True,
    progress: Callable[[int, Summary], None] | None = None,
    max_ops: int = 8,
    families: tuple[str, ...] | None = None,
    workers: int = 1,
    chunk: int = 50,
    start: int = 0,
) -> Summary:
    """Checks the programs ``start .. n-1`` of campaign ``seed``.

    With ``workers > 1`` the programs are checked in that many fresh processes, ``chunk``
    programs per task; the programs and their outcomes are the same as with one worker
    (each is drawn from ``(seed, k)`` alone) and are added in order of ``k``.
    """
    s = Summary()
    t0 = time.perf_counter()
    if workers <= 1:
        for k in range(start, n):
            p = program_for(seed, k, hessian_fraction, max_ops, families)
            s.add(p, check(p, known_filter=known_filter, asdex=asdex, values=values))
            if progress is not None:
                progress(k + 1, s)
        s.seconds = time.perf_counter() - t0
        return s
    import multiprocessing as mp

    # one task per block of `chunk` consecutive programs
    tasks = []
    for b in range(start, n, chunk):
        tasks.append((min(n, b + chunk), b, 1, seed, hessian_fraction, asdex, known_filter,
                      values, max_ops, families))  # fmt: skip
    pending: dict[int, Outcome] = {}
    nxt = start
    with mp.get_context("spawn").Pool(workers, maxtasksperchild=20) as pool:
        for block in pool.imap(_check_slice, tasks):
            for k, o in block:
                pending[k] = o
            while nxt in pending:  # in order of k, as one worker would
                s.add(program_for(seed, nxt, hessian_fraction, max_ops, families),
                      pending.pop(nxt))  # fmt: skip
                nxt += 1
                if progress is not None:
                    progress(nxt, s)
    s.seconds = time.perf_counter() - t0
    return s


def shrink_failure(p: Program, o: Outcome, known_filter: bool = True, budget: int = 150):
    """``(shrunk program, its outcome, checks spent)`` for a failure ``o`` of ``p``."""
    last = {"outcome": o}

    def still_fails(q: Program) -> bool:
        r = check(q, known_filter=known_filter)
        if r.kind == o.kind and (r.known is None or not known_filter):
            last["outcome"] = r
            return True
        return False

    q, spent = shrink(p, still_fails, budget)
    out = last["outcome"] if q is not p else o
    return q, out, spent


# -- output ---------------------------------------------------------------------------
COLUMNS = (("programs", "programs"), ("exact", "exact"), ("conservative", "conservative"),
           ("unsound", "unsound"), ("internal_crash", "internal crashes"),
           ("deliberate_error", "deliberate errors"), ("wrong_value", "wrong values"),
           ("oracle_error", "oracle errors"))  # fmt: skip


def _row(name: str, c: Counter, known: int | None = None) -> str:
    cells = [str(c.get(k, 0)) for k, _ in COLUMNS]
    return f"| {name} | " + " | ".join(cells) + ("" if known is None else f" | {known}") + " |"


def format_summary(s: Summary, known_filter: bool = True) -> str:
    head = "| family | " + " | ".join(t for _, t in COLUMNS) + " | of which known issues |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    total = Counter(s.total)
    total["programs"] = s.programs
    lines.append(_row("**all**", total, sum(s.known.values())))
    for fam in [*FAMILIES, *sorted(set(s.by_family) - set(FAMILIES))]:
        c = s.by_family.get(fam)
        if c:
            lines.append(_row(fam, c))
    rate = s.programs / s.seconds if s.seconds else 0.0
    lines += ["", f"{s.programs} programs ({s.hessians} Hessians) in {s.seconds:.0f} s "
              f"({rate:.1f} programs/s); classes: " +
              ", ".join(f"{k} {s.total.get(k, 0)}" for k in CLASSES)]  # fmt: skip
    lines.append(
        "Failures counted (unsound + internal crashes + wrong values, known issues excluded): "
        f"{s.failed}" + ("" if known_filter else " (known-issue filter off)")
    )
    if s.known:
        lines += ["", "| known issue | failures | description |", "|---|---|---|"]
        desc = {k.id: k.description for k in KNOWN_ISSUES}
        for kid, cnt in s.known.most_common():
            lines.append(f"| {kid} | {cnt} | {desc.get(kid, '')} |")
    if s.asdex:
        lines += ["", "| asdex 0.5.1 on the same programs | count |", "|---|---|"]
        for k in ("exact", "conservative", "unsound", "error"):
            lines.append(f"| {k} | {s.asdex.get(k, 0)} |")
    return "\n".join(lines)


def format_failure(p: Program, o: Outcome, shrunk: Program, so: Outcome, spent: int) -> str:
    return (
        f"### seed {p.seed} ({'Hessian' if p.hessian else 'Jacobian'}): {o.kind}\n\n"
        f"{o.detail}\n\nShrunk in {spent} checks from {len(p.nodes)} to {len(shrunk.nodes)} "
        f"nodes:\n\n```python\n{repro_source(shrunk, so)}```\n"
    )
