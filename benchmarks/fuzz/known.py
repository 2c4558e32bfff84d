"""Known issues: failures already being fixed elsewhere, filtered out of the verdict.

A failure (UNSOUND, INTERNAL_CRASH, WRONG_VALUE) of a program that matches an entry is
counted under ``known`` with the entry's id instead of failing the run. The filter is
on by default and disabled with ``--no-known-filter`` (or ``known_filter=False``). Remove
an entry once its fix has landed and the fuzzer is quiet without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .program import Program

__all__ = ["KnownIssue", "KNOWN_ISSUES", "known_issue"]


@dataclasses.dataclass(frozen=True)
class KnownIssue:
    id: str
    description: str
    matches: Callable[[Program, str, str], bool]  # (program, failure class, detail) -> bool


#: No open known issue. The entries this list held (dynamic-slice starts beside constant
#: ones, Hessians through while_loop, custom_jvp rules applied to their own tangents,
#: integer_pow(x, 0), per-element index intervals, qr, Equinox's primitives) are fixed,
#: each with its regression test under tests/detection.
KNOWN_ISSUES: tuple[KnownIssue, ...] = ()


def known_issue(p: Program, kind: str, detail: str = "") -> str | None:
    """The id of the first known issue ``p``'s failure (class ``kind``, ``detail``) falls
    into."""
    for k in KNOWN_ISSUES:
        if k.matches(p, kind, detail):
            return k.id
    return None
