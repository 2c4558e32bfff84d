"""Reductions, cumulative ops, contractions, convolutions, sorting, linear algebra, FFT."""

from __future__ import annotations

import math

from . import draw
from .catalog import helper, op

# -- reductions -------------------------------------------------------------------
REDUCE = {
    "sum": "jnp.sum({0}, axis={axis}, keepdims={kd})",
    "mean": "jnp.mean({0}, axis={axis}, keepdims={kd})",
    "max": "jnp.max({0}, axis={axis}, keepdims={kd})",
    "min": "jnp.min({0}, axis={axis}, keepdims={kd})",
    "prod": "jnp.prod(jnp.tanh({0}), axis={axis}, keepdims={kd})",
    "logsumexp": "jax.nn.logsumexp({0}, axis={axis}, keepdims={kd})",
    "argmax": "jnp.argmax({0}, axis={axis}, keepdims={kd}).astype(jnp.float32)",
    "argmin": "jnp.argmin({0}, axis={axis}, keepdims={kd}).astype(jnp.float32)",
    "max_at_argmax": "jnp.take_along_axis({0}, jnp.argmax({0}, axis={axis}, keepdims=True), "
    "axis={axis})",
}
CUMULATIVE = {
    "cumsum": "lax.cumsum({0}, axis={axis}, reverse={rev})",
    "cumprod": "lax.cumprod(jnp.tanh({0}), axis={axis}, reverse={rev})",
    "cummax": "lax.cummax({0}, axis={axis}, reverse={rev})",
    "cummin": "lax.cummin({0}, axis={axis}, reverse={rev})",
    "cumlogsumexp": "lax.cumlogsumexp({0}, axis={axis}, reverse={rev})",
    "jnp_cumsum": "jnp.cumsum({0}, axis={axis})",
}


def _reduce(rng, shapes):
    s = shapes[0]
    fn = str(rng.choice(sorted(REDUCE)))
    if not s:
        return {"fn": fn, "axis": None, "kd": False}
    ax = None if rng.random() < 0.3 and fn != "max_at_argmax" else draw.axis(rng, s)
    return {"fn": fn, "axis": ax, "kd": bool(rng.random() < 0.3)}


