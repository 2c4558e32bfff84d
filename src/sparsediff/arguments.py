"""The argument model: what a call of the user's function is made of.

One module decides, for detection, evaluation, the integrations and the command
line, following JAX's conventions:

- **leaves**: every leaf of a positional argument is traced (arrays, NumPy
  arrays, Python scalars as weakly typed values, ``jax.ShapeDtypeStruct``);
  a keyword argument's array leaves are traced too, and its other leaves
  (strings, bools, ints, floats, ``None``, callables) are bound statically, as
  ``static_argnames`` would bind them;
- **dtypes**: canonicalised as ``jax.jit`` canonicalises them (``float64`` is
  ``float32`` while x64 is off), so NumPy samples and JAX calls agree;
- **selection**: ``argnums`` (an int, or a sequence of distinct ints) picks the
  differentiated arguments; their leaves are raveled in ``argnums`` order,
  leaves in pytree order, each in C order (``jax.flatten_util.ravel_pytree``);
- **derivative kinds**: selected leaves must be floating point; complex ones
  need ``holomorphic=True`` (and then every selected leaf must be complex), as
  in ``jax.jacfwd``;
- ``has_aux``: ``f`` returns ``(output, aux)``; ``aux`` may be any pytree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .patterns import LeafSpec, Structure

__all__ = [
    "is_array_like",
    "canonical_spec",
    "normalize_argnums",
    "split_aux",
    "split_kwargs",
    "Signature",
    "CallModel",
    "AuxSplit",
]


def is_array_like(x: Any) -> bool:
    """An array (JAX, NumPy, a tracer) or a ``jax.ShapeDtypeStruct``."""
    return isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct)) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (type, np.generic))
    )


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float, complex, np.generic))


def canonical_spec(x: Any) -> jax.ShapeDtypeStruct:
    """Shape and dtype of a traced leaf, the dtype canonicalised as ``jax.jit`` does."""
    if isinstance(x, jax.ShapeDtypeStruct):
        shape, dtype, weak = x.shape, x.dtype, bool(getattr(x, "weak_type", False))
    elif is_array_like(x):
        shape, dtype, weak = tuple(x.shape), x.dtype, bool(getattr(x, "weak_type", False))
    elif _is_scalar(x):
        arr = np.asarray(x)
        shape, dtype, weak = (), arr.dtype, not isinstance(x, np.generic)
    else:
        raise TypeError(
            f"an argument leaf of type {type(x).__name__} is not an array, a Python scalar or "
            "a jax.ShapeDtypeStruct (pass non-array values as keyword arguments: they are "
            "bound statically)"
        )
    if weak and _is_scalar(x) and not isinstance(x, np.generic):
        dtype = jnp.asarray(x).dtype
    return jax.ShapeDtypeStruct(
        tuple(int(d) for d in shape),
        jax.dtypes.canonicalize_dtype(dtype),
        weak_type=weak,
        sharding=_explicit_sharding(x),
    )


def _explicit_sharding(x: Any) -> Any:
    """``x``'s sharding when it is part of its type: a ``NamedSharding`` over a
    mesh with explicit axes (``jax.sharding.AxisType.Explicit``), which a trace
    must see (``shard_map`` checks its ``in_specs`` against it); else None."""
    sharding = getattr(x, "sharding", None)
    if not isinstance(sharding, jax.sharding.NamedSharding):
        return None
    explicit = jax.sharding.AxisType.Explicit
    if any(t == explicit for t in getattr(sharding.mesh, "axis_types", ())):
        return sharding
    return None


def normalize_argnums(argnums: Any, nargs: int) -> tuple[tuple[int, ...], bool]:
    """``(argnums as non-negative ints, whether argnums was a single int)``."""
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


def split_aux(out: Any) -> tuple[Any, Any]:
    """``(output, aux)`` from what a ``has_aux=True`` function returned."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        if isinstance(out, (tuple, list)):
            count = len(out)
            what = f"a {type(out).__name__} of {count} element{'' if count == 1 else 's'}"
        elif hasattr(out, "shape") and hasattr(out, "dtype"):  # arrays and tracers alike
            what = f"a single array of shape {tuple(out.shape)} and dtype {out.dtype}"
        else:
            what = f"a single value of type {type(out).__name__}"
        raise ValueError(
            f"has_aux=True: f must return a pair (output, aux), but it returned {what}; "
            "return (output, aux), or drop has_aux=True if there is no auxiliary data"
        )
    return out[0], out[1]


