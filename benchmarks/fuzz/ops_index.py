"""Indexing ops: gathers, scatters and dynamic slices with constant and input-dependent
indices, in every mode, with negative, duplicate and out-of-range indices."""

from __future__ import annotations

import math

import numpy as np

from . import draw
from .catalog import op

GET_MODES = ("None", "'clip'", "'fill'", "'promise_in_bounds'")
TAKE_MODES = ("'clip'", "'fill'", "'wrap'")
SCATTER_MODES = ("None", "'clip'", "'drop'", "'fill'", "'promise_in_bounds'")
METHODS = ("set", "add", "mul", "min", "max")


def _mode(rng, modes):
    return str(rng.choice(modes))


def _fill(mode: str) -> str:
    return ", fill_value=0.0" if mode == "'fill'" else ""


def _dyn_index(p, src: str) -> str:
    """An input-dependent integer index read from node ``src``."""
    return f"(jnp.argmax({src}) % {p['k']} + {p['off']})"


#: modes where an out-of-range index is undefined behaviour (JAX's forward and reverse
#: modes then disagree): indices stay in range there
PROMISED = ("None", "'promise_in_bounds'")


def _dyn_params(rng, n, mode=""):
    if mode in PROMISED:
        return {"k": int(rng.integers(1, n + 1)), "off": 0}
    return {"k": int(rng.integers(1, n + 3)), "off": int(rng.integers(-2, 2))}


def _in_range(rng, idx: np.ndarray, n: int, mode: str) -> np.ndarray:
    return np.clip(idx, -n, n - 1).astype(np.int32) if mode in PROMISED else idx


