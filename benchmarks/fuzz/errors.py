"""Which exceptions are deliberate: the one whitelist of the fuzzer.

An exception raised while sparsediff detects a pattern or evaluates a derivative is
*deliberate* when it is one of the documented errors below, decided by its type, the
module that raised it (the innermost frame of its traceback) and, for errors JAX raises
on sparsediff's behalf, its message. Anything else is an INTERNAL_CRASH.

- ``UnsupportedPrimitiveError`` raised in ``sparsediff.detection``: no rule (strict mode);
- ``PatternTooLargeError`` raised in ``sparsediff.detection``: a conservative fallback over
  ``max_fallback_nnz``;
- ``ValueError`` / ``TypeError`` raised in ``sparsediff.arguments``,
  ``sparsediff.detection.api`` or ``sparsediff.evaluation.{api,pipeline,prepared,modes}``:
  argument validation, with a message;
- any exception raised inside ``jax`` or ``equinox`` whose message is one of JAX's AD
  limits that sparsediff cannot route around (Equinox's ``nondifferentiable``): JAX
  cannot run the AD mode needed at all. Reverse mode through ``while_loop`` and
  primitives without a transpose rule are no longer listed: sparsediff falls back to
  forward mode there, so such an error is a crash. Nor is forward mode through
  ``custom_vjp``: Jacobians take VJPs there and Hessians reverse over reverse;
- ``ValueError`` from ``sparsediff.detection.rules.control_flow`` saying ``f`` is not
  differentiable: a custom JVP rule refuses a tangent (as ``jax.jacfwd`` would).
"""

from __future__ import annotations

import dataclasses
import re
import traceback

import jax

from sparsediff.detection.interpreter import PatternTooLargeError
from sparsediff.detection.registry import UnsupportedPrimitiveError

__all__ = ["Deliberate", "DELIBERATE", "raising_module", "deliberate_reason", "FUZZER_BUGS"]

# The raising module is read from the innermost frame: JAX must not filter its own frames.
jax.config.update("jax_traceback_filtering", "off")

#: exception types that, raised inside benchmarks.fuzz, are bugs of the fuzzer itself
FUZZER_BUGS = (AttributeError, NameError, ImportError, SyntaxError, KeyError, IndexError)


@dataclasses.dataclass(frozen=True)
class Deliberate:
    types: tuple[type[BaseException], ...]
    modules: tuple[str, ...]  # prefixes of the raising module
    reason: str
    message: str | None = None  # regular expression the message must match

    def matches(self, exc: BaseException, module: str) -> bool:
        if not isinstance(exc, self.types):
            return False
        if not any(module == m or module.startswith(m + ".") for m in self.modules):
            return False
        return self.message is None or re.search(self.message, str(exc)) is not None


DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate((UnsupportedPrimitiveError,), ("sparsediff.detection",), "unsupported primitive"),
    Deliberate((PatternTooLargeError,), ("sparsediff.detection",), "pattern too large"),
    Deliberate(
        (ValueError, TypeError),
        (
            "sparsediff.arguments",
            "sparsediff.detection.api",
            "sparsediff.evaluation.api",
            "sparsediff.evaluation.pipeline",
            "sparsediff.evaluation.prepared",
            "sparsediff.evaluation.modes",
        ),
        "argument validation",
    ),  # fmt: skip
    Deliberate(
        (Exception,),
        ("jax", "equinox"),
        "JAX AD limitation",
        r"Unexpected (co)?tangent|nondifferentiable|not be differentiated",
    ),
    Deliberate(
        (ValueError,),
        ("sparsediff.detection.rules.control_flow",),
        "f is not differentiable (a custom JVP rule refuses)",
        r"is not differentiable",
    ),
)


def raising_module(exc: BaseException) -> str:
    """The ``__name__`` of the module of the innermost frame of ``exc``'s traceback."""
    tb = exc.__traceback__
    module = "?"
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "?")
        tb = tb.tb_next
    return module


def deliberate_reason(exc: BaseException) -> str | None:
    """The whitelist entry's reason when ``exc`` is deliberate, else ``None``."""
    module = raising_module(exc)
    for d in DELIBERATE:
        if d.matches(exc, module):
            return d.reason
    return None


def describe(exc: BaseException) -> str:
    """``Type: message (module)`` on one line, shortened."""
    msg = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {msg} (raised in {raising_module(exc)})"


def short_traceback(exc: BaseException, limit: int = 8) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-limit))
