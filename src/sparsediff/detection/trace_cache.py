"""Reuse of traces, as ``jax.jit`` reuses its own.

Tracing a function written as a long Python loop costs more than detecting its
pattern. ``jax.jit`` and ``jax.make_jaxpr`` keep a trace per function object and
argument signature (shapes, dtypes, tree structure, static values) under the
current configuration; detection does the same, so that asking again for the
pattern of the same function at the same signature (the Jacobian, then the
Hessian, then a prepared derivative) traces it once. As with ``jax.jit``, a
function that reads global state it later changes sees the state of its first
trace; a new function object (or a changed static argument) traces again.

The cache holds the function weakly (an entry goes when the function does) and
at most :data:`PER_FUNCTION` traces per function and :data:`MAX_FUNCTIONS`
functions. Functions that cannot be referenced weakly, and signatures with
unhashable static values, are not cached.
"""

from __future__ import annotations

import functools
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from . import compat

__all__ = ["cached_trace", "clear", "folded_constants", "MAX_FUNCTIONS", "PER_FUNCTION"]

MAX_FUNCTIONS = 256
PER_FUNCTION = 8

# id(f) -> (weak reference to f, {key: trace}); ordered by last use
_ENTRIES: OrderedDict[int, tuple[weakref.ref, OrderedDict[Hashable, Any]]] = OrderedDict()


# closed jaxpr -> {options: {id(equation): known outputs}}; see folded_constants
_FOLDED: weakref.WeakKeyDictionary[Any, dict[Hashable, dict[int, list[Any]]]] = (
    weakref.WeakKeyDictionary()
)


def clear() -> None:
    """Forget every cached trace."""
    _ENTRIES.clear()
    _FOLDED.clear()


def folded_constants(closed: Any, options: Hashable) -> dict[int, list[Any]] | None:
    """The store of constant-folded equations of a traced program, kept as long
    as the program (the cached trace) lives.

    A top-level equation whose inputs are all known values computes the same
    outputs every time the same program is interpreted under the same options
    (its inputs are literals, the program's constants, or outputs of such
    equations; the traced inputs are never known): detection keeps them by
    equation here, as ``jax.jit`` keeps constant folding inside its cached
    executable. ``None`` when the program cannot be referenced weakly.
    """
    try:
        per_options = _FOLDED.get(closed)
        if per_options is None:
            per_options = _FOLDED[closed] = {}
    except TypeError:
        return None
    store = per_options.get(options)
    if store is None:
        store = per_options[options] = {}
    return store


def _forget(fid: int, ref: weakref.ref) -> None:
    entry = _ENTRIES.get(fid)
    if entry is not None and entry[0] is ref:
        del _ENTRIES[fid]


def cached_trace(f: Callable, key: Hashable | None, trace: Callable[[], Any]) -> Any:
    """``trace()``, or the result it gave before for ``f`` and ``key`` under the
    same JAX configuration. ``key=None`` (an uncacheable signature) always traces."""
    if key is None:
        return trace()
    try:
        full = (key, compat.trace_context())
        hash(full)
    except TypeError:
        return trace()
    fid = id(f)
    entry = _ENTRIES.get(fid)
    if entry is not None and entry[0]() is f:
        traces = entry[1]
        if full in traces:
            traces.move_to_end(full)
            _ENTRIES.move_to_end(fid)
            return traces[full]
    result = trace()
    if entry is None or entry[0]() is not f:
        try:
            ref = weakref.ref(f, functools.partial(_forget, fid))
        except TypeError:
            return result
        entry = (ref, OrderedDict())
        _ENTRIES[fid] = entry
        while len(_ENTRIES) > MAX_FUNCTIONS:
            _ENTRIES.popitem(last=False)
    traces = entry[1]
    traces[full] = result
    while len(traces) > PER_FUNCTION:
        traces.popitem(last=False)
    _ENTRIES.move_to_end(fid)
    return result