# -- gathers --------------------------------------------------------------------------
def _gather(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    mode = _mode(rng, GET_MODES)
    idx = _in_range(rng, draw.indices(rng, s[0]), s[0], mode)
    if idx.size * math.prod(s[1:]) > draw.MAX_SIZE:
        return None
    return {"idx": idx, "mode": mode}


def _gather2(rng, shapes):
    s = shapes[0]
    if len(s) < 2:
        return None
    k = int(rng.integers(1, 5))
    mode = _mode(rng, GET_MODES)
    return {"i": _in_range(rng, draw.indices(rng, s[0], k), s[0], mode),
            "j": _in_range(rng, draw.indices(rng, s[1], k), s[1], mode), "mode": mode}  # fmt: skip


def _take(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    a = draw.axis(rng, s)
    idx = draw.indices(rng, s[a])
    if math.prod(s) // s[a] * idx.size > draw.MAX_SIZE:
        return None
    return {"idx": idx, "axis": a, "mode": _mode(rng, TAKE_MODES)}


def _gather_dyn(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    mode = _mode(rng, GET_MODES)
    return {**_dyn_params(rng, s[0], mode), "mode": mode}


def _take_dyn(rng, shapes):
    s, t = shapes
    if not s or math.prod(t) * math.prod(s[1:]) > draw.MAX_SIZE:
        return None
    return {"mode": _mode(rng, TAKE_MODES)}


op("gather", "indexing", 1, _gather,
   lambda p, n: f"{n[0]}.at[{_lit(p['idx'])}].get(mode={p['mode']}{_fill(p['mode'])})")  # fmt: skip
op("gather2", "indexing", 1, _gather2,
   lambda p, n: f"{n[0]}.at[{_lit(p['i'])}, {_lit(p['j'])}].get(mode={p['mode']}"
   f"{_fill(p['mode'])})")  # fmt: skip
op("take", "indexing", 1, _take,
   lambda p, n: f"jnp.take({n[0]}, {_lit(p['idx'])}, axis={p['axis']}, mode={p['mode']}"
   f"{_fill(p['mode'])})")  # fmt: skip
op("gather_dyn", "indexing", 2, _gather_dyn,
   lambda p, n: f"{n[0]}.at[{_dyn_index(p, n[1])}].get(mode={p['mode']}{_fill(p['mode'])})",
   tagger=lambda p: ["input_index"])  # fmt: skip
op("take_dyn", "indexing", 2, _take_dyn,
   lambda p, n: f"jnp.take({n[0]}, jnp.floor({n[1]} * 2.0).astype(jnp.int32), axis=0, "
   f"mode={p['mode']}{_fill(p['mode'])})", tagger=lambda p: ["input_index"])  # fmt: skip


# -- scatters -------------------------------------------------------------------------
def _scatter(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    mode = _mode(rng, SCATTER_MODES)
    idx = draw.indices(rng, s[0])
    if mode == "'promise_in_bounds'":
        idx = _in_range(rng, idx, s[0], mode)
    return {"idx": idx, "method": str(rng.choice(METHODS)), "mode": mode,
            "ushape": (idx.size, *s[1:])}  # fmt: skip


def _scatter_dyn(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    mode = _mode(rng, SCATTER_MODES)
    promised = "None" if mode == "'promise_in_bounds'" else ""
    return {**_dyn_params(rng, s[0], promised), "method": str(rng.choice(METHODS)),
            "mode": mode}  # fmt: skip


def _updates(p, name):
    u = f"jnp.resize({name}, {p['ushape']})"
    return f"jnp.tanh({u})" if p["method"] == "mul" else u


op("scatter", "indexing", 2, _scatter,
   lambda p, n: f"{n[0]}.at[{_lit(p['idx'])}].{p['method']}({_updates(p, n[1])}, "
   f"mode={p['mode']})", bound="sum")  # fmt: skip
op("scatter_dyn", "indexing", 2, _scatter_dyn,
   lambda p, n: f"{n[0]}.at[{_dyn_index(p, n[1])}].{p['method']}(jnp.tanh(jnp.sum({n[1]})), "
   f"mode={p['mode']})", tagger=lambda p: ["input_index"], bound="sum")  # fmt: skip


# -- dynamic slices -------------------------------------------------------------------
def _sizes(rng, s):
    return tuple(int(rng.integers(1, n + 1)) for n in s)


def _dslice(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    sizes = _sizes(rng, s)
    return {"starts": draw.starts(rng, s, sizes), "sizes": sizes}


def _dslice_dyn(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    sizes = _sizes(rng, s)
    dyn = tuple(bool(rng.random() < 0.6) for _ in s)
    if not any(dyn):
        dyn = (True, *dyn[1:])
    return {"starts": draw.starts(rng, s, sizes), "sizes": sizes, "dyn": dyn,
            **_dyn_params(rng, max(s))}  # fmt: skip


def _starts_src(p, src):
    parts = []
    for st, d in zip(p["starts"], p.get("dyn", (False,) * len(p["starts"]))):
        parts.append(_dyn_index(p, src) if d else str(st))
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _mixed(p):
    dyn = p.get("dyn", ())
    return ["input_index"] + (["mixed"] if any(dyn) and not all(dyn) else [])


op("dynamic_slice", "indexing", 1, _dslice,
   lambda p, n: f"lax.dynamic_slice({n[0]}, {_starts_src(p, '')}, {p['sizes']})")  # fmt: skip
op("dynamic_slice_dyn", "indexing", 2, _dslice_dyn,
   lambda p, n: f"lax.dynamic_slice({n[0]}, {_starts_src(p, n[1])}, {p['sizes']})",
   tagger=_mixed)  # fmt: skip
op("dynamic_update_slice", "indexing", 2, _dslice,
   lambda p, n: f"lax.dynamic_update_slice({n[0]}, jnp.resize({n[1]}, {p['sizes']}), "
   f"{_starts_src(p, '')})", bound="sum")  # fmt: skip
op("dynamic_update_slice_dyn", "indexing", 2, _dslice_dyn,
   lambda p, n: f"lax.dynamic_update_slice({n[0]}, jnp.resize({n[1]}, {p['sizes']}), "
   f"{_starts_src(p, n[1])})", tagger=_mixed, bound="sum")  # fmt: skip


def _lit(x: np.ndarray) -> str:
    from .program import literal

    return literal(x)
