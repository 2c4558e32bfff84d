"""Public entry points: sparse ``jacobian`` / ``hessian`` and their value forms."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, overload

import jax

from ..arguments import Signature
from .pipeline import validate_options
from .prepared import SparseDerivative

__all__ = ["jacobian", "hessian", "value_and_jacobian", "value_and_hessian", "LazyDerivative"]


class LazyDerivative:
    """A sparse derivative prepared on first call, cached by input signature.

    Like ``jax.jit``, it prepares (detection and coloring) once per structure,
    shapes, dtypes and static keyword arguments of the call.
    """

    def __init__(self, f: Callable, kind: str, options: dict):
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        self.f = f
        self.kind = kind
        self.options = options
        self._cache: dict[Signature, SparseDerivative] = {}

    def prepare(self, *args: Any, **kwargs: Any) -> SparseDerivative:
        sig = Signature.of(args, kwargs)
        prepared = self._cache.get(sig)
        if prepared is None:
            prepared = self._cache[sig] = SparseDerivative(
                self.f, self.kind, args, kwargs, **self.options
            )
        return prepared

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.prepare(*args, **kwargs)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazySparse{self.kind.capitalize()}({len(self._cache)} prepared signature(s))"


jax.tree_util.register_pytree_node(LazyDerivative, lambda d: ((), d), lambda d, _: d)


_OPTION_NAMES = (
    "argnums",
    "has_aux",
    "holomorphic",
    "verify",
    "mode",
    "output_format",
    "chunk_size",
    "sparsity",
    "coloring",
    "triangle",
    "devices",
)


def _options(scope: dict, with_value: bool = False) -> dict:
    """The preparation options among a public function's arguments."""
    opts = {k: scope[k] for k in _OPTION_NAMES if k in scope}
    if with_value:
        opts["with_value"] = True
    return opts


@functools.cache
def _defaults() -> dict[str, Any]:
    """The options' defaults, read from the public signatures."""
    params = {**inspect.signature(jacobian).parameters, **inspect.signature(hessian).parameters}
    return {name: params[name].default for name in _OPTION_NAMES}


def _given(name: str, value: Any) -> bool:
    """Whether ``value`` differs from the option's default (so was given)."""
    default = _defaults()[name]
    if value is default:
        return False
    return not (
        type(value) is type(default) and isinstance(value, (bool, int, str)) and value == default
    )


def _warn_shadowed(kind: str, f: Callable, options: dict) -> None:
    """Warn where ``f`` has a parameter named like an option that was given: the value
    is sparsediff's, and ``f`` gets its own default (silently, without the warning)."""
    try:
        params = inspect.signature(f).parameters
    except (TypeError, ValueError):  # builtins and other objects without a signature
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    public = ("value_and_" if options.get("with_value") else "") + kind
    for name, value in options.items():
        p = params.get(name)
        if p is not None and p.kind in named and name in _OPTION_NAMES and _given(name, value):
            warnings.warn(
                f"f has a parameter named {name!r}, but sparsediff.{public} reads {name}= as "
                f"its own option and does not pass it to f; to give f's, bind it first: "
                f"functools.partial(f, {name}=...)",
                UserWarning,
                stacklevel=4,
            )


def _make(
    kind: str, f: Callable, sample_args: tuple, sample_kwargs: dict, options: dict
) -> SparseDerivative | LazyDerivative:
    _warn_shadowed(kind, f, options)
    # checked before any preparation: the lazy form would otherwise fail only at its first call
    validate_options(
        kind,
        options.get("mode"),
        options.get("output_format", "bcoo"),
        options.get("chunk_size"),
        options.get("triangle"),
    )
    if not sample_args:
        if sample_kwargs:
            raise TypeError(
                "keyword sample arguments need positional sample arguments too; call "
                f"sparsediff.{kind}(f) without samples to prepare lazily on the first call"
            )
        if options.get("sparsity") is not None or options.get("coloring") is not None:
            raise TypeError("sparsity= and coloring= need sample arguments")
        return LazyDerivative(f, kind, options)
    return SparseDerivative(f, kind, sample_args, sample_kwargs, **options)