def _cumulative(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    return {"fn": str(rng.choice(sorted(CUMULATIVE))), "axis": draw.axis(rng, s),
            "rev": bool(rng.random() < 0.4)}  # fmt: skip


def _table(table):
    return lambda p, n: table[p["fn"]].format(*n, **{k: v for k, v in p.items() if k != "fn"})


def _window(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    dims = tuple(int(rng.integers(1, n + 1)) for n in s)
    strides = tuple(int(rng.integers(1, 3)) for _ in s)
    return {"dims": dims, "strides": strides, "fn": str(rng.choice(["max", "add", "min"]))}


def _window_render(p, n):
    init = {"max": "-jnp.inf", "min": "jnp.inf", "add": "0.0"}[p["fn"]]
    return (f"lax.reduce_window({n[0]}, {init}, lax.{p['fn']}, {p['dims']}, {p['strides']}, "
            "'VALID')")  # fmt: skip


op("reduce", "reduction", 1, _reduce, _table(REDUCE), bound="size",
   tagger=lambda p: [p["fn"]])  # fmt: skip
op("cumulative", "reduction", 1, _cumulative, _table(CUMULATIVE), bound="size",
   tagger=lambda p: [p["fn"]])  # fmt: skip
op("reduce_window", "reduction", 1, _window, _window_render, bound="size")


# -- contractions -----------------------------------------------------------------
def _matmul_const(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    k = int(rng.integers(1, 5))
    if math.prod(s) // s[-1] * k > draw.MAX_SIZE:
        return None
    return {"c": draw.const(rng, (s[-1], k))}


def _const_matmul(rng, shapes):
    s = shapes[0]
    if not s:
        return None
    k = int(rng.integers(1, 5))
    if math.prod(s) // s[0] * k > draw.MAX_SIZE:
        return None
    return {"c": draw.const(rng, (k, s[0]))}


def _einsum(rng, shapes):
    s = shapes[0]
    if len(s) != 2:
        return None
    k = int(rng.integers(1, 5))
    if s[0] * k > draw.MAX_SIZE:
        return None
    return {"shape": (s[1], k)}


def _same(rng, shapes):
    return {} if shapes[0] == shapes[1] and shapes[0] else None


def _conv(rng, shapes):
    n = math.prod(shapes[0])
    k = int(rng.integers(1, 4))
    pad = (int(rng.integers(-1, 3)), int(rng.integers(-1, 3)))
    stride, lhs_d, rhs_d = (int(rng.integers(1, 3)) for _ in range(3))
    full = (n - 1) * lhs_d + 1 + pad[0] + pad[1]
    if full < (k - 1) * rhs_d + 1:
        return None
    return {"k": draw.const(rng, (1, 1, k)), "stride": (stride,), "pad": (pad,),
            "lhs_d": (lhs_d,), "rhs_d": (rhs_d,)}  # fmt: skip


def _conv2d(rng, shapes):
    s = shapes[0]
    if len(s) != 2:
        return None
    kh, kw = int(rng.integers(1, s[0] + 1)), int(rng.integers(1, s[1] + 1))
    return {"k": draw.const(rng, (2, 1, kh, kw))}


def _convolve(rng, shapes):
    if math.prod(shapes[0]) + math.prod(shapes[1]) > 16:
        return None
    return {"mode": str(rng.choice(["'full'", "'same'", "'valid'"]))}


op("matmul_const", "contraction", 1, _matmul_const, "jnp.tensordot({0}, {c}, axes=1)",
   bound="size")  # fmt: skip
op("const_matmul", "contraction", 1, _const_matmul, "jnp.tensordot({c}, {0}, axes=1)",
   bound="size")  # fmt: skip
op("einsum", "contraction", 2, _einsum,
   "jnp.einsum('ij,jk->ik', {0}, jnp.tanh(jnp.resize({1}, {shape})))", bound="size")  # fmt: skip
op("batch_dot", "contraction", 2, _same, "jnp.einsum('...i,...i->...', {0}, jnp.tanh({1}))",
   bound="size")  # fmt: skip
op("conv_const", "contraction", 1, _conv,
   "lax.conv_general_dilated({0}.reshape(1, 1, -1), {k}, {stride}, {pad}, lhs_dilation={lhs_d}, "
   "rhs_dilation={rhs_d})[0, 0]", bound="size")  # fmt: skip
op("conv2d_const", "contraction", 1, _conv2d,
   "lax.conv_general_dilated({0}[None, None], {k}, (1, 1), 'SAME')[0]", bound="size")  # fmt: skip
op("convolve", "contraction", 2, _convolve,
   "jnp.convolve({0}.ravel(), jnp.tanh({1}.ravel()), mode={mode})", bound="size")  # fmt: skip


# -- sorting ----------------------------------------------------------------------
def _sort(rng, shapes):
    s = shapes[0]
    return {"axis": draw.axis(rng, s)} if s else None


def _top_k(rng, shapes):
    s = shapes[0]
    return {"k": int(rng.integers(1, s[-1] + 1))} if s else None


def _sort_pair(rng, shapes):
    if shapes[0] != shapes[1] or not shapes[0]:
        return None
    return {"axis": draw.axis(rng, shapes[0])}


op("sort", "sort", 1, _sort, "jnp.sort({0}, axis={axis})")
op("top_k", "sort", 1, _top_k, "lax.top_k({0}, {k})[0]")
op("argsort", "sort", 1, _sort, "jnp.argsort({0}, axis={axis}).astype(jnp.float32)", bound=8.0)
op("take_along_argsort", "sort", 2, _sort_pair,
   "jnp.take_along_axis({0}, jnp.argsort({1}, axis={axis}), axis={axis})")  # fmt: skip
op("sort_by_key", "sort", 2, _sort_pair,
   "lax.sort(({1}, {0}), dimension={axis}, num_keys=1)[1]")  # fmt: skip

# -- linear algebra ---------------------------------------------------------------
helper(
    "_mat",
    '''
def _mat(x, n):
    """A well-conditioned n x n matrix built from the elements of x (strictly diagonally
    dominant: diagonal at least n, off-diagonal row sums below n - 1)."""
    return (n + 1) * jnp.eye(n, dtype=x.dtype) + jnp.tanh(jnp.resize(x, (n, n)))''',
)
helper(
    "_spd",
    '''
def _spd(x, n):
    """A symmetric positive definite n x n matrix built from the elements of x."""
    m = jnp.tanh(jnp.resize(x, (n, n)))
    return m @ m.T + n * jnp.eye(n, dtype=x.dtype)''',
)


def _n(rng, shapes):
    return {"n": int(rng.integers(1, 5))}


def _n_lower(rng, shapes):
    return {"n": int(rng.integers(1, 5)), "lower": bool(rng.random() < 0.5)}


LINALG = {
    "solve": ("jnp.linalg.solve(_mat({0}, {n}), jnp.resize({1}, ({n},)))", 2, "_mat"),
    "inv": ("jnp.linalg.inv(_mat({0}, {n}))", 1, "_mat"),
    "cholesky": ("jnp.linalg.cholesky(_spd({0}, {n}))", 1, "_spd"),
    "qr": ("jnp.linalg.qr(_mat({0}, {n}))[1]", 1, "_mat"),
    "eigh": ("jnp.linalg.eigh(_spd({0}, {n}))[0]", 1, "_spd"),
    "det": ("jnp.linalg.det(_mat({0}, {n}))", 1, "_mat"),
    "slogdet": ("jnp.linalg.slogdet(_mat({0}, {n}))[1]", 1, "_mat"),
    "triangular_solve": (
        "jax.scipy.linalg.solve_triangular(_mat({0}, {n}), jnp.resize({1}, ({n},)), "
        "lower={lower})", 2, "_mat"),
}  # fmt: skip
for _name, (_tpl, _arity, _helper) in LINALG.items():
    op(_name, "linalg", _arity, _n_lower if "lower" in _tpl else _n, _tpl, helpers=(_helper,),
       bound=20.0)  # fmt: skip

# -- FFT --------------------------------------------------------------------------
FFT = {
    "fft_real": "jnp.fft.fft({0}, axis=-1).real",
    "fft_imag": "jnp.fft.fft({0}, axis=-1).imag",
    "rfft": "jnp.fft.rfft({0}, axis=-1).imag",
    "ifft": "jnp.fft.ifft({0}, axis=-1).real",
    "irfft": "jnp.fft.irfft({0}, axis=-1)",
    "fft2": "jnp.fft.fft2({0}).real",
}


def _fft(rng, shapes):
    s = shapes[0]
    fn = str(rng.choice(sorted(FFT)))
    if not s or (fn == "fft2" and len(s) < 2) or (fn == "irfft" and s[-1] < 2):
        return None
    return {"fn": fn}


op("fft", "fft", 1, _fft, _table(FFT), bound="size", tagger=lambda p: [p["fn"]])
