"""Public entry points of detection: ``jacobian_sparsity`` and ``hessian_sparsity``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..patterns import LeafSpec, SparsityPattern, Structure
from . import compat
from . import rules as _rules  # noqa: F401  (fills the rule table)
from .deps import Deps, index_dtype
from .interpreter import Interpreter
from .reversible import reversible
from .values import Val, is_float_dtype

__all__ = [
    "jacobian_sparsity",
    "hessian_sparsity",
    "trace_for_detection",
    "is_reverse_mode_loop_error",
]


def _is_array_like(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct)) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (type, np.generic))
    )


def _spec_of(x: Any) -> jax.ShapeDtypeStruct:
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    if _is_array_like(x):
        return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)
    if isinstance(x, (bool, int, float, complex, np.generic)):
        arr = jnp.asarray(x)
        return jax.ShapeDtypeStruct(arr.shape, arr.dtype, weak_type=not isinstance(x, np.generic))
    raise TypeError(
        f"sample argument leaf of type {type(x).__name__} is not an array, a Python scalar "
        "or a jax.ShapeDtypeStruct"
    )


def _normalize_argnums(argnums: Any, nargs: int) -> tuple[tuple[int, ...], bool]:
    """Returns (argnums as a tuple of non-negative ints, whether argnums was an int)."""
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    seq = (int(argnums),) if single else argnums
    if not single:
        if not isinstance(seq, Sequence) or isinstance(seq, (str, bytes)):
            raise TypeError(f"argnums must be an int or a sequence of ints, got {argnums!r}")
        if len(seq) == 0:
            raise ValueError("argnums must not be empty")
        for a in seq:
            if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
                raise TypeError(f"argnums must be an int or a sequence of ints, got {argnums!r}")
    out = []
    for a in seq:
        a = int(a)
        if not -nargs <= a < nargs:
            raise ValueError(
                f"argnums {argnums!r} is out of range for a function called with {nargs} "
                f"positional argument{'s' if nargs != 1 else ''}"
            )
        out.append(a % nargs)
    if len(set(out)) != len(out):
        raise ValueError(f"argnums {argnums!r} contains duplicates")
    return tuple(out), single


class _Traced:
    """The user's function traced to a jaxpr, with its input/output structure."""

    def __init__(self, closed, in_structure, out_structure, selected_positions, n_dyn):
        self.closed = closed
        self.in_structure: Structure = in_structure
        self.out_structure: Structure = out_structure
        self.selected_positions: list[tuple[int, int]] = selected_positions  # (dyn index, offset)
        self.n_dyn = n_dyn


def trace_for_detection(
    f: Callable, args: tuple, kwargs: dict, argnums: Any, has_aux: bool
) -> _Traced:
    """Trace ``f`` on sample arguments into a jaxpr whose inputs are all array leaves."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    argnums_t, single = _normalize_argnums(argnums, len(args))

    arg_leaves_paths = []
    arg_treedefs = []
    for a in args:
        lp, td = jax.tree_util.tree_flatten_with_path(a)
        arg_leaves_paths.append(lp)
        arg_treedefs.append(td)
    arg_specs = [[_spec_of(leaf) for _, leaf in lp] for lp in arg_leaves_paths]

    # Selected arguments must be floating.
    for a in argnums_t:
        for (path, _), spec in zip(arg_leaves_paths[a], arg_specs[a]):
            if not is_float_dtype(spec.dtype):
                raise TypeError(
                    f"argument {a} (leaf {jax.tree_util.keystr(path) or '<root>'}) has dtype "
                    f"{np.dtype(spec.dtype).name}; differentiated arguments must be floating "
                    "point (real or complex). Select other arguments with argnums, or cast."
                )

    kw_leaves, kw_treedef = jax.tree_util.tree_flatten(kwargs)
    kw_traced = [_is_array_like(x) for x in kw_leaves]
    kw_specs = [_spec_of(x) for x, t in zip(kw_leaves, kw_traced) if t]

    counts = [len(s) for s in arg_specs]

    def flat_fun(*dyn):
        pos = 0
        call_args = []
        for td, c in zip(arg_treedefs, counts):
            call_args.append(jax.tree_util.tree_unflatten(td, dyn[pos : pos + c]))
            pos += c
        kw_it = iter(dyn[pos:])
        kw_vals = [next(kw_it) if t else x for x, t in zip(kw_leaves, kw_traced)]
        call_kwargs = jax.tree_util.tree_unflatten(kw_treedef, kw_vals)
        out = f(*call_args, **call_kwargs)
        if has_aux:
            out = split_aux(out)[0]
        return out

    flat_specs = [s for specs in arg_specs for s in specs] + kw_specs
    closed, out_shapes = jax.make_jaxpr(flat_fun, return_shape=True)(*flat_specs)
    closed = compat.discharge_state(closed)

    # Input structure, in argnums order.
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    leaves = []
    selected = []
    offset = 0
    for a in argnums_t:
        for k, ((path, _), spec) in enumerate(zip(arg_leaves_paths[a], arg_specs[a])):
            leaves.append(
                LeafSpec(
                    a, jax.tree_util.keystr(path), tuple(spec.shape), np.dtype(spec.dtype).name
                )
            )
            selected.append((int(starts[a] + k), offset))
            offset += int(np.prod(spec.shape, dtype=np.int64))
    in_treedef = (
        arg_treedefs[argnums_t[0]]
        if single
        else jax.tree_util.tree_structure(tuple(args[a] for a in argnums_t))
    )
    in_structure = Structure(tuple(leaves), argnums=argnums_t, treedef=in_treedef)

    out_lp, out_treedef = jax.tree_util.tree_flatten_with_path(out_shapes)
    out_leaves = []
    for path, s in out_lp:
        out_leaves.append(
            LeafSpec(None, jax.tree_util.keystr(path), tuple(s.shape), _dtype_name(s.dtype))
        )
    out_structure = Structure(tuple(out_leaves), argnums=None, treedef=out_treedef)
    return _Traced(closed, in_structure, out_structure, selected, len(flat_specs))


def split_aux(out: Any) -> tuple[Any, Any]:
    """``(output, aux)`` from what a ``has_aux=True`` function returned."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError(
            f"has_aux=True requires f to return a pair (output, aux); got {type(out).__name__}"
        )
    return out[0], out[1]


