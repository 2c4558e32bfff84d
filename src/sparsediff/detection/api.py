"""Public entry points of detection: ``jacobian_sparsity`` and ``hessian_sparsity``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..arguments import CallModel, is_array_like, split_aux
from ..patterns import LeafSpec, SparsityPattern, Structure
from . import compat
from . import rules as _rules  # noqa: F401  (fills the rule table)
from .deps import Deps, index_dtype
from .interpreter import Interpreter
from .reversible import reversible
from .trace_cache import cached_trace, folded_constants
from .values import Val, is_float_dtype

__all__ = [
    "jacobian_sparsity",
    "hessian_sparsity",
    "detect",
    "Detected",
    "is_reverse_mode_loop_error",
    "lacks_reverse_mode",
]


@dataclass(frozen=True)
class Detected:
    """A detected pattern with the program it was read from.

    ``closed`` is the jaxpr detection interpreted (of ``f``, or of its gradient
    for Hessians): later stages read facts from it (does ``f`` use custom VJPs,
    transcendental functions) instead of tracing ``f`` again.
    """

    pattern: SparsityPattern
    closed: Any


def _trace(f: Callable, model: CallModel) -> tuple[Any, Structure]:
    """``f`` traced to a jaxpr whose inputs are the model's traced leaves."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    closed, out_shapes = jax.make_jaxpr(model.flat_fun(f), return_shape=True)(*model.traced_specs())
    closed = _snapshot(compat.discharge_state(closed))
    out_lp, out_treedef = jax.tree_util.tree_flatten_with_path(out_shapes)
    out_leaves = tuple(
        LeafSpec(None, jax.tree_util.keystr(path), tuple(s.shape), _dtype_name(s.dtype))
        for path, s in out_lp
    )
    return closed, Structure(out_leaves, argnums=None, treedef=out_treedef)


def _snapshot(closed: Any) -> Any:
    """``closed`` with its numpy constants copied and made read-only.

    A numpy array that ``f`` closes over becomes a constant of the jaxpr without a
    copy, so changing the array later would change the cached trace behind its back
    (and mix with the constant folding kept for it). As under ``jax.jit``, a reused
    trace sees the values of its first trace."""
    consts = list(closed.consts)
    changed = False
    for i, c in enumerate(consts):
        if isinstance(c, np.ndarray) and c.flags.writeable:
            c = c.copy()
            c.flags.writeable = False
            consts[i] = c
            changed = True
    return closed.replace(consts=consts) if changed else closed


def _dtype_name(dtype: Any) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype)


def _detect(model: CallModel, closed, out_structure: Structure) -> SparsityPattern:
    n = model.n
    interp = Interpreter(n)
    invals: list[Val] = []
    for v in closed.jaxpr.invars:
        shape = tuple(int(d) for d in v.aval.shape)
        invals.append(Val(shape, v.aval.dtype))
    for dyn_idx, offset in model.selected_positions():
        val = invals[dyn_idx]
        val.deps = Deps.identity(val.size, offset, n)
    # no traced input is known (invals above carry none), so the program's constant
    # folding is the same on every interpretation of this trace under these options
    outs = interp.eval_closed(closed, invals, folded_constants(closed, interp.options))
    return _assemble(outs, model.in_structure, out_structure)


def _assemble(outs: list[Val], in_structure: Structure, out_structure: Structure):
    m = out_structure.size
    n = in_structure.size
    dt = index_dtype(m, n)
    rows_parts = []
    cols_parts = []
    offset = 0
    for val in outs:
        d = val.deps
        if d is not None and d.nnz and is_float_dtype(val.dtype):
            r = d.row_ids().astype(dt, copy=False)
            rows_parts.append(r + dt(offset) if offset else r)
            cols_parts.append(d.indices.astype(dt, copy=False))
        offset += val.size
    if len(rows_parts) == 1:
        rows, cols = rows_parts[0], cols_parts[0]
    elif rows_parts:
        rows = np.concatenate(rows_parts)
        cols = np.concatenate(cols_parts)
    else:
        rows = np.zeros(0, dtype=dt)
        cols = np.zeros(0, dtype=dt)
    return SparsityPattern(
        rows,
        cols,
        (m, n),
        input_structure=in_structure,
        output_structure=out_structure,
        canonical=True,
    )


def detect(f: Callable, model: CallModel, kind: str = "jacobian") -> Detected:
    """The Jacobian (``kind="jacobian"``) or Hessian pattern of ``f`` for the call
    ``model`` describes, with the jaxpr it was read from (one trace of ``f``)."""
    key = model.trace_key()
    if kind == "jacobian":
        closed, out_structure = cached_trace(f, key and (kind, key), lambda: _trace(f, model))
        return Detected(_detect(model, closed, out_structure), closed)
    grad_model = dataclasses.replace(model, has_aux=False)
    closed = cached_trace(f, key and (kind, key), lambda: _trace_gradient(f, model, grad_model))
    # The gradient has the input structure; the Hessian is square over it.
    pattern = _detect(grad_model, closed, model.in_structure)
    pattern = SparsityPattern(
        pattern.rows,
        pattern.cols,
        pattern.shape,
        input_structure=model.in_structure,
        output_structure=model.in_structure,
        canonical=True,
    )
    return Detected(pattern, closed)


def _trace_gradient(f: Callable, model: CallModel, grad_model: CallModel) -> Any:
    """The jaxpr of the gradient of scalar ``f`` (see :func:`detect`)."""
    scalar_f = _scalar_function(f, model)
    try:
        grad_f = jax.grad(scalar_f, argnums=model.argnums_arg, holomorphic=model.holomorphic)
        return _trace(grad_f, grad_model)[0]
    except Exception as err:  # noqa: BLE001 - no reverse mode: forward routes, else re-raised
        return _trace_gradient_without_reverse(scalar_f, grad_model, err)


