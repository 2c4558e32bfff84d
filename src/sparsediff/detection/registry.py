"""The rule table of sparsity detection and the detector's settings.

One table, ``RULES: dict[Primitive, Rule]``, filled by the family registrars in
:mod:`sparsediff.detection.rules`. Third parties add rules with
:func:`register_rule`. The interpreter looks rules up here and never names a
primitive itself.

A rule is called as ``rule(ctx, eqn, invals)`` where ``invals`` are the
:class:`~sparsediff.detection.values.Val` of the equation's inputs, and returns
one entry per output: a :class:`~sparsediff.detection.deps.Deps`, ``None``
(empty pattern), or a full ``Val`` (to pass on a known value as well).

Detector options live here, never as keywords of ``jacobian_sparsity`` (whose
``**kwargs`` belong to the user's function): use :func:`detection_options` as
a context manager, or :func:`set_detection_options` to change the defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from jax.extend.core import Primitive

__all__ = [
    "RULES",
    "Rule",
    "register_rule",
    "register_rule_by_name",
    "NAMED_RULES",
    "get_rule",
    "register_when_imported",
    "register_pending",
    "DetectionOptions",
    "detection_options",
    "set_detection_options",
    "current_options",
    "UnknownPrimitiveWarning",
    "UnsupportedPrimitiveError",
]

Rule = Callable[..., Any]

RULES: dict[Primitive, Rule] = {}


class UnknownPrimitiveWarning(UserWarning):
    """Detection met a primitive without a rule and used the sound dense fallback."""


class UnsupportedPrimitiveError(NotImplementedError):
    """Raised in strict mode instead of falling back for a primitive without a rule."""


def register_rule(primitive: Primitive, rule: Rule | None = None, *, overwrite: bool = True) -> Any:
    """Register ``rule`` for ``primitive``; usable as a decorator.

    >>> from sparsediff.detection.registry import register_rule  # doctest: +SKIP
    >>> @register_rule(my_primitive)  # doctest: +SKIP
    ... def my_rule(ctx, eqn, invals): ...
    """

    def _set(r: Rule) -> Rule:
        if not overwrite and primitive in RULES:
            raise ValueError(f"a sparsity rule for primitive {primitive.name!r} exists already")
        RULES[primitive] = r
        return r

    if rule is None:
        return _set
    return _set(rule)


#: rules for primitives that other libraries define (Equinox), looked up by name so
#: that detection need not import those libraries; a rule in RULES comes first
NAMED_RULES: dict[str, Rule] = {}


def register_rule_by_name(name: str, rule: Rule) -> None:
    """Register ``rule`` for the primitive(s) named ``name`` that have no rule of
    their own in :data:`RULES` (for primitives of libraries sparsediff does not
    import)."""
    NAMED_RULES[name] = rule


#: module name -> registrar of the rules for the primitives that module defines,
#: run once the module is imported (by the user's program: a jaxpr cannot hold
#: those primitives before), so that detection does not import it itself
_PENDING: dict[str, Callable[[], None]] = {}


def register_when_imported(module: str, registrar: Callable[[], None]) -> None:
    """Run ``registrar`` now if ``module`` is imported, else when a rule is first
    missing after it has been."""
    if module in sys.modules:
        registrar()
    else:
        _PENDING[module] = registrar


def register_pending() -> bool:
    """Run the registrars whose modules are imported now; whether any ran."""
    ready = [name for name in _PENDING if name in sys.modules]
    for name in ready:
        _PENDING.pop(name)()
    return bool(ready)


def get_rule(primitive: Primitive) -> Rule | None:
    rule = RULES.get(primitive)
    if rule is None and _PENDING and register_pending():
        rule = RULES.get(primitive)
    if rule is None and NAMED_RULES:
        rule = NAMED_RULES.get(primitive.name)
    return rule


@dataclasses.dataclass(frozen=True)
class DetectionOptions:
    """Settings of the detector.

    Attributes:
        strict: raise :class:`UnsupportedPrimitiveError` for a primitive without
            a rule instead of warning and using the dense fallback.
        known_value_limit: largest number of elements of a value that detection
            computes concretely (values independent of the differentiated
            inputs: constants, indices, masks). Larger values are treated as
            unknown, which is sound but may be less exact.
        unroll_budget: how much work ``scan`` and ``while_loop`` may spend on
            exact, iteration-by-iteration propagation, counted as iterations
            times equations of the loop body. Longer loops use a sound fixed
            point over the carries instead.
        max_fallback_nnz: largest pattern (in entries) a conservative dense
            fallback may build before :class:`PatternTooLargeError` is raised.
    """

    strict: bool = False
    known_value_limit: int = 10_000_000
    unroll_budget: int = 250_000
    max_fallback_nnz: int = 500_000_000


_state = threading.local()
_defaults = [DetectionOptions()]


def current_options() -> DetectionOptions:
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else _defaults[0]


def set_detection_options(**changes: Any) -> DetectionOptions:
    """Change the process-wide default options; returns the previous ones."""
    old = _defaults[0]
    _defaults[0] = dataclasses.replace(old, **changes)
    return old


@contextlib.contextmanager
def detection_options(**changes: Any) -> Iterator[DetectionOptions]:
    """Temporarily change detector options, e.g. ``with detection_options(strict=True):``."""
    new = dataclasses.replace(current_options(), **changes)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(new)
    try:
        yield new
    finally:
        stack.pop()
