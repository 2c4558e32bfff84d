"""The op catalogue of the fuzzer: :class:`Op` and the registry ``OPS``.

Each op is data: a *family* (the rule family of sparsediff it exercises), an arity, a
parameter generator ``gen(rng, input_shapes) -> params | None`` and a *template*, the
Python expression it renders to (``{0}``, ``{1}`` are the inputs, ``{name}`` a parameter
rendered as a literal; a callable template gets ``(params, input_names)``). Helper
functions (custom derivative rules, matrix builders) and extra imports are module-level
source blocks in ``HELPERS``; :func:`namespace` executes them once for the callables, and
a printed repro includes those it uses.

The ops themselves are defined by family in ``ops_*.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import string
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["Op", "OPS", "HELPERS", "FAMILIES", "op", "helper", "namespace", "HAVE_EQUINOX"]

OPS: dict[str, Op] = {}
HELPERS: dict[str, str] = {}
#: every family the generator draws from, in report order
FAMILIES = (
    "elementwise",
    "zero_derivative",
    "structural",
    "indexing",
    "reduction",
    "contraction",
    "sort",
    "linalg",
    "fft",
    "control_flow",
    "custom",
    "transform",
    "sparse",
    "equinox",
)
HAVE_EQUINOX = importlib.util.find_spec("equinox") is not None

Bound = float | str | Callable | None


@dataclasses.dataclass(frozen=True)
class Op:
    """One op of the catalogue (see the module docstring).

    ``bound`` estimates the output's magnitude from the inputs' bounds ``bs`` and sizes:
    ``None`` (largest input bound), a number (bounded output, e.g. ``sin``), ``"sum"``,
    ``"prod"``, or ``"size"`` (a sum over up to all elements of the first input). The
    generator squashes inputs with ``tanh`` where a chain could overflow.
    ``no_vmap``: the oracle must loop over points instead of ``vmap`` (ops that inspect the
    batch). ``tags(params)`` names variants that known-issue filters match on.
    """

    name: str
    family: str
    arity: int
    gen: Callable[[np.random.Generator, list[tuple[int, ...]]], dict | None]
    template: str | Callable[[dict, list[str]], str]
    helpers: tuple[str, ...] = ()
    bound: Bound = None
    no_vmap: bool = False
    tagger: Callable[[dict], Iterable[str]] | None = None
    needs_scale: bool = False

    def render(self, params: dict, names: list[str]) -> str:
        if callable(self.template):
            return self.template(params, names)
        from .program import literal

        return self.template.format(*names, **{k: _fmt(v, literal) for k, v in params.items()})

    def tags(self, params: dict) -> Iterable[str]:
        return self.tagger(params) if self.tagger is not None else ()

    def out_bound(self, params: dict, bs: list[float], sizes: list[int]) -> float:
        b = self.bound
        if callable(b):
            return float(b(params, bs, sizes))
        if b is None:
            return max(bs) if bs else 1.0
        if isinstance(b, (int, float)):
            return float(b)
        if b == "sum":
            return float(sum(bs))
        if b == "prod":
            return float(np.prod(bs))
        if b == "prod2":
            return float(bs[0] ** 2)
        if b == "prod3":
            return float(bs[0] ** 3)
        return float(bs[0] * max(sizes[0], 1))


def _fmt(v: Any, literal) -> str:
    if isinstance(v, str):  # code fragments (function names, bodies) are inserted as they are
        return v
    return literal(v)


def op(name: str, family: str, arity: int, gen, template, **kw: Any) -> Op:
    if name in OPS:
        raise ValueError(f"duplicate fuzz op {name!r}")
    o = Op(name, family, arity, gen, template, **kw)
    OPS[name] = o
    return o


def helper(name: str, source: str) -> str:
    HELPERS[name] = source
    return name


_NS: dict[str, Any] | None = None


def namespace() -> dict[str, Any]:
    """A fresh copy of the globals programs run in (imports and every helper defined)."""
    global _NS
    if _NS is None:
        from .program import HEADER

        ns: dict[str, Any] = {}
        exec(HEADER, ns)  # noqa: S102
        for src in HELPERS.values():
            exec(src, ns)  # noqa: S102
        _NS = ns
    return dict(_NS)


def fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


# the families register their ops on import
from . import ops_basic, ops_control, ops_index, ops_math  # noqa: E402,F401