def jacobian_sparsity(
    f: Callable,
    *args: Any,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    **kwargs: Any,
) -> SparsityPattern:
    """Global sparsity pattern of the Jacobian of ``f``, found from its jaxpr.

    The pattern is valid for every input value: it is computed by abstract
    interpretation of the program, without evaluating any derivative. It may
    hold extra entries where a rule is conservative, never miss one.

    Args:
        f: the function.
        *args: sample positional arguments. Only their pytree structure, shapes
            and dtypes are used (arrays, numpy arrays, Python scalars or
            ``jax.ShapeDtypeStruct``); dtypes are canonicalised as ``jax.jit``
            does (``float64`` is ``float32`` while x64 is off).
        argnums: positional argument(s) to differentiate with respect to. The
            others are traced as inputs whose dependencies are not tracked.
        has_aux: ``f`` returns ``(output, aux)``; only ``output`` is analysed.
        holomorphic: as in ``jax.jacfwd`` (only with complex inputs). Patterns of
            complex inputs are detected with or without it: an entry says that an
            output depends on a complex element (its real or imaginary part);
            evaluating derivatives (:func:`sparsediff.jacobian`) needs it.
        **kwargs: sample keyword arguments of ``f``. Array leaves are traced as
            non-differentiated inputs; any other leaf (a string, a bool, a
            Python number) is bound statically.

    Returns:
        A :class:`SparsityPattern` of shape ``(m, n)``: ``m`` is the flat size of
        the output pytree, ``n`` that of the selected arguments (in ``argnums``
        order, leaves in pytree order, each in C order, as
        ``jax.flatten_util.ravel_pytree``).
    """
    model = CallModel.of(args, kwargs, argnums, has_aux, holomorphic, complex_patterns=True)
    return detect(f, model, "jacobian").pattern


def _scalar_output(out: Any, holomorphic: bool) -> Any:
    if not is_array_like(out) and not isinstance(out, (float, int, complex)):
        raise ValueError(
            "a Hessian needs f to return a scalar array; got a "
            f"{type(out).__name__} (a pytree output has no Hessian)"
        )
    out = jnp.asarray(out)
    if out.size != 1:
        raise ValueError(
            f"a Hessian needs a scalar-valued f; its output has shape {tuple(out.shape)}"
        )
    if holomorphic:
        if not jnp.issubdtype(out.dtype, jnp.complexfloating):
            raise TypeError(
                f"holomorphic=True needs a complex output, as in jax.hessian; f returns {out.dtype}"
            )
    elif not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(
            f"a Hessian needs a real floating-point output (as in jax.hessian; "
            f"holomorphic=True for a complex one); f returns {out.dtype}"
        )
    return out.reshape(())


def _scalar_function(f: Callable, model: CallModel) -> Callable:
    def scalar_f(*a, **k):
        out = f(*a, **k)
        if model.has_aux:
            out = split_aux(out)[0]
        return _scalar_output(out, model.holomorphic)

    return scalar_f


def is_reverse_mode_loop_error(err: BaseException) -> bool:
    """Whether ``err`` is JAX refusing reverse-mode AD through a ``while_loop``."""
    return isinstance(err, ValueError) and "Reverse-mode differentiation does not work for" in str(
        err
    )


def lacks_reverse_mode(err: BaseException) -> bool:
    """Whether ``err`` is JAX refusing reverse-mode AD: a ``while_loop``, or a
    primitive without a transpose rule (such as ``bcoo_spdot_general``)."""
    return is_reverse_mode_loop_error(err) or (
        isinstance(err, NotImplementedError) and "Transpose rule" in str(err)
    )


def _trace_gradient_without_reverse(scalar_f: Callable, model: CallModel, err: BaseException):
    """The gradient's jaxpr where JAX has no reverse mode through ``f``.

    While loops get a reverse-mode stand-in whose fixed point covers the true
    reverse pass (see :mod:`.reversible`); otherwise (a primitive without a
    transpose rule, a custom rule that refuses cotangents, or a loop the stand-in
    cannot replace), the gradient is the forward-mode Jacobian of the
    scalar ``f``: one JVP per input element, vmapped over the identity (a known
    value, so rows stay separate), sound but larger to detect. Where forward mode
    fails as well, ``err`` (the reverse-mode failure) is raised.
    """
    nums, holo = model.argnums_arg, model.holomorphic
    if is_reverse_mode_loop_error(err):
        try:
            return _trace(jax.grad(reversible(scalar_f), argnums=nums, holomorphic=holo), model)[0]
        except Exception:  # noqa: BLE001 - the forward route below decides
            pass
    try:
        return _trace(jax.jacfwd(scalar_f, argnums=nums, holomorphic=holo), model)[0]
    except Exception:  # noqa: BLE001 - f fails in forward mode too: its own error
        raise err from None


def hessian_sparsity(
    f: Callable,
    *args: Any,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    **kwargs: Any,
) -> SparsityPattern:
    """Global sparsity pattern of the Hessian of scalar-valued ``f``.

    Detected as the Jacobian pattern of ``jax.grad(f)``, which is exactly what
    JAX's second-order AD computes (through a ``while_loop``, which has no
    reverse mode, with a stand-in described in :mod:`.reversible`). Arguments
    as in :func:`jacobian_sparsity`; an output of squeezable shape such as
    ``(1,)`` is squeezed, any other shape raises ``ValueError``. The result is
    square over the selected inputs.
    """
    model = CallModel.of(args, kwargs, argnums, has_aux, holomorphic, complex_patterns=True)
    return detect(f, model, "hessian").pattern
