"""Hypothesis strategies for soundness tests of sparsity detection.

A *program* is a chain of steps drawn from a small op vocabulary. Each step maps
the current array ``x`` (and the original input ``x0``) to a new array; shapes
are tracked while drawing so that every step is valid. Every step has a
readable name close to the code it runs, so that a shrunk failing program can
be reproduced by hand.

Constants (matrices, kernels, indices, masks) are drawn by hypothesis itself
from small pools that contain exact zeros, repeats and out-of-range values;
constants that a derivative divides by or raises to also hold infinities and NaN.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.scipy as jsp
import numpy as np
from hypothesis import strategies as st
from jax import lax

__all__ = [
    "Step",
    "Program",
    "programs",
    "checked_shape",
    "input_shapes",
    "FAMILIES",
    "FWD",
    "REV",
    "BOTH",
    "round_ste",
    "mix_jvp",
    "flip_vjp",
]

#: largest number of elements an intermediate value may have
MAX_SIZE = 48
MAX_RANK = 3

FWD = frozenset({"fwd"})
REV = frozenset({"rev"})
BOTH = FWD | REV

#: values of drawn constants: exact zeros on purpose
VALS = (0.0, 1.0, -1.0, 2.0, 0.0, 0.5, -1.5)
#: values of constants that a derivative divides by or raises to: signed zeros,
#: infinities and NaN as well (``x / 0`` has an infinite derivative)
SPECIAL_VALS = (0.0, -0.0, 1.0, -2.0, 0.5, np.inf, -np.inf, np.nan)


# ----------------------------------------------------------------------------
# Programs


@dataclasses.dataclass(frozen=True)
class Step:
    """One op: ``fn(x, x0)`` -> new ``x``; ``modes`` are the AD modes it supports."""

    name: str
    fn: Callable
    modes: frozenset = BOTH


@dataclasses.dataclass(frozen=True)
class Program:
    """A chain of steps applied to the input ``x0``; ``shapes`` are their output shapes."""

    in_shape: tuple[int, ...]
    steps: tuple[Step, ...]
    shapes: tuple[tuple[int, ...], ...]

    def __call__(self, x0):
        x = x0
        for s in self.steps:
            x = s.fn(x, x0)
        return x

    @property
    def modes(self) -> frozenset:
        m = BOTH
        for s in self.steps:
            m = m & s.modes
        return m

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shapes[-1] if self.shapes else self.in_shape

    def describe(self) -> str:
        lines = [f"x0: f64{list(self.in_shape)}", "x = x0"]
        for s, shape in zip(self.steps, self.shapes, strict=True):
            lines.append(f"x = {s.name}    # -> {list(shape)}")
        lines.append("return x")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "Program:\n    " + self.describe().replace("\n", "\n    ")

    def _repr_pretty_(self, printer, cycle) -> None:  # used by hypothesis' reports
        printer.text(repr(self))


def _size(shape) -> int:
    return math.prod(shape)


def _spec(shape):
    return jax.ShapeDtypeStruct(tuple(shape), jnp.float64)


def checked_shape(step: Step | None, shape, in_shape):
    """The output shape of ``step``, or None if it is invalid or too large."""
    if step is None:
        return None
    try:
        with jax.enable_x64(True):
            out = jax.eval_shape(step.fn, _spec(shape), _spec(in_shape))
    except Exception:  # noqa: BLE001  (any tracing error means "not applicable")
        return None
    if not isinstance(out, jax.ShapeDtypeStruct) or out.dtype != jnp.float64:
        return None
    out_shape = tuple(int(d) for d in out.shape)
    if len(out_shape) > MAX_RANK or _size(out_shape) > MAX_SIZE:
        return None
    return out_shape


# ----------------------------------------------------------------------------
# Formatting and small helpers


def _num(v) -> str:
    return f"{float(v):g}"


def _fmt(a) -> str:
    a = np.asarray(a)
    if a.ndim == 0:
        return _num(a) if a.dtype.kind == "f" else str(a.item())
    return "[" + ", ".join(_fmt(r) for r in a) + "]"


def _const(draw, shape, pool=VALS) -> np.ndarray:
    k = _size(shape)
    vals = draw(st.lists(st.sampled_from(pool), min_size=k, max_size=k))
    return np.asarray(vals, dtype=np.float64).reshape(shape)


def _ints(draw, lo, hi, min_size=1, max_size=6) -> np.ndarray:
    vals = draw(st.lists(st.integers(lo, hi), min_size=min_size, max_size=max_size))
    return np.asarray(vals, dtype=np.int32)


def _at_axis(axis: int, item: str) -> str:
    return "x[" + ":, " * axis + item + "]"


def resize(x0, shape):
    """``x0`` raveled, tiled and cut to ``shape`` (zeros if ``x0`` is empty)."""
    size = _size(shape)
    flat = jnp.ravel(x0)
    if size == 0 or flat.size == 0:
        return jnp.zeros(shape, x0.dtype)
    reps = -(-size // flat.size)
    return jnp.tile(flat, reps)[:size].reshape(shape)


def _partner(draw, shape, in_shape):
    """A second operand of the shape of ``x``: ``(name, fn(x, x0))``."""
    kinds = ["x", "flip(x)"]
    if _size(shape) > 1:
        kinds.append("roll")
    if _size(in_shape) > 0 or _size(shape) == 0:
        kinds.append("x0")
    kind = draw(st.sampled_from(kinds))
    if kind == "x":
        return "x", lambda x, x0: x
    if kind == "flip(x)":
        return "flip(x)", lambda x, x0: jnp.flip(x)
    if kind == "roll":
        k = draw(st.integers(1, _size(shape) - 1))
        return f"roll(x, {k})", lambda x, x0: jnp.roll(x, k)
    if tuple(shape) == tuple(in_shape):
        return "x0", lambda x, x0: x0
    return f"resize(x0, {tuple(shape)})", lambda x, x0: resize(x0, shape)


# ----------------------------------------------------------------------------
# Custom derivative rules


@jax.custom_jvp
def round_ste(x):
    """Straight-through rounding: primal ``round``, identity JVP."""
    return jnp.round(x)


@round_ste.defjvp
def _round_ste_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.round(x), t


@jax.custom_jvp
def mix_jvp(x):
    """Primal ``2*x``; the JVP rule also mixes each tangent with its neighbour."""
    return 2.0 * x


@mix_jvp.defjvp
def _mix_jvp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    mixed = jnp.roll(t, 1) if t.size else t
    return 2.0 * x, 2.0 * t + jnp.cos(x) * mixed


@jax.custom_vjp
def flip_vjp(x):
    """Primal ``sin``; the backward rule also sends each cotangent to the mirrored input."""
    return jnp.sin(x)


def _flip_vjp_fwd(x):
    return jnp.sin(x), x


def _flip_vjp_bwd(x, ct):
    return (ct * jnp.cos(x) + 0.5 * jnp.flip(ct) * x,)


flip_vjp.defvjp(_flip_vjp_fwd, _flip_vjp_bwd)


# ----------------------------------------------------------------------------
# Families. Each builder is ``(draw, shape, in_shape) -> Step | None``.

UNARY: list[tuple[str, Callable, frozenset]] = [
    ("sin(x)", jnp.sin, BOTH),
    ("exp(x)", jnp.exp, BOTH),
    ("tanh(x)", jnp.tanh, BOTH),
    ("square(x)", jnp.square, BOTH),
    ("x**3", lambda x: x**3, BOTH),
    ("abs(x)", jnp.abs, BOTH),
    ("log1p(x**2)", lambda x: jnp.log1p(x**2), BOTH),
    ("sqrt(1 + x**2)", lambda x: jnp.sqrt(1 + x**2), BOTH),
    ("floor(x)", jnp.floor, BOTH),
    ("round(x)", jnp.round, BOTH),
    ("sign(x) * x", lambda x: jnp.sign(x) * x, BOTH),
    ("maximum(x, 0)", lambda x: jnp.maximum(x, 0), BOTH),
    ("where(x > 0, x, 2 * x)", lambda x: jnp.where(x > 0, x, 2 * x), BOTH),
    ("1 / (1 + x**2)", lambda x: 1 / (1 + x**2), BOTH),
    ("erf(x)", jax.scipy.special.erf, BOTH),
    ("sigmoid(x)", jax.nn.sigmoid, BOTH),
    ("relu(x)", jax.nn.relu, BOTH),
    ("softplus(x)", jax.nn.softplus, BOTH),
    ("gelu(x)", jax.nn.gelu, BOTH),
    ("sinc(x)", jnp.sinc, BOTH),
    ("clip(x, -1, 1)", lambda x: jnp.clip(x, -1, 1), BOTH),
    ("stop_gradient(x)", lax.stop_gradient, BOTH),
    ("x * 0", lambda x: x * 0, BOTH),
    ("-x", lambda x: -x, BOTH),
    ("expm1(x)", jnp.expm1, BOTH),
    ("arctan(x)", jnp.arctan, BOTH),
    ("x.astype(f32).astype(f64)", lambda x: x.astype(jnp.float32).astype(x.dtype), BOTH),
    (
        "(3 * x).astype(int32).astype(f64)",
        lambda x: (3 * x).astype(jnp.int32).astype(x.dtype),
        BOTH,
    ),
    (
        "interp(x, [-1, 0, 0.5, 2], [0, 2, -1, 1])",
        lambda x: jnp.interp(x, jnp.array([-1.0, 0.0, 0.5, 2.0]), jnp.array([0.0, 2.0, -1, 1])),
        BOTH,
    ),
    ("real((1 + 2j) * x)", lambda x: jnp.real((1 + 2j) * x), BOTH),
    ("imag(exp(1j * x))", lambda x: jnp.imag(jnp.exp(1j * x)), BOTH),
    ("abs(x + 1j)", lambda x: jnp.abs(x + 1j), BOTH),
    ("remainder(x, 1.5)", lambda x: jnp.remainder(x, 1.5), BOTH),
    ("where(isfinite(x), x, 0)", lambda x: jnp.where(jnp.isfinite(x), x, 0.0), BOTH),
    ("round_ste(x)  [custom_jvp: identity JVP]", round_ste, BOTH),
    ("mix_jvp(x)  [custom_jvp: 2t + cos(x) roll(t, 1)]", mix_jvp, BOTH),
    ("flip_vjp(x)  [custom_vjp: ct cos(x) + 0.5 flip(ct) x]", flip_vjp, REV),
]


def fam_unary(draw, shape, in_shape):
    name, f, modes = draw(st.sampled_from(UNARY))
    return Step(name, lambda x, x0: f(x), modes)


BINARY: list[tuple[str, Callable]] = [
    ("{a} + {b}", lambda a, b: a + b),
    ("{a} * {b}", lambda a, b: a * b),
    ("{a} - {b}", lambda a, b: a - b),
    ("{a} / (1 + {b}**2)", lambda a, b: a / (1 + b**2)),
    ("maximum({a}, {b})", jnp.maximum),
    ("minimum({a}, {b})", jnp.minimum),
    ("arctan2({a}, {b})", jnp.arctan2),
    ("where({b} > 0, {a}, {b})", lambda a, b: jnp.where(b > 0, a, b)),
    ("where({a} > {b}, {a}, {b})", lambda a, b: jnp.where(a > b, a, b)),
    ("(1 + {a}**2) ** tanh({b})", lambda a, b: (1 + a**2) ** jnp.tanh(b)),
    ("logaddexp({a}, {b})", jnp.logaddexp),
    ("copysign({a}, {b})", jnp.copysign),
    ("remainder({a}, 1 + {b}**2)", lambda a, b: jnp.remainder(a, 1 + b**2)),
    ("{a} * stop_gradient({b})", lambda a, b: a * lax.stop_gradient(b)),
    ("clip({a}, -1, {b})", lambda a, b: jnp.clip(a, -1.0, b)),
    ("lax.clamp(-abs({b}), {a}, abs({b}))", lambda a, b: lax.clamp(-jnp.abs(b), a, jnp.abs(b))),
    ("interp({a}, sort({b}), cos({b}))", lambda a, b: jnp.interp(a, jnp.sort(b), jnp.cos(b))),
]


def fam_binary(draw, shape, in_shape):
    template, f = draw(st.sampled_from(BINARY))
    pname, p = _partner(draw, shape, in_shape)
    return Step(template.format(a="x", b=pname), lambda x, x0: f(x, p(x, x0)))


def fam_const(draw, shape, in_shape):
    """Elementwise with a constant array (exact zeros in it) or a constant mask."""
    cshape = tuple(shape)
    if shape and draw(st.booleans()):
        cshape = tuple(shape[-1:])  # broadcast along the last axis
    c = _const(draw, cshape)
    cs = _fmt(c)
    kind = draw(st.sampled_from(["mul", "add", "mul_sin", "where", "div", "mask"]))
    if kind == "mul":
        return Step(f"x * {cs}", lambda x, x0: x * c)
    if kind == "add":
        return Step(f"x + {cs}", lambda x, x0: x + c)
    if kind == "mul_sin":
        return Step(f"{cs} * sin(x)", lambda x, x0: c * jnp.sin(x))
    if kind == "where":
        return Step(f"where({cs} != 0, x, 1.0)", lambda x, x0: jnp.where(c != 0, x, 1.0))
    if kind == "div":
        return Step(f"{cs} / (1 + x**2)", lambda x, x0: c / (1 + x**2))
    pname, p = _partner(draw, shape, in_shape)
    return Step(f"where({cs} > 0, x, {pname})", lambda x, x0: jnp.where(c > 0, x, p(x, x0)))


#: binary operations with a known operand on either side: (template, fn(a, b))
SPECIAL_BINARY: list[tuple[str, Callable]] = [
    ("{a} * {b}", lax.mul),
    ("{a} / {b}", lax.div),
    ("lax.pow({a}, {b})", lax.pow),
    ("arctan2({a}, {b})", lax.atan2),
    ("lax.rem({a}, {b})", lax.rem),
]


def fam_special_const(draw, shape, in_shape):
    """``x`` and a constant holding zeros, infinities and NaN, in either position."""
    cshape = tuple(shape)
    if shape and draw(st.booleans()):
        cshape = tuple(shape[-1:])  # broadcast along the last axis
    c = _const(draw, cshape, pool=SPECIAL_VALS)
    cs = _fmt(c)
    template, f = draw(st.sampled_from(SPECIAL_BINARY))
    if draw(st.booleans()):
        return Step(template.format(a="x", b=cs), lambda x, x0: f(x, jnp.broadcast_to(c, x.shape)))
    return Step(template.format(a=cs, b="x"), lambda x, x0: f(jnp.broadcast_to(c, x.shape), x))


PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "maximum", "mean")


def fam_slicing(draw, shape, in_shape):
    rank = len(shape)
    if rank == 0:
        k = draw(st.integers(0, 4))
        return Step(f"broadcast_to(x, ({k},))", lambda x, x0: jnp.broadcast_to(x, (k,)))
    axis = draw(st.integers(0, rank - 1))
    dim = shape[axis]
    kind = draw(
        st.sampled_from(
            ["slice", "flip", "roll", "roll_flat", "pad", "lax_pad", "concat", "tile",
             "repeat", "newaxis", "broadcast", "squeeze", "split", "diag", "triu"]
        )
    )  # fmt: skip
    pre = (slice(None),) * axis
    if kind == "slice":
        start = draw(st.one_of(st.none(), st.integers(-dim - 1, dim + 1)))
        stop = draw(st.one_of(st.none(), st.integers(-dim - 1, dim + 1)))
        step = draw(st.sampled_from([None, 2, 3, -1, -2]))
        sl = slice(start, stop, step)
        text = ":".join("" if v is None else str(v) for v in (start, stop)) + (
            "" if step is None else f":{step}"
        )
        return Step(_at_axis(axis, text), lambda x, x0: x[pre + (sl,)])
    if kind == "flip":
        return Step(f"flip(x, axis={axis})", lambda x, x0: jnp.flip(x, axis))
    if kind == "roll":
        k = draw(st.integers(-3, 5))
        return Step(f"roll(x, {k}, axis={axis})", lambda x, x0: jnp.roll(x, k, axis))
    if kind == "roll_flat":
        k = draw(st.integers(-3, 5))
        return Step(f"roll(x, {k})", lambda x, x0: jnp.roll(x, k))
    if kind == "pad":
        lo, hi = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        mode = draw(st.sampled_from(PAD_MODES))
        widths = [(0, 0)] * rank
        widths[axis] = (lo, hi)
        kw = {"constant_values": 1.5} if mode == "constant" else {}
        extra = ", constant_values=1.5" if kw else ""
        return Step(
            f"pad(x, {widths}, mode={mode!r}{extra})",
            lambda x, x0: jnp.pad(x, widths, mode=mode, **kw),
        )
    if kind == "lax_pad":
        lo, hi = draw(st.integers(-2, 3)), draw(st.integers(-2, 3))
        interior = draw(st.integers(0, 2))
        cfg = [(0, 0, 0)] * rank
        cfg[axis] = (lo, hi, interior)
        return Step(f"lax.pad(x, 0.5, {cfg})", lambda x, x0: lax.pad(x, 0.5, cfg))
    if kind == "concat":
        pname, p = _partner(draw, shape, in_shape)
        return Step(
            f"concatenate([x, {pname}], axis={axis})",
            lambda x, x0: jnp.concatenate([x, p(x, x0)], axis),
        )
    if kind == "tile":
        reps = [1] * rank
        reps[axis] = draw(st.integers(1, 3))
        return Step(f"tile(x, {reps})", lambda x, x0: jnp.tile(x, reps))
    if kind == "repeat":
        k = draw(st.integers(1, 3))
        return Step(f"repeat(x, {k}, axis={axis})", lambda x, x0: jnp.repeat(x, k, axis))
    if kind == "newaxis":
        return Step(f"expand_dims(x, {axis})", lambda x, x0: jnp.expand_dims(x, axis))
    if kind == "broadcast":
        k = draw(st.integers(0, 3))
        new = (k, *shape)
        return Step(f"broadcast_to(x, {new})", lambda x, x0: jnp.broadcast_to(x, new))
    if kind == "squeeze":
        if dim != 1:
            return None
        return Step(f"squeeze(x, {axis})", lambda x, x0: jnp.squeeze(x, axis))
    if kind == "split":
        i = draw(st.integers(0, dim))
        j = draw(st.integers(0, 1))
        return Step(f"split(x, [{i}], axis={axis})[{j}]", lambda x, x0: jnp.split(x, [i], axis)[j])
    if kind == "diag":
        if rank == 1:
            return Step("diag(x)", lambda x, x0: jnp.diag(x))
        if rank == 2:
            k = draw(st.integers(-2, 2))
            return Step(f"diagonal(x, {k})", lambda x, x0: jnp.diagonal(x, k))
        return Step("trace(x)", lambda x, x0: jnp.trace(x))
    # triu / tril
    if rank < 2:
        return None
    k = draw(st.integers(-2, 2))
    if draw(st.booleans()):
        return Step(f"triu(x, {k})", lambda x, x0: jnp.triu(x, k))
    return Step(f"tril(x, {k})", lambda x, x0: jnp.tril(x, k))


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def fam_reshape(draw, shape, in_shape):
    rank, size = len(shape), _size(shape)
    kind = draw(st.sampled_from(["ravel", "to2d", "to3d", "transpose", "swapaxes", "moveaxis"]))
    if kind == "ravel":
        return Step("ravel(x)", lambda x, x0: jnp.ravel(x))
    if kind == "to2d":
        if size == 0:
            new = (draw(st.integers(0, 2)), 0)
        else:
            k = draw(st.sampled_from(_divisors(size)))
            new = (k, size // k)
        return Step(f"reshape(x, {new})", lambda x, x0: jnp.reshape(x, new))
    if kind == "to3d":
        if size == 0:
            return None
        a = draw(st.sampled_from(_divisors(size)))
        b = draw(st.sampled_from(_divisors(size // a)))
        new = (a, b, size // a // b)
        return Step(f"reshape(x, {new})", lambda x, x0: jnp.reshape(x, new))
    if rank < 2:
        return None
    if kind == "transpose":
        perm = tuple(draw(st.permutations(range(rank))))
        return Step(f"transpose(x, {perm})", lambda x, x0: jnp.transpose(x, perm))
    i, j = draw(st.integers(0, rank - 1)), draw(st.integers(0, rank - 1))
    if kind == "swapaxes":
        return Step(f"swapaxes(x, {i}, {j})", lambda x, x0: jnp.swapaxes(x, i, j))
    return Step(f"moveaxis(x, {i}, {j})", lambda x, x0: jnp.moveaxis(x, i, j))


REDUCERS: list[tuple[str, Callable]] = [
    ("sum", jnp.sum),
    ("max", jnp.max),
    ("min", jnp.min),
    ("prod", jnp.prod),
    ("mean", jnp.mean),
    ("var", jnp.var),
    ("logsumexp", jsp.special.logsumexp),
    ("norm", lambda x, axis, keepdims: jnp.linalg.norm(x, axis=axis, keepdims=keepdims)),
]

CUMULATIVE: list[tuple[str, Callable]] = [
    ("lax.cumsum", lax.cumsum),
    ("lax.cumprod", lax.cumprod),
    ("lax.cummax", lax.cummax),
    ("lax.cummin", lax.cummin),
    ("lax.cumlogsumexp", lax.cumlogsumexp),
]


def fam_reduce(draw, shape, in_shape):
    rank = len(shape)
    kind = draw(
        st.sampled_from(
            ["reduce", "cumulative", "jnp_cumsum", "sort", "sort_by", "argsort_take", "top_k",
             "softmax", "log_softmax", "median", "argmax_scale", "payload", "sort2"]
        )
    )  # fmt: skip
    axis = draw(st.integers(0, rank - 1)) if rank else None
    if kind == "reduce":
        rname, red = draw(st.sampled_from(REDUCERS))
        ax = draw(st.sampled_from([None] + list(range(rank))))
        how = draw(st.sampled_from(["drop", "x - r", "x * r"]))
        if how == "drop":
            return Step(f"{rname}(x, axis={ax})", lambda x, x0: red(x, axis=ax, keepdims=False))
        if how == "x - r":
            return Step(
                f"x - {rname}(x, axis={ax}, keepdims=True)",
                lambda x, x0: x - red(x, axis=ax, keepdims=True),
            )
        return Step(
            f"x * {rname}(x, axis={ax}, keepdims=True)",
            lambda x, x0: x * red(x, axis=ax, keepdims=True),
        )
    if kind == "payload":
        # variadic reduce: the value of the partner where x is largest (a generic reduce)
        pname, p = _partner(draw, shape, in_shape)
        ax = tuple(range(rank)) if axis is None else (axis,)

        def pick(a, b):
            take_b = b[0] > a[0]
            return jnp.where(take_b, b[0], a[0]), jnp.where(take_b, b[1], a[1])

        return Step(
            f"lax.reduce((x, {pname}), (-inf, 0), <payload of max>, {ax})[1]",
            lambda x, x0: lax.reduce(
                (x, p(x, x0)), (jnp.array(-jnp.inf, x.dtype), jnp.array(0.0, x.dtype)), pick, ax
            )[1],
        )
    if kind == "argmax_scale":
        return Step("x * ravel(x)[argmax(x)]", lambda x, x0: x * jnp.ravel(x)[jnp.argmax(x)])
    if rank == 0:
        return None
    if kind == "cumulative":
        cname, cum = draw(st.sampled_from(CUMULATIVE))
        rev = draw(st.booleans())
        return Step(
            f"{cname}(x, axis={axis}, reverse={rev})", lambda x, x0: cum(x, axis, reverse=rev)
        )
    if kind == "jnp_cumsum":
        if draw(st.booleans()):
            return Step(f"cumsum(x, axis={axis})", lambda x, x0: jnp.cumsum(x, axis))
        return Step(f"cumprod(x, axis={axis})", lambda x, x0: jnp.cumprod(x, axis))
    if kind == "sort2":
        pname, p = _partner(draw, shape, in_shape)
        j = draw(st.integers(0, 1))
        return Step(
            f"lax.sort((round(x), {pname}), dimension={axis}, num_keys=2)[{j}]",
            lambda x, x0: lax.sort((jnp.round(x), p(x, x0)), dimension=axis, num_keys=2)[j],
        )
    if kind == "sort":
        return Step(f"sort(x, axis={axis})", lambda x, x0: jnp.sort(x, axis))
    if kind == "sort_by":
        pname, p = _partner(draw, shape, in_shape)
        return Step(
            f"lax.sort((x, {pname}), dimension={axis}, num_keys=1)[1]",
            lambda x, x0: lax.sort((x, p(x, x0)), dimension=axis, num_keys=1)[1],
        )
    if kind == "argsort_take":
        pname, p = _partner(draw, shape, in_shape)
        return Step(
            f"take_along_axis(x, argsort({pname}, axis={axis}), axis={axis})",
            lambda x, x0: jnp.take_along_axis(x, jnp.argsort(p(x, x0), axis=axis), axis),
        )
    if kind == "top_k":
        k = draw(st.integers(0, shape[-1]))
        return Step(f"lax.top_k(x, {k})[0]", lambda x, x0: lax.top_k(x, k)[0])
    if kind == "softmax":
        return Step(f"softmax(x, axis={axis})", lambda x, x0: jax.nn.softmax(x, axis=axis))
    if kind == "log_softmax":
        return Step(f"log_softmax(x, axis={axis})", lambda x, x0: jax.nn.log_softmax(x, axis=axis))
    return Step(
        f"x - median(x, axis={axis}, keepdims=True)",
        lambda x, x0: x - jnp.median(x, axis=axis, keepdims=True),
    )


def fam_matmul(draw, shape, in_shape):
    rank = len(shape)
    if rank == 1:
        (s,) = shape
        kind = draw(st.sampled_from(["A @ x", "dot", "outer", "x @ A @ x"]))
        if kind == "A @ x":
            m = draw(st.integers(1, 6))
            a = _const(draw, (m, s))
            return Step(f"{_fmt(a)} @ x", lambda x, x0: a @ x)
        pname, p = _partner(draw, shape, in_shape)
        if kind == "dot":
            return Step(f"dot(x, {pname})", lambda x, x0: jnp.dot(x, p(x, x0)))
        if kind == "outer":
            return Step(f"outer(x, {pname})", lambda x, x0: jnp.outer(x, p(x, x0)))
        a = _const(draw, (s, s))
        return Step(f"x @ {_fmt(a)} @ {pname}", lambda x, x0: x @ a @ p(x, x0))
    if rank == 2:
        r, c = shape
        kind = draw(
            st.sampled_from(["x @ B", "B @ x", "x @ x.T", "x.T @ x", "rowdot", "batched_const"])
        )
        if kind == "x @ B":
            k = draw(st.integers(1, 4))
            b = _const(draw, (c, k))
            return Step(f"x @ {_fmt(b)}", lambda x, x0: x @ b)
        if kind == "B @ x":
            k = draw(st.integers(1, 4))
            b = _const(draw, (k, r))
            return Step(f"{_fmt(b)} @ x", lambda x, x0: b @ x)
        if kind == "x @ x.T":
            return Step("x @ x.T", lambda x, x0: x @ x.T)
        if kind == "x.T @ x":
            return Step("x.T @ x", lambda x, x0: x.T @ x)
        if kind == "rowdot":
            pname, p = _partner(draw, shape, in_shape)
            return Step(
                f"einsum('ij,ij->i', x, {pname})",
                lambda x, x0: jnp.einsum("ij,ij->i", x, p(x, x0)),
            )
        k = draw(st.integers(1, 3))
        cc = _const(draw, (r, c, k))
        return Step(
            f"einsum('bi,bij->bj', x, C), C={_fmt(cc)}",
            lambda x, x0: jnp.einsum("bi,bij->bj", x, cc),
        )
    if rank == 3:
        b, i, j = shape
        kind = draw(st.sampled_from(["bij,bkj->bik", "bij,jk->bik", "matmul"]))
        if kind == "bij,bkj->bik":
            return Step(
                "einsum('bij,bkj->bik', x, x)", lambda x, x0: jnp.einsum("bij,bkj->bik", x, x)
            )
        if kind == "bij,jk->bik":
            k = draw(st.integers(1, 3))
            m = _const(draw, (j, k))
            return Step(
                f"einsum('bij,jk->bik', x, {_fmt(m)})",
                lambda x, x0: jnp.einsum("bij,jk->bik", x, m),
            )
        return Step(
            "matmul(swapaxes(x, 1, 2), x)", lambda x, x0: jnp.matmul(jnp.swapaxes(x, 1, 2), x)
        )
    return None


def fam_gather(draw, shape, in_shape):
    rank, size = len(shape), _size(shape)
    if rank == 0:
        return None
    axis = draw(st.integers(0, rank - 1))
    dim = shape[axis]
    kind = draw(
        st.sampled_from(
            ["flat", "scalar", "clip", "fill", "get_fill", "advanced", "mask", "along",
             "dyn_index"]
        )
    )  # fmt: skip
    if kind == "flat":
        if size == 0:
            return None
        idx = _ints(draw, -size, size - 1)
        return Step(f"ravel(x)[{_fmt(idx)}]", lambda x, x0: jnp.ravel(x)[idx])
    if kind == "scalar":
        i = draw(st.integers(-dim - 2, dim + 2))
        mode = draw(st.sampled_from(["clip", "fill"]))
        return Step(
            f"take(x, jnp.array({i}), axis={axis}, mode={mode!r})",
            lambda x, x0: jnp.take(x, jnp.array(i), axis=axis, mode=mode, fill_value=0.5),
        )
    if kind in ("clip", "fill"):
        idx = _ints(draw, -dim - 3, dim + 3)
        if kind == "clip":
            return Step(
                f"take(x, {_fmt(idx)}, axis={axis}, mode='clip')",
                lambda x, x0: jnp.take(x, idx, axis=axis, mode="clip"),
            )
        return Step(
            f"take(x, {_fmt(idx)}, axis={axis}, mode='fill', fill_value=0.5)",
            lambda x, x0: jnp.take(x, idx, axis=axis, mode="fill", fill_value=0.5),
        )
    if kind == "get_fill":
        idx = _ints(draw, -dim - 3, dim + 3)
        return Step(
            f"x.at[{_fmt(idx)}].get(mode='fill', fill_value=-1.0)",
            lambda x, x0: x.at[idx].get(mode="fill", fill_value=-1.0),
        )
    if kind == "advanced":
        if rank < 2 or shape[0] == 0 or shape[1] == 0:
            return None
        k = draw(st.integers(1, 5))
        rows = _ints(draw, -shape[0], shape[0] - 1, k, k)
        cols = _ints(draw, -shape[1], shape[1] - 1, k, k)
        form = draw(st.sampled_from(["pair", "cols", "rows_slice"]))
        if form == "pair":
            return Step(f"x[{_fmt(rows)}, {_fmt(cols)}]", lambda x, x0: x[rows, cols])
        if form == "cols":
            return Step(f"x[:, {_fmt(cols)}]", lambda x, x0: x[:, cols])
        return Step(f"x[{_fmt(rows)}, 1:]", lambda x, x0: x[rows, 1:])
    if kind == "mask":
        mask = np.asarray(draw(st.lists(st.booleans(), min_size=dim, max_size=dim)), bool)
        return Step(
            _at_axis(axis, f"{_fmt(mask.astype(int))}.astype(bool)"),
            lambda x, x0: x[(slice(None),) * axis + (mask,)],
        )
    if kind == "along":
        if dim == 0:
            return None
        ind = _ints(draw, 0, dim - 1, size, size).reshape(shape)
        return Step(
            f"take_along_axis(x, {_fmt(ind)}, axis={axis})",
            lambda x, x0: jnp.take_along_axis(x, ind, axis=axis),
        )
    # a data-dependent index
    if dim == 0:
        return None
    pname, p = _partner(draw, shape, in_shape)
    return Step(
        f"x[argmax(ravel({pname})) % {dim}]  (axis 0)",
        lambda x, x0: jnp.moveaxis(x, axis, 0)[jnp.argmax(jnp.ravel(p(x, x0))) % dim],
    )


def fam_scatter(draw, shape, in_shape):
    rank, size = len(shape), _size(shape)
    if rank == 0:
        return None
    dim = shape[0]
    kind = draw(st.sampled_from(["at", "at_const", "at2d", "segment_sum"]))
    if kind in ("at", "at_const"):
        op = draw(st.sampled_from(["add", "set", "mul", "min", "max"]))
        mode = draw(st.sampled_from([None, "drop", "clip"]))
        if mode is None:
            if dim == 0:
                return None
            idx = _ints(draw, -dim, dim - 1)
        else:
            idx = _ints(draw, -dim - 2, dim + 2)
        vshape = (len(idx), *shape[1:])
        mtext = "" if mode is None else f", mode={mode!r}"
        if kind == "at_const":
            if _size(shape) == 0 and op in ("set", "min", "max"):
                return None  # JAX cannot differentiate these into an empty operand
            v = draw(st.sampled_from([0.0, 1.0, -2.0]))
            return Step(
                f"x.at[{_fmt(idx)}].{op}({_num(v)}{mtext})",
                lambda x, x0: getattr(x.at[idx], op)(v, mode=mode),
            )
        if dim == 0:
            return None  # JAX cannot differentiate a scatter into an empty operand
        pname, p = _partner(draw, shape, in_shape)
        if op == "mul":
            # JAX differentiates scatter_mul w.r.t. its updates only for unique indices.
            idx = np.unique(idx % dim).astype(np.int32)
            vshape = (len(idx), *shape[1:])
            return Step(
                f"x.at[{_fmt(idx)}].mul(resize(sin({pname}), {vshape}), unique_indices=True)",
                lambda x, x0: x.at[idx].mul(resize(jnp.sin(p(x, x0)), vshape), unique_indices=True),
            )
        return Step(
            f"x.at[{_fmt(idx)}].{op}(resize(sin({pname}), {vshape}){mtext})",
            lambda x, x0: getattr(x.at[idx], op)(resize(jnp.sin(p(x, x0)), vshape), mode=mode),
        )
    if kind == "at2d":
        if rank < 2 or dim == 0 or shape[1] == 0:
            return None
        k = draw(st.integers(1, 5))
        rows = _ints(draw, -dim, dim - 1, k, k)
        cols = _ints(draw, -shape[1], shape[1] - 1, k, k)
        op = draw(st.sampled_from(["add", "set", "max"]))
        vshape = (k, *shape[2:])
        return Step(
            f"x.at[{_fmt(rows)}, {_fmt(cols)}].{op}(resize(x0, {vshape}))",
            lambda x, x0: getattr(x.at[rows, cols], op)(resize(x0, vshape)),
        )
    # segment_sum of the flat x with constant segment ids (some out of range: dropped)
    nseg = draw(st.integers(1, 5))
    ids = _ints(draw, -1, nseg, size, size)
    return Step(
        f"segment_sum(ravel(x), {_fmt(ids)}, num_segments={nseg})",
        lambda x, x0: jax.ops.segment_sum(jnp.ravel(x), ids, num_segments=nseg),
    )


def fam_dynamic(draw, shape, in_shape):
    rank = len(shape)
    if rank == 0:
        return None
    kind = draw(st.sampled_from(["slice", "update", "slice_dyn", "update_dyn"]))
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    if kind in ("slice", "update"):
        starts = tuple(draw(st.integers(-2, d + 2)) for d in shape)
        if kind == "slice":
            return Step(
                f"lax.dynamic_slice(x, {starts}, {sizes})",
                lambda x, x0: lax.dynamic_slice(x, starts, sizes),
            )
        pname, p = _partner(draw, shape, in_shape)
        return Step(
            f"lax.dynamic_update_slice(x, resize(cos({pname}), {sizes}), {starts})",
            lambda x, x0: lax.dynamic_update_slice(x, resize(jnp.cos(p(x, x0)), sizes), starts),
        )
    pname, p = _partner(draw, shape, in_shape)

    def starts_of(x, x0):
        i = jnp.argmax(jnp.ravel(p(x, x0))) if x.size else jnp.int32(0)
        return (i,) + (0,) * (rank - 1)

    if kind == "slice_dyn":
        return Step(
            f"lax.dynamic_slice(x, (argmax(ravel({pname})), 0...), {sizes})",
            lambda x, x0: lax.dynamic_slice(x, starts_of(x, x0), sizes),
        )
    return Step(
        f"lax.dynamic_update_slice(x, resize(x0**2, {sizes}), (argmax(ravel({pname})), 0...))",
        lambda x, x0: lax.dynamic_update_slice(x, resize(x0**2, sizes), starts_of(x, x0)),
    )


def fam_conv(draw, shape, in_shape):
    rank = len(shape)
    if rank == 1:
        kind = draw(st.sampled_from(["convolve", "correlate", "convolve_var"]))
        mode = draw(st.sampled_from(["full", "same", "valid"]))
        if kind == "convolve_var":
            pname, p = _partner(draw, shape, in_shape)
            return Step(
                f"convolve(x, {pname}, mode={mode!r})",
                lambda x, x0: jnp.convolve(x, p(x, x0), mode=mode),
            )
        k = _const(draw, (draw(st.integers(1, 4)),))
        fn = jnp.convolve if kind == "convolve" else jnp.correlate
        return Step(f"{kind}(x, {_fmt(k)}, mode={mode!r})", lambda x, x0: fn(x, k, mode=mode))
    if rank != 2:
        return None
    h, w = shape
    kind = draw(st.sampled_from(["conv2d", "conv2d_var", "conv1d_channels"]))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    lhs_dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    rhs_dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(
        st.sampled_from(["SAME", "VALID", ((1, 0), (0, 2)), ((0, 1), (-1, 1)), ((2, 2), (1, 1))])
    )
    # JAX cannot transpose a convolution with negative padding or an empty input:
    # forward mode only.
    modes = FWD if "-" in str(padding) or _size(shape) == 0 else BOTH
    if kind == "conv1d_channels":
        o = draw(st.integers(1, 3))
        kw = draw(st.integers(1, 3))
        kern = _const(draw, (o, h, kw))
        pad1 = padding if isinstance(padding, str) else padding[1:]
        return Step(
            f"lax.conv_general_dilated(x[None], {_fmt(kern)}, ({strides[1]},), {pad1!r}, "
            f"lhs_dilation=({lhs_dil[1]},), rhs_dilation=({rhs_dil[1]},))[0]",
            lambda x, x0: lax.conv_general_dilated(
                x[None], kern, (strides[1],), pad1,
                lhs_dilation=(lhs_dil[1],), rhs_dilation=(rhs_dil[1],),
            )[0],
            modes,
        )  # fmt: skip
    kh, kwid = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if kind == "conv2d_var" and _size(shape) == 0:
        return None  # the kernel x[:kh, :kw] would be empty
    if isinstance(padding, str) and padding == "SAME" and lhs_dil != (1, 1):
        lhs_dil = (1, 1)  # SAME padding is not defined with lhs dilation
    args = f"{strides}, {padding!r}, lhs_dilation={lhs_dil}, rhs_dilation={rhs_dil})[0, 0]"
    if kind == "conv2d":
        kern = _const(draw, (kh, kwid))
        return Step(
            f"lax.conv_general_dilated(x[None, None], {_fmt(kern)}[None, None], " + args,
            lambda x, x0: lax.conv_general_dilated(
                x[None, None], kern[None, None], strides, padding,
                lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
            )[0, 0],
            modes,
        )  # fmt: skip
    return Step(
        f"lax.conv_general_dilated(x[None, None], x[None, None, :{kh}, :{kwid}], " + args,
        lambda x, x0: lax.conv_general_dilated(
            x[None, None], x[None, None, :kh, :kwid], strides, padding,
            lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
        )[0, 0],
        modes,
    )  # fmt: skip


def fam_window(draw, shape, in_shape):
    rank = len(shape)
    if rank == 0:
        return None
    dims = tuple(draw(st.integers(1, 3)) for _ in shape)
    strides = tuple(draw(st.integers(1, 2)) for _ in shape)
    padding = draw(st.sampled_from(["VALID", "SAME"]))
    kind = draw(st.sampled_from(["max", "sum", "min"]))
    init, op = {
        "max": (-jnp.inf, lax.max),
        "sum": (0.0, lax.add),
        "min": (jnp.inf, lax.min),
    }[kind]
    return Step(
        f"lax.reduce_window(x, {init}, lax.{op.__name__}, {dims}, {strides}, {padding!r})",
        lambda x, x0: lax.reduce_window(x, init, op, dims, strides, padding),
    )


def fam_linalg(draw, shape, in_shape):
    rank = len(shape)
    kind = draw(
        st.sampled_from(["solve_const", "solve_triangular", "fft", "inv", "det", "cholesky",
                         "solve_var", "eigvalsh"])
    )  # fmt: skip
    if rank == 1 and shape[0] > 0:
        s = shape[0]
        if kind == "solve_const":
            a = 3.0 * np.eye(s) + 0.5 * _const(draw, (s, s))
            return Step(f"solve({_fmt(a)}, x)", lambda x, x0: jnp.linalg.solve(a, x))
        if kind == "solve_triangular":
            lower = draw(st.booleans())
            tri = np.tril if lower else np.triu
            a = tri(2.0 * np.eye(s) + 0.5 * _const(draw, (s, s)))
            return Step(
                f"solve_triangular({_fmt(a)}, x, lower={lower})",
                lambda x, x0: jsp.linalg.solve_triangular(a, x, lower=lower),
            )
        if kind == "fft":
            return Step(
                "real(fft(x)) + imag(fft(x))",
                lambda x, x0: jnp.real(jnp.fft.fft(x)) + jnp.imag(jnp.fft.fft(x)),
            )
        return None
    if rank != 2 or shape[0] != shape[1] or shape[0] == 0:
        return None
    s = shape[0]
    eye = np.eye(s)
    if kind == "inv":
        return Step("inv(x + 4 I)", lambda x, x0: jnp.linalg.inv(x + 4 * eye))
    if kind == "det":
        return Step("x * det(x + 4 I)", lambda x, x0: x * jnp.linalg.det(x + 4 * eye))
    if kind == "cholesky":
        return Step("cholesky(x @ x.T + I)", lambda x, x0: jnp.linalg.cholesky(x @ x.T + eye))
    if kind == "solve_var":
        pname, p = _partner(draw, shape, in_shape)
        return Step(
            f"solve(x + 4 I, {pname})", lambda x, x0: jnp.linalg.solve(x + 4 * eye, p(x, x0))
        )
    if kind == "eigvalsh":
        return Step("eigvalsh(x + x.T)", lambda x, x0: jnp.linalg.eigvalsh(x + x.T))
    return None


#: families whose steps may be wrapped by, or nested in, control flow
BASIC = {
    "unary": fam_unary,
    "binary": fam_binary,
    "const": fam_const,
    "special_const": fam_special_const,
    "slicing": fam_slicing,
    "reshape": fam_reshape,
    "reduce": fam_reduce,
    "matmul": fam_matmul,
    "gather": fam_gather,
    "scatter": fam_scatter,
    "dynamic": fam_dynamic,
    "conv": fam_conv,
    "window": fam_window,
    "linalg": fam_linalg,
}

_PRESERVING = ("unary", "binary", "const")


def _inner(draw, shape, in_shape, families, same_shape: bool):
    """A valid step from ``families`` (output shape equal to ``shape`` if asked)."""
    for _ in range(4):
        fam = draw(st.sampled_from(families))
        step = BASIC[fam](draw, shape, in_shape)
        out = checked_shape(step, shape, in_shape)
        if out is not None and (not same_shape or out == tuple(shape)):
            return step
    return None


def fam_control(draw, shape, in_shape):
    kind = draw(
        st.sampled_from(["jit", "checkpoint", "cond", "fori", "fori_index", "scan", "while",
                         "while_data", "vmap", "switch", "fori_mask", "while_index",
                         "scan_const"])
    )  # fmt: skip
    if kind == "vmap":
        # the inner step maps each row of x (x0 stays whole): batched primitives
        if len(shape) == 0:
            return None
        row = tuple(shape[1:])
        step = _inner(draw, row, in_shape, tuple(BASIC), same_shape=False)
        if step is None:
            return None
        return Step(
            f"vmap(lambda x: {step.name})(x)",
            lambda x, x0: jax.vmap(lambda r: step.fn(r, x0))(x),
            step.modes,
        )
    if kind == "switch":
        branches = [_inner(draw, shape, in_shape, _PRESERVING, same_shape=True) for _ in range(3)]
        if any(b is None for b in branches):
            return None
        names = ", ".join(f"lambda: {b.name}" for b in branches)
        return Step(
            f"lax.switch(argmax(ravel(x)) % 3, [{names}])",
            lambda x, x0: lax.switch(
                jnp.argmax(jnp.ravel(x)) % 3 if x.size else 0,
                [lambda b=b: b.fn(x, x0) for b in branches],
            ),
            branches[0].modes & branches[1].modes & branches[2].modes,
        )
    if kind in ("jit", "checkpoint"):
        step = _inner(draw, shape, in_shape, tuple(BASIC), same_shape=False)
        if step is None:
            return None
        if kind == "jit":
            return Step(f"jit({step.name})", jax.jit(step.fn), step.modes)
        return Step(f"checkpoint({step.name})", jax.checkpoint(step.fn), step.modes)
    if kind == "cond":
        s1 = _inner(draw, shape, in_shape, _PRESERVING, same_shape=True)
        s2 = _inner(draw, shape, in_shape, _PRESERVING, same_shape=True)
        if s1 is None or s2 is None:
            return None
        return Step(
            f"lax.cond(sum(x) > 0, lambda: {s1.name}, lambda: {s2.name})",
            lambda x, x0: lax.cond(jnp.sum(x) > 0, lambda: s1.fn(x, x0), lambda: s2.fn(x, x0)),
            s1.modes & s2.modes,
        )
    if kind == "fori":
        body = _inner(draw, shape, in_shape, _PRESERVING, same_shape=True)
        if body is None:
            return None
        k = draw(st.integers(0, 3))
        return Step(
            f"lax.fori_loop(0, {k}, lambda i, x: {body.name}, x)",
            lambda x, x0: lax.fori_loop(0, k, lambda i, c: body.fn(c, x0), x),
            body.modes,
        )
    if kind == "fori_index":
        if _size(shape) == 0:
            return None
        n = _size(shape)
        k = draw(st.integers(1, 4))

        def body(i, c):
            flat = jnp.ravel(c)
            flat = flat.at[i % n].add(jnp.sin(flat[(i + 1) % n]))
            return flat.reshape(c.shape)

        return Step(
            f"lax.fori_loop(0, {k}, lambda i, x: x.flat[i % {n}] += sin(x.flat[(i+1) % {n}]))",
            lambda x, x0: lax.fori_loop(0, k, body, x),
        )
    if kind in ("fori_mask", "while_index"):
        # known values that change with the iteration: a mask, a slice position
        n = _size(shape)
        if n == 0:
            return None
        k = draw(st.integers(1, 6))
        r = draw(st.integers(1, 3))
        if kind == "fori_mask":

            def body(i, c):
                flat = jnp.ravel(c)
                new = jnp.where(jnp.arange(n) == i % n, flat * jnp.roll(flat, r), flat)
                return new.reshape(c.shape)

            return Step(
                f"lax.fori_loop(0, {k}, lambda i, x: where(arange({n}) == i % {n}, "
                f"x * roll(x, {r}), x), ravel(x)).reshape(x.shape)",
                lambda x, x0: lax.fori_loop(0, k, body, x),
            )

        def wbody(s):
            i, c = s
            flat = jnp.ravel(c)
            src = lax.dynamic_slice(flat, ((i + r) % n,), (1,))
            flat = lax.dynamic_update_slice(flat, jnp.sin(src) + flat[i % n], (i % n,))
            return i + 1, flat.reshape(c.shape)

        return Step(
            f"while i < {k}: x.flat[i % {n}] = sin(x.flat[(i + {r}) % {n}]) + x.flat[i % {n}] "
            "(via dynamic_slice / dynamic_update_slice)",
            lambda x, x0: lax.while_loop(lambda s: s[0] < k, wbody, (0, x))[1],
            FWD,
        )
    if kind == "scan_const":
        if len(shape) == 0:
            return None
        steps_ = draw(st.integers(1, 4))
        masks = _const(draw, (steps_, *shape), pool=(0.0, 1.0))
        r = draw(st.integers(1, 3))

        def scan_body(c, m):
            new = jnp.where(m > 0, c * jnp.roll(c, r), c)
            return new, jnp.sum(new)

        return Step(
            f"lax.scan(lambda c, m: (where(m > 0, c * roll(c, {r}), c), ...), x, {_fmt(masks)})[0]",
            lambda x, x0: lax.scan(scan_body, x, masks)[0],
        )
    if kind == "scan":
        if len(shape) == 0 or shape[0] == 0:
            return None
        g = draw(st.sampled_from(["c * r + sin(c)", "maximum(c, r)", "tanh(c) * r + r"]))
        rev = draw(st.booleans())
        fns = {
            "c * r + sin(c)": lambda c, r: c * r + jnp.sin(c),
            "maximum(c, r)": jnp.maximum,
            "tanh(c) * r + r": lambda c, r: jnp.tanh(c) * r + r,
        }
        gf = fns[g]

        def scan_fn(x, x0):
            def body(c, r):
                n = gf(c, r)
                return n, n

            return lax.scan(body, x[0], x[1:], reverse=rev)[1]

        return Step(f"lax.scan(c, r -> ({g},)*2, x[0], x[1:], reverse={rev})[1]", scan_fn)
    if kind == "while":
        body = _inner(draw, shape, in_shape, _PRESERVING, same_shape=True)
        if body is None:
            return None
        k = draw(st.integers(0, 3))
        return Step(
            f"while i < {k}: i, x = i + 1, {body.name}",
            lambda x, x0: lax.while_loop(
                lambda s: s[0] < k, lambda s: (s[0] + 1, body.fn(s[1], x0)), (0, x)
            )[1],
            body.modes - REV,
        )
    body = _inner(draw, shape, in_shape, _PRESERVING, same_shape=True)
    if body is None:
        return None
    return Step(
        f"while i < 3 and sum(x**2) < 30: i, x = i + 1, {body.name}",
        lambda x, x0: lax.while_loop(
            lambda s: (s[0] < 3) & (jnp.sum(s[1] ** 2) < 30),
            lambda s: (s[0] + 1, body.fn(s[1], x0)),
            (0, x),
        )[1],
        body.modes - REV,
    )


FAMILIES = dict(BASIC, control=fam_control)


# ----------------------------------------------------------------------------
# Top-level strategies


#: input shapes, simplest first (hypothesis shrinks towards the front)
INPUT_SHAPES: tuple[tuple[int, ...], ...] = (
    *((n,) for n in range(1, 13)),
    (),
    (0,),
    (2, 3), (3, 3), (1, 4), (4, 2), (3, 4), (2, 2), (4, 4),
    (2, 3, 2), (1, 2, 3), (3, 2, 2),
    (2, 0),
    *((n,) for n in range(3, 11)),
)  # fmt: skip


def input_shapes():
    return st.sampled_from(INPUT_SHAPES)


@st.composite
def programs(draw, families=None, max_steps: int = 4, shapes=None):
    """A random :class:`Program` whose steps come from ``families`` (default: all)."""
    names = tuple(FAMILIES) if families is None else tuple(families)
    in_shape = draw(input_shapes() if shapes is None else shapes)
    shape = in_shape
    steps, out_shapes = [], []
    modes = BOTH
    for _ in range(draw(st.integers(1, max_steps))):
        fam = draw(st.sampled_from(names))
        step = FAMILIES[fam](draw, shape, in_shape)
        out = checked_shape(step, shape, in_shape)
        if out is None or not (modes & step.modes):
            continue
        modes = modes & step.modes
        steps.append(step)
        out_shapes.append(out)
        shape = out
    return Program(tuple(in_shape), tuple(steps), tuple(out_shapes))