def split_kwargs(kwargs: dict) -> tuple[list[Any], Any, list[bool]]:
    """``(leaves, treedef, traced)`` of keyword arguments: ``traced[i]`` says whether
    leaf ``i`` is an array (traced) or a static value."""
    leaves, treedef = jax.tree_util.tree_flatten(kwargs)
    return leaves, treedef, [is_array_like(x) for x in leaves]


def _frozen(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return ("<unhashable>", type(value).__name__, repr(value))


@dataclass(frozen=True)
class Signature:
    """Structure, shapes, canonical dtypes and static values of a call: what a
    prepared derivative is valid for (``jax.jit`` would reuse its trace for it)."""

    arg_treedefs: tuple
    arg_avals: tuple
    kw_treedef: Any
    kw_paths: tuple
    kw_avals: tuple
    static: tuple

    @classmethod
    def of(cls, args: Sequence[Any], kwargs: dict) -> Signature:
        treedefs, avals = [], []
        for a in args:
            leaves, td = jax.tree_util.tree_flatten(a)
            treedefs.append(td)
            avals.append(tuple(_aval(x) for x in leaves))
        kw_lp, kw_td = jax.tree_util.tree_flatten_with_path(kwargs)
        traced = [(jax.tree_util.keystr(p), x) for p, x in kw_lp if is_array_like(x)]
        static = tuple(
            (jax.tree_util.keystr(p), _frozen(x)) for p, x in kw_lp if not is_array_like(x)
        )
        return cls(
            tuple(treedefs),
            tuple(avals),
            kw_td,
            tuple(p for p, _ in traced),
            tuple(_aval(x) for _, x in traced),
            static,
        )

    def describe_static(self) -> str:
        """The static keyword values as ``name=value, ...`` (``none`` without any)."""
        if not self.static:
            return "none"
        parts = []
        for path, value in self.static:
            name = path[2:-2] if re.fullmatch(r"\['[^']*'\]", path) else f"kwargs{path}"
            parts.append(f"{name}={value!r}")
        return ", ".join(parts)

    def same_arrays(self, other: Signature) -> bool:
        """Equal apart from the static keyword values (which may come and go)."""
        return (
            self.arg_treedefs == other.arg_treedefs
            and self.arg_avals == other.arg_avals
            and self.kw_paths == other.kw_paths
            and self.kw_avals == other.kw_avals
        )

    def describe_mismatch(self, other: Signature) -> str:
        if len(self.arg_avals) != len(other.arg_avals):
            return (
                f"prepared for {len(self.arg_avals)} positional argument"
                f"{'s' if len(self.arg_avals) != 1 else ''}, called with {len(other.arg_avals)}"
            )
        for i, (a, b) in enumerate(zip(self.arg_treedefs, other.arg_treedefs)):
            if a != b:
                return f"argument {i} has structure {b}, prepared for {a}"
        for i, (a, b) in enumerate(zip(self.arg_avals, other.arg_avals)):
            if a != b:
                got = ", ".join(f"{d}{list(s)}" for s, d in b)
                want = ", ".join(f"{d}{list(s)}" for s, d in a)
                return f"argument {i} has shape/dtype {got}, prepared for {want}"
        if self.kw_paths != other.kw_paths or self.kw_avals != other.kw_avals:
            return "array keyword arguments differ in structure, shape or dtype from preparation"
        return "static keyword arguments differ from preparation"


def _aval(x: Any) -> tuple[tuple[int, ...], str]:
    spec = canonical_spec(x)
    return tuple(spec.shape), np.dtype(spec.dtype).name


@dataclass(frozen=True)
class CallModel:
    """One call's arguments as every stage sees them (see the module docstring).

    Attributes:
        argnums, single: the selected positional arguments; whether ``argnums``
            was one int.
        has_aux, holomorphic: as in ``jax.jacfwd``.
        arg_treedefs, arg_specs: per positional argument, its tree structure and
            its leaves' canonical specs.
        kw_leaves, kw_treedef, kw_traced: keyword leaves and which are traced.
        in_structure: the selected leaves, in column order (for patterns).
    """

    argnums: tuple[int, ...]
    single: bool
    has_aux: bool
    holomorphic: bool
    arg_treedefs: tuple
    arg_specs: tuple
    arg_paths: tuple
    kw_leaves: tuple
    kw_treedef: Any
    kw_traced: tuple
    in_structure: Structure

    @classmethod
    def of(
        cls,
        args: Sequence[Any],
        kwargs: dict,
        argnums: Any = 0,
        has_aux: bool = False,
        holomorphic: bool = False,
        complex_patterns: bool = False,
    ) -> CallModel:
        """The model of a call; ``complex_patterns=True`` (detection) accepts complex
        inputs without ``holomorphic``: a pattern says which complex elements an
        output depends on, which holds for the real and imaginary parts alike."""
        argnums_t, single = normalize_argnums(argnums, len(args))
        treedefs, specs, paths = [], [], []
        for a in args:
            lp, td = jax.tree_util.tree_flatten_with_path(a)
            treedefs.append(td)
            specs.append(tuple(canonical_spec(leaf) for _, leaf in lp))
            paths.append(tuple(jax.tree_util.keystr(p) for p, _ in lp))
        _check_selected(argnums_t, specs, paths, holomorphic, complex_patterns)
        kw_leaves, kw_td, traced = split_kwargs(kwargs)
        leaves = []
        for a in argnums_t:
            for path, spec in zip(paths[a], specs[a]):
                leaves.append(LeafSpec(a, path, tuple(spec.shape), np.dtype(spec.dtype).name))
        in_treedef = (
            treedefs[argnums_t[0]]
            if single
            else jax.tree_util.tree_structure(tuple(args[a] for a in argnums_t))
        )
        structure = Structure(tuple(leaves), argnums=argnums_t, treedef=in_treedef)
        return cls(
            argnums_t,
            single,
            bool(has_aux),
            bool(holomorphic),
            tuple(treedefs),
            tuple(specs),
            tuple(paths),
            tuple(kw_leaves),
            kw_td,
            tuple(traced),
            structure,
        )

    @property
    def argnums_arg(self) -> int | tuple[int, ...]:
        """``argnums`` as the user gave it (an int or a tuple)."""
        return self.argnums[0] if self.single else self.argnums

    @property
    def n(self) -> int:
        """Number of differentiated elements (the Jacobian's columns)."""
        return self.in_structure.size

    def trace_key(self) -> Hashable | None:
        """What a trace of ``f`` for this call depends on besides ``f`` itself (as
        ``jax.jit``'s cache key), or ``None`` when a static value is unhashable."""
        statics = tuple(
            None if traced else (type(x), x) for x, traced in zip(self.kw_leaves, self.kw_traced)
        )
        key = (
            self.argnums,
            self.has_aux,
            self.holomorphic,
            self.arg_treedefs,
            self.arg_specs,
            self.kw_treedef,
            self.kw_traced,
            statics,
            tuple(self.traced_specs()),
        )
        try:
            hash(key)
        except TypeError:
            return None
        return key

    # -- the function seen flat ------------------------------------------------
    def traced_specs(self) -> list[jax.ShapeDtypeStruct]:
        """Specs of every traced leaf: positional leaves, then traced keyword leaves."""
        kw = [canonical_spec(x) for x, t in zip(self.kw_leaves, self.kw_traced) if t]
        return [s for specs in self.arg_specs for s in specs] + kw

    def selected_positions(self) -> list[tuple[int, int]]:
        """``(index among the traced leaves, column offset)`` of each selected leaf."""
        counts = [len(s) for s in self.arg_specs]
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        out, offset = [], 0
        for a in self.argnums:
            for k, spec in enumerate(self.arg_specs[a]):
                out.append((int(starts[a] + k), offset))
                offset += int(np.prod(spec.shape, dtype=np.int64))
        return out

    def rebuild(self, dyn: Sequence[Any]) -> tuple[list[Any], dict]:
        """Positional and keyword arguments from the traced leaves (statics put back)."""
        pos = 0
        call_args = []
        for td, specs in zip(self.arg_treedefs, self.arg_specs):
            call_args.append(jax.tree_util.tree_unflatten(td, dyn[pos : pos + len(specs)]))
            pos += len(specs)
        kw_it = iter(dyn[pos:])
        kw_vals = [next(kw_it) if t else x for x, t in zip(self.kw_leaves, self.kw_traced)]
        return call_args, jax.tree_util.tree_unflatten(self.kw_treedef, kw_vals)

    def traced_leaves(self, args: Sequence[Any], kwargs: dict) -> list[Any]:
        """The traced leaves of a call (positional leaves, then array keyword leaves)."""
        out = [leaf for a in args for leaf in jax.tree_util.tree_leaves(a)]
        kw_leaves = jax.tree_util.tree_leaves(kwargs)
        return out + [x for x in kw_leaves if is_array_like(x)]

    def kw_dynamic(self, kwargs: dict) -> list[Any]:
        """The traced (array) leaves of a call's keyword arguments."""
        return [x for x in jax.tree_util.tree_leaves(kwargs) if is_array_like(x)]

    def kwargs_with(self, kw_dynamic: Sequence[Any]) -> dict:
        """Keyword arguments from their traced leaves and the model's static values."""
        it = iter(kw_dynamic)
        vals = [next(it) if t else x for x, t in zip(self.kw_leaves, self.kw_traced)]
        return jax.tree_util.tree_unflatten(self.kw_treedef, vals)

    def flat_fun(self, f: Callable, drop_aux: bool = True) -> Callable:
        """``f`` as a function of the traced leaves (for tracing to a jaxpr)."""

        def fun(*dyn):
            call_args, call_kwargs = self.rebuild(dyn)
            out = f(*call_args, **call_kwargs)
            if self.has_aux and drop_aux:
                out = split_aux(out)[0]
            return out

        return fun

    def flat_function(
        self, f: Callable, args: Sequence[Any], kwargs: dict, aux: AuxSplit | None = None
    ) -> tuple[Callable, jax.Array]:
        """``(g, x)``: ``g(x_flat) -> (y_flat, aux)`` with ``x`` the raveled selected
        arguments of this call (the other arguments and keyword arguments bound).

        With an :class:`AuxSplit`, ``g`` returns only the array leaves of ``aux``
        and the split keeps the others, so that they can leave a ``jax.jit``.
        """
        selected = tuple(args[i] for i in self.argnums)
        x, unravel = ravel_pytree(selected)

        def g(x_flat):
            call = list(args)
            for i, v in zip(self.argnums, unravel(x_flat)):
                call[i] = v
            out = f(*call, **kwargs)
            a = None
            if self.has_aux:
                out, a = split_aux(out)
                if aux is not None:
                    a = aux.strip(a)
            y, _ = ravel_pytree(out)
            return y, a

        return g, jnp.asarray(x)


class AuxSplit:
    """The ``aux`` of a ``has_aux`` function split into array leaves (traced, they
    pass through ``jax.jit``) and other leaves (kept here as Python values), as
    ``jax.jacrev`` passes any ``aux`` through unchanged."""

    def __init__(self) -> None:
        self.treedef: Any = None
        self.static: dict[int, Any] = {}

    def strip(self, aux: Any) -> list[Any]:
        leaves, self.treedef = jax.tree_util.tree_flatten(aux)
        self.static = {i: x for i, x in enumerate(leaves) if not is_array_like(x)}
        return [x for i, x in enumerate(leaves) if i not in self.static]

    def join(self, arrays: Sequence[Any]) -> Any:
        it = iter(arrays)
        n = len(self.static) + len(arrays)
        leaves = [self.static[i] if i in self.static else next(it) for i in range(n)]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def _check_selected(argnums, specs, paths, holomorphic: bool, complex_ok: bool) -> None:
    for a in argnums:
        for path, spec in zip(paths[a], specs[a]):
            dtype = np.dtype(spec.dtype)
            where = f"argument {a}" + (f" (leaf {path})" if path else "")
            if not jax.dtypes.issubdtype(dtype, np.inexact):
                raise TypeError(
                    f"{where} has dtype {dtype.name}; differentiated arguments must be floating "
                    "point (real, or complex with holomorphic=True). Select other arguments "
                    "with argnums, or cast."
                )
            is_complex = jax.dtypes.issubdtype(dtype, np.complexfloating)
            if is_complex and not holomorphic and not complex_ok:
                raise TypeError(
                    f"{where} has complex dtype {dtype.name}: as in jax.jacfwd, complex inputs "
                    "need holomorphic=True (for a holomorphic f), or split them into real and "
                    "imaginary parts"
                )
            if holomorphic and not is_complex:
                raise TypeError(
                    f"holomorphic=True needs complex inputs, as in jax.jacfwd; {where} has "
                    f"dtype {dtype.name}"
                )