@overload
def jacobian(f: Callable, /, **options: Any) -> LazyDerivative: ...
@overload
def jacobian(
    f: Callable, sample: Any, /, *sample_args: Any, **options: Any
) -> SparseDerivative: ...
def jacobian(
    f: Callable,
    /,
    *sample_args: Any,
    argnums: Any = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    mode: str | None = None,
    output_format: str = "bcoo",
    chunk_size: int | None = None,
    sparsity: Any = None,
    coloring: Any = None,
    devices: Any = None,
    verify: bool = True,
    **sample_kwargs: Any,
) -> SparseDerivative | LazyDerivative:
    """Prepare the sparse Jacobian of ``f``: one flat ``(m, n)`` sparse matrix.

    This is not a drop-in for ``jax.jacobian``, which returns a pytree of
    blocks shaped like the output and the inputs.  The result here is always
    a single matrix, in the format chosen by ``output_format``: its ``m`` rows
    are the output's leaves, each raveled in C order, one after the other in
    pytree order; its ``n`` columns are the differentiated arguments' leaves,
    likewise, in ``argnums`` order.  ``prepared.sparsity.output_structure`` and
    ``.input_structure`` describe that layout: their ``offsets`` give each
    leaf's range of rows or columns (``J[r0:r1, c0:c1]``, reshaped to
    ``out_leaf.shape + in_leaf.shape``, is ``jax.jacobian``'s block for that
    pair of leaves), and ``prepared.sparsity.locate_row(i)`` /
    ``locate_col(j)`` name the ``(argnum, leaf path, index)`` of a row or
    column.

    Detection and coloring run once, from the sample arguments' structure,
    shapes and dtypes (arrays or ``jax.ShapeDtypeStruct``); the returned object
    evaluates the Jacobian at new arguments with one AD pass per color. Without
    sample arguments, preparation happens on the first call (cached per input
    signature, like ``jax.jit``).

    Args:
        f: the function; its output may be any pytree of arrays.
        *sample_args: sample positional arguments (see
            :func:`sparsediff.jacobian_sparsity`).
        **sample_kwargs: sample keyword arguments (see
            :func:`sparsediff.jacobian_sparsity`). One named like an option
            below is taken as that option: bind such an argument of ``f`` first
            (``functools.partial(f, mode=...)``).
        argnums: the positional argument(s) to differentiate.
        has_aux: ``f`` returns ``(output, aux)``; the call returns ``(J, aux)``
            (``aux`` may be any pytree: its non-array leaves are passed through).
        holomorphic: as in ``jax.jacfwd``: needed (and only allowed) for complex
            inputs of a holomorphic ``f``; the result is then complex.
        mode: ``"fwd"`` (column coloring, JVPs), ``"rev"`` (row coloring, VJPs),
            ``"bidirectional"`` (bicoloring, JVPs and VJPs), ``"dense_fwd"`` /
            ``"dense_rev"`` (plain dense AD), or ``None`` to choose the cheapest
            (see :mod:`sparsediff.evaluation.modes`).
        output_format: ``"bcoo"`` (default), ``"bcsr"``, ``"dense"``,
            ``"scipy_csr"``, ``"scipy_csc"``, ``"scipy_coo"``, ``"numpy"`` or
            ``"compressed"``. Rows and columns follow the pattern's order.
        chunk_size: at most this many AD products in flight (bounds memory).
        sparsity: a :class:`~sparsediff.SparsityPattern` to use instead of detection.
        coloring: a :class:`~sparsediff.coloring.ColoringResult` to use (its
            problem sets the mode).
        devices: split the AD passes over several devices: ``None`` (all local
            devices when there are several), ``1`` (one device), an ``int``, a
            sequence of devices or a ``jax.sharding.Mesh`` (see
            :mod:`sparsediff.evaluation.sharding`).
        verify: with ``sparsity=`` or ``coloring=``, check on the first call
            that they cover ``f``'s derivative (one random product against JAX's
            own AD; a ``PatternMismatchError`` otherwise); ``False`` skips it.
    """
    options = _options(locals())
    return _make("jacobian", f, sample_args, sample_kwargs, options)


