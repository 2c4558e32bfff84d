"""Fast numpy evaluation of integer and boolean known values.

Detection computes values that do not depend on the inputs (indices, loop
counters, masks) concretely. Binding a JAX primitive eagerly costs a dispatch
(a fraction of a millisecond), which dominates loops that are iterated exactly.
Integer and boolean arithmetic is evaluated here with numpy instead, following
lax semantics (wrapping arithmetic, division rounding toward zero, ``rem`` with
the sign of the dividend). So are the floating-point operations whose IEEE
result is exact by definition (``add``, ``sub``, ``mul``, ``div``, negation,
comparisons, selection, widening and narrowing conversions, ``integer_pow`` as
the chain of products JAX lowers it to) on ``float32``/``float64``, where numpy
and XLA agree bit for bit; an operand or result that is subnormal (which XLA may
flush to zero) sends the equation back to JAX. Every other floating-point
operation (``sin``, ``exp``, ...) goes through JAX, so that known floats (and
the zeros they contain) are exactly what JAX computes. ``FLOAT_EXACT`` is
checked against JAX on special values in the tests.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from . import compat

__all__ = [
    "numpy_eval",
    "evaluate",
    "QUICK",
    "as_numpy",
    "shared_memo",
    "clear_memos",
    "FLOAT_EXACT",
    "MEMO_LIMIT",
]

#: most elements :func:`shared_memo` keeps per device context before it starts over
MEMO_LIMIT = 4096
_MEMOS: dict[Any, dict] = {}


def clear_memos() -> None:
    """Forget every constant element remembered by :func:`shared_memo`."""
    _MEMOS.clear()


def shared_memo() -> dict:
    """The memo of constant elements JAX computed (see ``_uniform_eval``), shared by
    every detection in this process under the current default device: a constant
    such as ``sin(0.5)`` is computed by JAX once, not once per detection. Its
    entries are keyed by primitive, parameters, dtypes and operand bits."""
    context = (jax.default_backend(), str(getattr(jax.config, "jax_default_device", None)))
    memo = _MEMOS.get(context)
    if memo is None:
        memo = _MEMOS[context] = {}
    return memo


def _is_int_or_bool(dtype: Any) -> bool:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return False
    return kind in "iub"


def _div(a, b):
    q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
    return np.where(b == 0, 0, np.sign(a) * np.sign(b) * q)  # XLA gives garbage on /0


def _rem(a, b):
    return np.fmod(a, np.where(b == 0, 1, b))


def _select_n(pred, *cases):
    which = np.asarray(pred).astype(np.int64)
    return np.choose(which, np.broadcast_arrays(*cases))


def _not(a):
    return np.logical_not(a) if a.dtype == np.bool_ else np.invert(a)


def _integer_pow(p, a):
    return np.power(a, p["y"])


def _iota(p):
    shape = tuple(p["shape"])
    dim = p["dimension"]
    view = [1] * len(shape)
    view[dim] = shape[dim]
    return np.broadcast_to(np.arange(shape[dim]).reshape(view), shape)


_BINARY: dict[str, Callable] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _div,
    "rem": _rem,
    "max": np.maximum,
    "min": np.minimum,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
}
_UNARY: dict[str, Callable] = {
    "neg": np.negative,
    "abs": np.abs,
    "sign": np.sign,
    "not": _not,
    "convert_element_type": lambda a: a,
    "copy": lambda a: a,
}


def _pow_chain(p, a):
    y = p["y"]
    if y == 0:
        return np.ones_like(a)
    k, acc = abs(y), None
    while k > 0:
        if k & 1:
            acc = a if acc is None else acc * a
        k >>= 1
        if k > 0:
            a = a * a
    return np.divide(np.ones_like(acc), acc) if y < 0 else acc


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_TINY = {d: np.finfo(d).tiny for d in _FLOAT_DTYPES}

#: float operations numpy evaluates exactly as XLA does: name -> (function, arity)
FLOAT_EXACT: dict[str, tuple[Callable, int]] = {
    "add": (np.add, 2),
    "sub": (np.subtract, 2),
    "mul": (np.multiply, 2),
    "div": (np.divide, 2),
    "eq": (np.equal, 2),
    "ne": (np.not_equal, 2),
    "lt": (np.less, 2),
    "le": (np.less_equal, 2),
    "gt": (np.greater, 2),
    "ge": (np.greater_equal, 2),
    "neg": (np.negative, 1),
    "abs": (np.abs, 1),
    "floor": (np.floor, 1),
    "ceil": (np.ceil, 1),
    "copy": (lambda a: a, 1),
    "copy_p": (lambda a: a, 1),
}


def _has_subnormal(a: np.ndarray) -> bool:
    tiny = _TINY.get(a.dtype)
    if tiny is None or a.size == 0:
        return False
    if a.size == 1:
        m = abs(float(a.reshape(-1)[0]))
        return bool(0.0 < m < tiny)
    mag = np.abs(a)
    return bool(np.any((mag < tiny) & (mag > 0)))


def _float_eval(eqn, args: list[Any], avals) -> list[Any] | None:
    """Exact float operations (see the module docstring), else ``None``."""
    name = eqn.primitive.name
    if len(avals) != 1 or not all(isinstance(a, np.ndarray | np.generic) for a in args):
        return None
    entry = FLOAT_EXACT.get(name)
    if entry is None and name not in ("select_n", "integer_pow", "convert_element_type"):
        return None
    out_dtype = np.dtype(avals[0].dtype)
    arrs = [np.asarray(a) for a in args]
    floats = [a for a in arrs if a.dtype.kind == "f"]
    if any(a.dtype not in _FLOAT_DTYPES for a in floats) or any(a.dtype.kind == "c" for a in arrs):
        return None
    if any(_has_subnormal(a) for a in floats):
        return None
    with np.errstate(all="ignore"):
        if entry is not None and len(arrs) == entry[1] and floats:
            res = entry[0](*arrs)
        elif name == "select_n" and len(arrs) >= 2 and out_dtype in _FLOAT_DTYPES:
            res = _select_n(*arrs)
        elif name == "integer_pow" and len(arrs) == 1 and floats:
            res = _pow_chain(eqn.params, arrs[0])
        elif name == "convert_element_type" and len(arrs) == 1 and out_dtype in _FLOAT_DTYPES:
            if arrs[0].dtype.kind not in "fb" and not (
                arrs[0].dtype.kind in "iu" and arrs[0].dtype.itemsize <= 2
            ):
                return None  # wide integers to float: left to JAX
            res = arrs[0].astype(out_dtype)
        else:
            return None
    res = np.asarray(res)
    shape = tuple(int(d) for d in avals[0].shape)
    if res.shape != shape or res.dtype != out_dtype or _has_subnormal(res):
        return None
    return [res]


#: exact operations on two scalars of one float dtype, as Python float arithmetic:
#: name -> (operation, whether the result is a float of the operands' dtype)
_SCALAR_BINARY: dict[str, tuple[Callable, bool]] = {
    "add": (operator.add, True),
    "sub": (operator.sub, True),
    "mul": (operator.mul, True),
    "div": (operator.truediv, True),
    "eq": (operator.eq, False),
    "ne": (operator.ne, False),
    "lt": (operator.lt, False),
    "le": (operator.le, False),
    "gt": (operator.gt, False),
    "ge": (operator.ge, False),
}
_MAX = {d: float(np.finfo(d).max) for d in _FLOAT_DTYPES}
_TINY_FLOAT = {d: float(t) for d, t in _TINY.items()}
_BOOL = np.dtype(np.bool_)
_INF = float("inf")


def _off_range(m: float, tiny: float, big: float) -> bool:
    """Whether a magnitude is subnormal or finite beyond the dtype's largest value
    (results the quick paths leave to the general ones)."""
    return 0.0 < m < tiny or (m > big and m != _INF)


def _scalar_binary(eqn, args: list[Any], memo: dict | None = None) -> list[Any] | None:
    """The common case of known-value arithmetic, taken quickly: two 0-d operands of
    float32 or float64. Python floats compute it exactly: float64 arithmetic is the
    operation itself, and for float32 operands the float64 result rounded to float32
    is the correctly rounded float32 result (the double has more than 2p + 2 bits,
    so rounding twice changes nothing for +, -, x, /). Results that overflow
    float32, subnormals and division by zero are left to the general paths."""
    entry = _SCALAR_BINARY.get(eqn.primitive.name)
    if entry is None or len(args) != 2:
        return None
    a, b = args
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.shape or b.shape:
        return None
    dtype = a.dtype
    tiny = _TINY_FLOAT.get(dtype)
    if tiny is None or b.dtype != dtype:
        return None
    x, y = float(a), float(b)
    if 0.0 < abs(x) < tiny or 0.0 < abs(y) < tiny:
        return None
    try:
        r = entry[0](x, y)
    except ZeroDivisionError:
        return None
    if not entry[1]:
        out = np.array(r, _BOOL)
    else:
        if _off_range(abs(r), tiny, _MAX[dtype]):
            return None
        out = np.array(r, dtype)
    return [out] if out.dtype == eqn.outvars[0].aval.dtype else None


def _scalar_unary(eqn, args: list[Any], memo: dict | None = None) -> list[Any] | None:
    """``neg`` and positive ``integer_pow`` of one 0-d float operand, as
    :func:`_scalar_binary` computes them; the power is JAX's chain of products (see
    :func:`_pow_chain`), rounded to the dtype after every product."""
    a = args[0] if len(args) == 1 else None
    if type(a) is not np.ndarray or a.shape:
        return None
    dtype = a.dtype
    tiny = _TINY_FLOAT.get(dtype)
    if tiny is None or eqn.outvars[0].aval.dtype != dtype:
        return None
    x = float(a)
    if 0.0 < abs(x) < tiny:
        return None
    if eqn.primitive.name == "neg":
        return [np.array(-x, dtype)]
    k = eqn.params["y"]
    if k < 1:
        return None
    big, single = _MAX[dtype], dtype == _FLOAT_DTYPES[0]
    acc = None
    while k > 0:
        if k & 1:
            if acc is None:
                acc = x
            else:
                acc *= x
                if _off_range(abs(acc), tiny, big):
                    return None
                acc = float(np.float32(acc)) if single else acc
        k >>= 1
        if k > 0:
            x *= x
            if _off_range(abs(x), tiny, big):
                return None
            x = float(np.float32(x)) if single else x
    return [np.array(acc, dtype)]


def _quick_slice(eqn, args: list[Any], memo: dict | None = None) -> list[Any] | None:
    a = args[0] if len(args) == 1 else None
    if type(a) is not np.ndarray:
        return None
    p = eqn.params
    if a.ndim == 1:  # x[k] of a Python loop over a vector
        step = p["strides"][0] if p["strides"] else None
        return [a[p["start_indices"][0] : p["limit_indices"][0] : step]]
    return _structural("slice")(eqn, [a])


def _quick_squeeze(eqn, args: list[Any], memo: dict | None = None) -> list[Any] | None:
    a = args[0] if len(args) == 1 else None
    if type(a) is not np.ndarray:
        return None
    return [a.reshape(eqn.outvars[0].aval.shape)]


def _quick_scalar_call(eqn, args: list[Any], memo: dict | None = None) -> list[Any] | None:
    """A one-operand elementwise function of a 0-d float that JAX computed before
    (``sin(mu[k])`` of an unrolled loop): read from ``memo``; else ``None``."""
    a = args[0] if len(args) == 1 else None
    if memo is None or type(a) is not np.ndarray or a.shape:
        return None
    key = _memo_key(eqn, [a])
    return None if key is None or (one := memo.get(key)) is None else [one]


#: primitive name -> evaluator of its most common known-value case, tried first
#: (it returns ``None`` where the case is not its own)
QUICK: dict[str, Callable[..., list[Any] | None]] = {
    **{name: _scalar_binary for name in _SCALAR_BINARY},
    **{name: _quick_scalar_call for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh")},
    "neg": _scalar_unary,
    "integer_pow": _scalar_unary,
    "slice": _quick_slice,
    "squeeze": _quick_squeeze,
}


def numpy_eval(eqn, args: list[Any], memo: dict | None = None):
    """Evaluate ``eqn`` with numpy when it is integer/boolean index arithmetic.

    Returns the list of outputs, or ``None`` when this evaluator does not apply
    (the caller then binds the primitive with JAX).
    """
    name = eqn.primitive.name
    first = QUICK.get(name)
    if first is not None:
        quick = first(eqn, args, memo)
        if quick is not None:
            return quick
    avals = [v.aval for v in eqn.outvars]
    structural = _structural(name)
    if structural is not None and all(isinstance(a, np.ndarray | np.generic) for a in args):
        # value-moving operations are exact for every dtype
        res = structural(eqn, [np.asarray(a) for a in args])
        if all(r.shape == tuple(int(d) for d in v.shape) for r, v in zip(res, avals)):
            return [np.asarray(r).astype(v.dtype, copy=False) for r, v in zip(res, avals)]
        return None
    if (
        len(avals) != 1
        or not _is_int_or_bool(getattr(avals[0], "dtype", None))
        or not all(_is_int_or_bool(getattr(a, "dtype", None)) for a in args)
    ):
        exact = _float_eval(eqn, args, avals)
        return exact if exact is not None else _uniform_eval(eqn, args, avals, memo)
    arrs = [np.asarray(a) for a in args]
    out_dtype = np.dtype(avals[0].dtype)
    shape = tuple(int(d) for d in avals[0].shape)
    with np.errstate(all="ignore"):
        if name in _BINARY and len(arrs) == 2:
            res = _BINARY[name](arrs[0], arrs[1])
        elif name in _UNARY and len(arrs) == 1:
            res = _UNARY[name](arrs[0])
        elif name == "select_n":
            res = _select_n(*arrs)
        elif name == "clamp":
            res = np.minimum(np.maximum(arrs[1], arrs[0]), arrs[2])
        elif name == "integer_pow":
            res = _integer_pow(eqn.params, arrs[0])
        elif name == "iota" and not arrs:
            res = _iota(eqn.params)
        else:
            return None
        res = np.asarray(res).astype(out_dtype, copy=False)
    if res.shape != shape:
        return None
    return [res]


# filled on first use: the rule modules import this one
_POSITION_EVALUATORS: dict | None = None
_DERIVATIVE_ARGS: dict | None = None


def _structural(name: str):
    global _POSITION_EVALUATORS
    if _POSITION_EVALUATORS is None:
        from .rules.structural import POSITION_EVALUATORS

        _POSITION_EVALUATORS = POSITION_EVALUATORS
    entry = _POSITION_EVALUATORS.get(name)
    return None if entry is None else entry[0]


def _is_uniform(a: Any) -> bool:
    """A numpy array whose elements are all the same by construction (a broadcast)."""
    if isinstance(a, np.generic):
        return True
    return isinstance(a, np.ndarray) and (a.size <= 1 or not any(a.strides))


def _memo_key(eqn, scalars: list[np.ndarray]) -> Any:
    try:
        key = (
            eqn.primitive,
            tuple(sorted(eqn.params.items())),
            tuple((a.dtype.str, a.tobytes()) for a in scalars),
        )
        hash(key)
    except TypeError:
        return None
    return key


def _uniform_eval(eqn, args: list[Any], avals, memo: dict | None = None):
    """Elementwise operation on broadcast constants: compute one element with JAX
    and broadcast it (no full-size array is materialised). ``memo`` keeps the
    elements computed so far (programs unrolled from Python loops compute the same
    constant several times)."""
    global _DERIVATIVE_ARGS
    if _DERIVATIVE_ARGS is None:
        from .rules.elementwise import DERIVATIVE_ARGS

        _DERIVATIVE_ARGS = DERIVATIVE_ARGS
    if eqn.primitive.name not in _DERIVATIVE_ARGS or len(avals) != 1:
        return None
    if not args or not all(_is_uniform(a) for a in args):
        return None
    scalars = []
    for a in args:
        a = np.asarray(a)
        if a.size == 0:
            return None
        scalars.append(a if a.ndim == 0 else a.reshape(-1)[:1].reshape(()))
    key = _memo_key(eqn, scalars) if memo is not None else None
    one = None if key is None or memo is None else memo.get(key)
    if one is None:
        try:
            with compat.eqn_context(eqn):
                one = np.asarray(compat.apply_eqn(eqn, *scalars))
        except Exception:  # noqa: BLE001 - fall back to the full evaluation
            return None
        one = one.astype(avals[0].dtype, copy=False)
        if key is not None and memo is not None:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            one.flags.writeable = False  # shared by later detections
            memo[key] = one
    shape = tuple(int(d) for d in avals[0].shape)
    return [one if shape == () else np.broadcast_to(one, shape)]


def evaluate(eqn, args: list[Any], memo: dict | None = None) -> list[Any] | None:
    """The outputs of ``eqn`` on concrete ``args`` (numpy where it applies, else
    JAX itself), or ``None`` when evaluating fails. ``memo``: a dict owned by the
    caller, in which elements computed by JAX are remembered."""
    fast = numpy_eval(eqn, args, memo)
    if fast is not None:
        return fast
    try:
        with compat.eqn_context(eqn):
            res = compat.apply_eqn(eqn, *args)
    except Exception:  # noqa: BLE001 - any failure just means "no value"
        return None
    return [as_numpy(r) for r in res] if eqn.primitive.multiple_results else [as_numpy(res)]


def as_numpy(value: Any) -> Any:
    """A concrete JAX array as a numpy array (so that later equations on it take
    the numpy paths); other values (numpy arrays, PRNG keys) unchanged."""
    if isinstance(value, np.ndarray) or not isinstance(value, jax.Array):
        return value
    if not isinstance(value.dtype, np.dtype):  # PRNG keys and other extended dtypes
        return value
    try:
        return np.asarray(value)
    except Exception:  # noqa: BLE001 - e.g. an array on several devices: kept as is
        return value
