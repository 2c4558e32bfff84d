"""Elementwise, zero-derivative and structural ops."""

from __future__ import annotations

import math

import numpy as np

from . import draw
from .catalog import op

UNARY = {
    "sin": ("jnp.sin({0})", 1.0),
    "tanh": ("jnp.tanh({0})", 1.0),
    "exp": ("jnp.exp(jnp.tanh({0}))", 3.0),
    "log1p_sq": ("jnp.log1p({0} * {0})", None),
    "sqrt": ("jnp.sqrt({0} * {0} + 1.0)", None),
    "abs": ("jnp.abs({0})", None),
    "square": ("jnp.square({0})", "prod2"),
    "cube": ("{0} ** 3", "prod3"),
    "sigmoid": ("jax.nn.sigmoid({0})", 1.0),
    "erf": ("jax.scipy.special.erf({0})", 1.0),
    "atan": ("jnp.arctan({0})", 2.0),
    "relu": ("jax.nn.relu({0})", None),
    "softplus": ("jax.nn.softplus({0})", None),
    "expm1": ("jnp.expm1(jnp.tanh({0}))", 2.0),
    "neg": ("-{0}", None),
    "log_abs": ("jnp.log(1.0 + jnp.abs({0}))", None),
    "copy": ("jnp.asarray({0}, dtype=jnp.float32)", None),
}
ZERO = {
    "floor": "jnp.floor({0})",
    "ceil": "jnp.ceil({0})",
    "round": "jnp.round({0})",
    "sign": "jnp.sign({0})",
    "gt0": "({0} > 0).astype(jnp.float32)",
    "int_mod": "((({0} * 3.0).astype(jnp.int32)) % 4).astype(jnp.float32)",
    "int_shift": "(jnp.abs({0} * 4.0).astype(jnp.int32) >> 1).astype(jnp.float32)",
    "stop_gradient": "lax.stop_gradient({0})",
    "floor_mul": "jnp.floor({0}) * {0}",
    "sign_mul": "jnp.sign({0}) * {0}",
    "pow0": "{0} ** 0",
    "isfinite": "jnp.where(jnp.isfinite({0}), {0}, 0.0)",
    "not": "(~({0} > 0.5)).astype(jnp.float32) * {0}",
}
BINARY = {
    "add": ("{0} + {1}", "sum"),
    "sub": ("{0} - {1}", "sum"),
    "mul": ("{0} * {1}", "prod"),
    "div": ("{0} / (1.0 + {1} * {1})", None),
    "max": ("jnp.maximum({0}, {1})", None),
    "min": ("jnp.minimum({0}, {1})", None),
    "pow": ("jnp.power(1.0 + {0} * {0}, jnp.tanh({1}))", "prod"),
    "atan2": ("jnp.arctan2({0}, {1})", 4.0),
    "rem": ("jnp.remainder({0}, 1.0 + {1} * {1})", None),
    "clip": ("jnp.clip({0}, -0.5, {1})", None),
    "where": ("jnp.where({0} > {1}, {0}, 2.0 * {1})", "sum"),
    "lt": ("({0} < {1}).astype(jnp.float32)", 1.0),
    "logaddexp": ("jnp.logaddexp({0}, {1})", "sum"),
}


def _pick(table):
    return lambda rng, shapes: {"fn": str(rng.choice(sorted(table)))}


def _table_render(table, index=None):
    def render(p, names):
        entry = table[p["fn"]]
        return (entry if index is None else entry[index]).format(*names)

    return render


def _table_bound(table):
    def bound(p, bs, sizes):
        kind = table[p["fn"]][1]
        if kind is None:
            return max(bs)
        if isinstance(kind, float):
            return kind
        return {"prod2": bs[0] ** 2, "prod3": bs[0] ** 3, "sum": sum(bs),
                "prod": float(np.prod(bs))}[kind]  # fmt: skip

    return bound


# -- elementwise ------------------------------------------------------------------
op("unary", "elementwise", 1, _pick(UNARY), _table_render(UNARY, 0), bound=_table_bound(UNARY))
op(
    "zero_derivative", "zero_derivative", 1, _pick(ZERO), _table_render(ZERO),
    tagger=lambda p: [p["fn"]],
)  # fmt: skip


def _binary_gen(rng, shapes):
    try:
        out = np.broadcast_shapes(shapes[0], shapes[1])
    except ValueError:
        return None
    if math.prod(out) > draw.MAX_SIZE:
        return None
    return {"fn": str(rng.choice(sorted(BINARY)))}


op("binary", "elementwise", 2, _binary_gen, _table_render(BINARY, 0), bound=_table_bound(BINARY))


def _const_shape(rng, shape):
    choices = [shape, ()]
    if shape:
        choices.append(shape[-1:])
    return choices[int(rng.integers(len(choices)))]


op("const_mul", "elementwise", 1, lambda rng, s: {"c": draw.const(rng, _const_shape(rng, s[0]))},
   "{0} * {c}", bound="size")  # fmt: skip