def _dtype_name(dtype: Any) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype)


def _detect(traced: _Traced) -> SparsityPattern:
    n = traced.in_structure.size
    interp = Interpreter(n)
    closed = traced.closed
    invals: list[Val] = []
    for v in closed.jaxpr.invars:
        shape = tuple(int(d) for d in v.aval.shape)
        invals.append(Val(shape, v.aval.dtype))
    for dyn_idx, offset in traced.selected_positions:
        val = invals[dyn_idx]
        val.deps = Deps.identity(val.size, offset, n)
    outs = interp.eval_closed(closed, invals)
    return _assemble(outs, traced)


def _assemble(outs: list[Val], traced: _Traced) -> SparsityPattern:
    m = traced.out_structure.size
    n = traced.in_structure.size
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
        input_structure=traced.in_structure,
        output_structure=traced.out_structure,
        canonical=True,
    )


def jacobian_sparsity(
    f: Callable, *args: Any, argnums: int | Sequence[int] = 0, has_aux: bool = False, **kwargs: Any
) -> SparsityPattern:
    """Global sparsity pattern of the Jacobian of ``f``, found from its jaxpr.

    The pattern is valid for every input value: it is computed by abstract
    interpretation of the program, without evaluating any derivative. It may
    hold extra entries where a rule is conservative, never miss one.

    Args:
        f: the function.
        *args: sample positional arguments. Only their pytree structure, shapes
            and dtypes are used (arrays, numpy arrays, Python scalars or
            ``jax.ShapeDtypeStruct``).
        argnums: positional argument(s) to differentiate with respect to. The
            others are traced as inputs whose dependencies are not tracked.
        has_aux: ``f`` returns ``(output, aux)``; only ``output`` is analysed.
        **kwargs: sample keyword arguments of ``f``. Array values are traced as
            non-differentiated inputs; anything else is bound statically.

    Returns:
        A :class:`SparsityPattern` of shape ``(m, n)``: ``m`` is the flat size of
        the output pytree, ``n`` that of the selected arguments (in ``argnums``
        order, leaves in pytree order, each in C order, as
        ``jax.flatten_util.ravel_pytree``).
    """
    traced = trace_for_detection(f, args, kwargs, argnums, has_aux)
    return _detect(traced)


def _scalar_output(out: Any) -> Any:
    if not _is_array_like(out) and not isinstance(out, (float, int)):
        raise ValueError(
            "hessian_sparsity needs f to return a scalar array; got a "
            f"{type(out).__name__} (a pytree output has no Hessian)"
        )
    out = jnp.asarray(out)
    if out.size != 1:
        raise ValueError(
            f"hessian_sparsity needs a scalar-valued f; its output has shape {tuple(out.shape)}"
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(
            f"hessian_sparsity needs a real floating-point output; f returns {out.dtype}"
        )
    return out.reshape(())


def is_reverse_mode_loop_error(err: BaseException) -> bool:
    """Whether ``err`` is JAX refusing reverse-mode AD through a ``while_loop``."""
    return isinstance(err, ValueError) and "Reverse-mode differentiation does not work for" in str(
        err
    )


def hessian_sparsity(
    f: Callable, *args: Any, argnums: int | Sequence[int] = 0, has_aux: bool = False, **kwargs: Any
) -> SparsityPattern:
    """Global sparsity pattern of the Hessian of scalar-valued ``f``.

    Detected as the Jacobian pattern of ``jax.grad(f)``, which is exactly what
    JAX's second-order AD computes. Arguments as in :func:`jacobian_sparsity`;
    an output of squeezable shape such as ``(1,)`` is squeezed, any other shape
    raises ``ValueError``. The result is square over the selected inputs.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    argnums_t, single = _normalize_argnums(argnums, len(args))

    def scalar_f(*a, **k):
        out = f(*a, **k)
        if has_aux:
            out = split_aux(out)[0]
        return _scalar_output(out)

    nums = argnums_t[0] if single else argnums_t
    try:
        traced = trace_for_detection(jax.grad(scalar_f, argnums=nums), args, kwargs, nums, False)
    except ValueError as err:
        if not is_reverse_mode_loop_error(err):
            raise
        # A while_loop (or fori_loop with traced bounds) has no reverse mode: each
        # loop gets a reverse-mode stand-in whose fixed point covers the true
        # reverse pass (see detection.reversible).
        grad_f = jax.grad(reversible(scalar_f), argnums=nums)
        traced = trace_for_detection(grad_f, args, kwargs, nums, False)
    pattern = _detect(traced)
    # The output of grad has the input structure; report it as such.
    return SparsityPattern(
        pattern.rows,
        pattern.cols,
        pattern.shape,
        input_structure=traced.in_structure,
        output_structure=traced.in_structure,
        canonical=True,
    )