@overload
def value_and_jacobian(f: Callable, /, **options: Any) -> LazyDerivative: ...
@overload
def value_and_jacobian(
    f: Callable, sample: Any, /, *sample_args: Any, **options: Any
) -> SparseDerivative: ...
def value_and_jacobian(
    f: Callable,
    /,
    *sample_args: Any,
    argnums: Any = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    mode: str | None = None,
    output_format: str = "bcoo",
    chunk_size: int | None = None,
    sparsity: Any = None,
    coloring: Any = None,
    devices: Any = None,
    verify: bool = True,
    **sample_kwargs: Any,
) -> SparseDerivative | LazyDerivative:
    """Like :func:`jacobian`, returning ``(f(x), J)`` from the same AD passes
    (``((f(x), aux), J)`` with ``has_aux``)."""
    options = _options(locals(), with_value=True)
    return _make("jacobian", f, sample_args, sample_kwargs, options)


@overload
def hessian(f: Callable, /, **options: Any) -> LazyDerivative: ...
@overload
def hessian(f: Callable, sample: Any, /, *sample_args: Any, **options: Any) -> SparseDerivative: ...
def hessian(
    f: Callable,
    /,
    *sample_args: Any,
    argnums: Any = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    mode: str | None = None,
    output_format: str = "bcoo",
    chunk_size: int | None = None,
    sparsity: Any = None,
    coloring: Any = None,
    triangle: str | None = None,
    devices: Any = None,
    verify: bool = True,
    **sample_kwargs: Any,
) -> SparseDerivative | LazyDerivative:
    """Prepare the sparse Hessian of scalar-valued ``f``: one flat ``(n, n)`` sparse matrix.

    This is not a drop-in for ``jax.hessian``, which returns nested blocks
    shaped like the inputs.  The result here is always a single symmetric
    matrix (or only its ``triangle``), in the format chosen by
    ``output_format``: rows and columns are the differentiated arguments'
    leaves, each raveled in C order, in ``argnums`` and pytree order, as the
    columns of :func:`jacobian`; ``prepared.sparsity.input_structure`` (its
    ``offsets`` and ``locate``) maps them back to ``(argnum, leaf path, index)``.

    Hessian-vector products (forward over reverse), one per color of a star
    (``mode="star"``, direct decompression), acyclic (``mode="acyclic"``,
    substitution) or column (``mode="column"``, distance-2: direct reads from
    each column's own product, chosen when it needs no more colors than star)
    coloring, or ``"dense"``; ``None`` chooses. ``triangle="lower"``
    (or ``"upper"``) returns only that triangle, as Ipopt expects. Other options
    as in :func:`jacobian`.

    Star and acyclic colorings assume a symmetric Hessian. Custom derivative
    rules that disagree with ``f`` can make JAX's own ``jax.hessian``
    non-symmetric; for such a function whose pattern is not symmetric, ``None``
    chooses ``"column"`` (or ``"dense"``), whose values are ``jax.hessian``'s,
    and a user's pattern or coloring that cannot give them is refused on the
    first call (``PatternMismatchError``).

    Where JAX has no forward mode through ``f``'s gradient (a ``jax.custom_vjp``
    whose rules call a ``custom_vjp`` function, as ``jax.experimental.ode.odeint``
    does; ``jax.hessian`` fails there), the products are reverse over reverse and
    the values ``jax.jacrev(jax.grad(f))``'s.
    """
    options = _options(locals())
    return _make("hessian", f, sample_args, sample_kwargs, options)


@overload
def value_and_hessian(f: Callable, /, **options: Any) -> LazyDerivative: ...
@overload
def value_and_hessian(
    f: Callable, sample: Any, /, *sample_args: Any, **options: Any
) -> SparseDerivative: ...
def value_and_hessian(
    f: Callable,
    /,
    *sample_args: Any,
    argnums: Any = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    mode: str | None = None,
    output_format: str = "bcoo",
    chunk_size: int | None = None,
    sparsity: Any = None,
    coloring: Any = None,
    triangle: str | None = None,
    devices: Any = None,
    verify: bool = True,
    **sample_kwargs: Any,
) -> SparseDerivative | LazyDerivative:
    """Like :func:`hessian`, returning ``(f(x), ∇f(x), H)`` from the same passes
    (``((f(x), aux), ∇f(x), H)`` with ``has_aux``)."""
    options = _options(locals(), with_value=True)
    return _make("hessian", f, sample_args, sample_kwargs, options)