op("const_div", "elementwise", 1, lambda rng, s: {"c": draw.const(rng, _const_shape(rng, s[0]))},
   "{c} / (1.0 + {0} * {0})", bound=2.0)  # fmt: skip
op("const_where", "elementwise", 1, lambda rng, s: {"m": draw.mask(rng, s[0])},
   "jnp.where({m}, {0}, 0.5)")  # fmt: skip
op("static_scale", "elementwise", 1, lambda rng, s: {}, "{0} * scale", needs_scale=True,
   bound="size")  # fmt: skip


# -- structural -------------------------------------------------------------------
def _reshape(rng, shapes):
    n = math.prod(shapes[0])
    return {"shape": draw.small_shape(rng, n)} if n > 1 else {"shape": (1,) * int(rng.integers(3))}


def _transpose(rng, shapes):
    s = shapes[0]
    if len(s) < 2:
        return None
    return {"perm": tuple(int(i) for i in rng.permutation(len(s)))}


def _broadcast(rng, shapes):
    s = shapes[0]
    k = int(rng.integers(1, 4))
    if math.prod(s) * k > draw.MAX_SIZE:
        return None
    if 1 in s and rng.random() < 0.5:
        i = s.index(1)
        return {"shape": s[:i] + (k,) + s[i + 1 :]}
    return {"shape": (k, *s)}


def _slice(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    a = draw.axis(rng, s)
    start = int(rng.integers(0, s[a]))
    stop = int(rng.integers(start + 1, s[a] + 1))
    step = int(rng.integers(1, 3))
    idx = ", ".join([":"] * a + [f"{start}:{stop}:{step}"])
    return {"idx": idx}


def _pad(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    cfg = []
    for n in s:
        lo, hi, interior = (int(rng.integers(-2, 3)), int(rng.integers(-2, 3)),
                            int(rng.integers(0, 3)))  # fmt: skip
        full = n + max(n - 1, 0) * interior
        if full + lo + hi < 1:
            lo, hi = 0, 0
        cfg.append((lo, hi, interior))
    out = [n + max(n - 1, 0) * i + lo + hi for n, (lo, hi, i) in zip(s, cfg)]
    if math.prod(out) > draw.MAX_SIZE:
        return None
    return {"cfg": tuple(cfg)}


def _concat(rng, shapes):
    a, b = shapes
    if len(a) != len(b) or not a:
        return None
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) > 1 or math.prod(a) + math.prod(b) > draw.MAX_SIZE:
        return None
    return {"axis": diff[0] if diff else int(rng.integers(len(a)))}


def _same_shape(rng, shapes):
    if shapes[0] != shapes[1] or 2 * math.prod(shapes[0]) > draw.MAX_SIZE:
        return None
    return {"axis": int(rng.integers(len(shapes[0]) + 1))}


def _squeeze(rng, shapes):
    ones = [i for i, n in enumerate(shapes[0]) if n == 1]
    return {"axis": int(rng.choice(ones))} if ones else None


def _tile(rng, shapes):
    s = shapes[0]
    reps = tuple(int(rng.integers(1, 3)) for _ in range(max(len(s), 1)))
    if math.prod(s) * math.prod(reps) > draw.MAX_SIZE:
        return None
    return {"reps": reps}


def _with_axis(min_rank=1):
    def gen(rng, shapes):
        s = shapes[0]
        if len(s) < min_rank:
            return None
        return {"axis": draw.axis(rng, s), "k": int(rng.integers(-3, 4))}

    return gen


op("reshape", "structural", 1, _reshape, "jnp.reshape({0}, {shape})")
op("transpose", "structural", 1, _transpose, "jnp.transpose({0}, {perm})")
op("broadcast", "structural", 1, _broadcast, "jnp.broadcast_to({0}, {shape})")
op("slice", "structural", 1, _slice, "{0}[{idx}]")
op("pad", "structural", 1, _pad, "lax.pad({0}, jnp.float32(0.0), {cfg})")
op("pad_value", "structural", 2, _pad, "lax.pad({0}, jnp.tanh(jnp.sum({1})), {cfg})")
op("concatenate", "structural", 2, _concat, "jnp.concatenate([{0}, {1}], axis={axis})",
   bound="sum")  # fmt: skip
op("stack", "structural", 2, _same_shape, "jnp.stack([{0}, {1}], axis={axis})", bound="sum")
op("rev", "structural", 1, _with_axis(), "jnp.flip({0}, axis={axis})")
op("squeeze", "structural", 1, _squeeze, "jnp.squeeze({0}, axis={axis})")
op("expand_dims", "structural", 1,
   lambda rng, s: {"axis": int(rng.integers(len(s[0]) + 1))}
   if len(s[0]) < 4 else None, "jnp.expand_dims({0}, {axis})")  # fmt: skip
op("tile", "structural", 1, _tile, "jnp.tile({0}, {reps})")
op("roll", "structural", 1, _with_axis(), "jnp.roll({0}, {k}, axis={axis})")
op("triu", "structural", 1, lambda rng, s: {"k": int(rng.integers(-1, 2))}
   if len(s[0]) >= 2 else None, "jnp.triu({0}, {k})")  # fmt: skip
