"""Prepared sparse derivatives: a plan (:mod:`.pipeline`) plus its compiled evaluation.

``jacobian(f, *sample_args, ...)`` and ``hessian(...)`` return a callable
object. Calling it evaluates the derivative at new arguments of the prepared
signature with one AD pass per color, jit-compiled once (``f`` is traced once
for detection and once when the evaluation compiles). The object is a pytree
whose leaves are its index arrays, so a caller's ``jax.jit`` passes them as
arguments instead of embedding them; its call is pure JAX for the JAX formats.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from .. import cache
from ..arguments import AuxSplit, Signature
from ..decompression.formats import HOST_FORMATS, build_output, host_output
from .compute import Runner, format_values, hessian_values, jacobian_values
from .layout import device_arrays
from .pipeline import Plan, prepare
from .sharding import constrain_leading, resolve_mesh
from .verify import verify_user_pattern

__all__ = ["SparseDerivative", "CompressedDerivative"]

_UNBUILT = object()  # a cached value not built yet


class SparseDerivative:
    """A prepared sparse Jacobian or Hessian of ``f`` (see :func:`jacobian`)."""

    def __init__(
        self, f: Callable, kind: str, args: tuple, kwargs: dict, *, devices: Any = None,
        verify: bool = True, **options: Any,
    ):  # fmt: skip
        self.f = f
        cache.enable_compilation_cache()
        self.plan: Plan = prepare(f, kind, args, kwargs, **options)
        self._options = dict(options, devices=devices, verify=verify)
        self.mesh = resolve_mesh(devices) if self.plan.num_colors > 1 else None
        constrain = (
            None if self.mesh is None else functools.partial(constrain_leading, mesh=self.mesh)
        )
        self._run = Runner(self.plan, constrain, self.plan.facts.costly)
        self._verify_pending = verify and self.plan.verify_first_call
        self._variants: dict[Signature, SparseDerivative] = {}
        self._aux = AuxSplit()
        self._dev: dict | None = None
        self._out_treedef = None
        self._nz_index: Any = _UNBUILT
        self._nz_index_dev: tuple | None = None  # (device, index arrays on it)
        self._jitted = jax.jit(self._evaluate)
        self._plain = _plain_avals(self.plan.signature)

    # -- the plan's parts, by their public names --------------------------------
    kind = property(lambda self: self.plan.kind)
    sparsity = property(lambda self: self.plan.sparsity)
    output_pattern = property(lambda self: self.plan.output_pattern)
    mode = property(lambda self: self.plan.mode)
    coloring = property(lambda self: self.plan.coloring)
    num_colors = property(lambda self: self.plan.num_colors)
    output_format = property(lambda self: self.plan.output_format)
    with_value = property(lambda self: self.plan.with_value)
    signature = property(lambda self: self.plan.signature)
    argnums = property(lambda self: self.plan.model.argnums)
    has_aux = property(lambda self: self.plan.model.has_aux)

    def _device(self) -> dict:
        """Decompression and output index arrays on the device (built on first use);
        they enter the jitted evaluation as arguments, not as embedded constants."""
        if self._dev is None:
            with jax.ensure_compile_time_eval():  # concrete even under a trace
                p = self.plan
                self._dev = device_arrays(p.layout, p.output_pattern, p.output_format, p.tri_idx)
        return self._dev

    # -- evaluation ------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and self._plain is not None and _matches(args, self._plain):
            return self._finish_checked(args, kwargs, self._raw(args, []))
        sig = Signature.of(args, kwargs)
        if sig != self.plan.signature:
            if not sig.same_arrays(self.plan.signature):
                raise ValueError(self._mismatch(sig))
            # only static keyword values differ: prepare for them (cached)
            variant = self._variants.get(sig)
            if variant is None:
                variant = SparseDerivative(self.f, self.kind, args, kwargs, **self._options)
                self._variants[sig] = variant
            return variant(*args, **kwargs)
        return self._finish_checked(
            args, kwargs, self._raw(args, self.plan.model.kw_dynamic(kwargs))
        )

    def _mismatch(self, sig: Signature) -> str:
        return (
            f"this sparse {self.kind} was prepared for other arguments: "
            f"{self.plan.signature.describe_mismatch(sig)}. Prepare it again for these "
            "(or use the lazy form sparsediff.jacobian(f) without sample arguments)."
        )

    def nonzeros(self, *args: Any, **kwargs: Any) -> Any:
        """The derivative's nonzero values alone, in :attr:`output_pattern`'s row-major
        order (``output_pattern.rows`` / ``.cols`` say where each one goes).

        For callers that hold the pattern already, such as a solver's callback that is
        called thousands of times: no output object is built around the values. Takes
        the arguments of a call; static keyword arguments must be the preparation's,
        since for others the pattern may differ (call the derivative itself, which
        prepares for them). A derivative prepared with ``with_value`` or ``has_aux``
        has more than values to give, so it refuses.
        """
        if self.with_value or self.has_aux:
            raise TypeError(
                "nonzeros() returns the derivative's values only; this derivative was "
                "prepared with with_value or has_aux: call it instead"
            )
        if kwargs or self._plain is None or not _matches(args, self._plain):
            sig = Signature.of(args, kwargs)
            if sig != self.plan.signature:
                if sig.same_arrays(self.plan.signature):
                    raise ValueError(
                        "nonzeros() takes the static keyword arguments the derivative was "
                        f"prepared with ({self.plan.signature.describe_static()}); got "
                        f"{sig.describe_static()}. With others the pattern may differ from "
                        "output_pattern: call the derivative itself, which prepares for them."
                    )
                raise ValueError(self._mismatch(sig))
        out = self._raw(args, self.plan.model.kw_dynamic(kwargs) if kwargs else [])
        traced = _traced(args)
        if self._verify_pending and not traced:
            verify_user_pattern(self, args, kwargs, out[0])
            self._verify_pending = False
        index = self._nonzero_index()
        if index is None:
            return out[0]
        values = out[0]
        devices = None if traced else values.devices()
        if devices is None or len(devices) != 1:  # traced (constants there) or spread out
            return values[index]
        # called directly: the index on the values' device, kept, and one compiled gather
        # (indexing with the numpy array copied it to the device and dispatched op by op
        # each call: 0.4 ms for 10^3 values)
        (device,) = devices
        if self._nz_index_dev is None or self._nz_index_dev[0] != device:
            with jax.ensure_compile_time_eval():
                self._nz_index_dev = device, tuple(jax.device_put(i, device) for i in index)
        return _gather(values, self._nz_index_dev[1])

    def _nonzero_index(self) -> Any:
        """Where :meth:`nonzeros` reads the values from the raw output (None: as they
        are); built on first use and kept."""
        if self._nz_index is not _UNBUILT:
            return self._nz_index
        index: Any = None
        order = self.plan.layout.order
        if self.output_format == "dense":
            pattern = self.output_pattern
            index = np.asarray(pattern.rows), np.asarray(pattern.cols)
        elif order is not None:  # values in evaluation order (see .layout): pattern order
            index = np.empty_like(order)
            index[order] = np.arange(order.size, dtype=order.dtype)
            index = (index,)
        self._nz_index = index
        return index

    def _finish_checked(self, args, kwargs, out):
        if self._verify_pending and not _traced(args):
            verify_user_pattern(self, args, kwargs, out[len(out) - 1 if self.with_value else 0])
            self._verify_pending = False
        return self._finish(out)

    def _raw(self, args: tuple, kw_dynamic: list):
        """The jitted evaluation: a tuple whose derivative entry holds the nonzero
        values for the sparse JAX formats (wrapped by :meth:`_finish`)."""
        return self._jitted(args, kw_dynamic, self._device())

    def _evaluate(self, args: tuple, kw_dynamic: list, dev: dict):
        # The index arrays are arguments of the direct call, but constants of a
        # caller's jit that closes over this derivative: there XLA would rewrite the
        # gathers around their known values, which made the evaluation 1.2-1.3x
        # slower (arrowhead Hessian). The barrier keeps them opaque, as arguments are,
        # where XLA keeps barriers (its CPU pipeline removes them before fusion; there
        # small evaluations gained from the known indices: the LUKVLE1 Hessian at 10^3
        # variables took 62 µs inside a jit against 122 µs called directly).
        dev = jax.lax.optimization_barrier(dev) if dev else dev
        plan = self.plan
        kwargs = plan.model.kwargs_with(kw_dynamic)
        g, x = plan.model.flat_function(self.f, args, kwargs, self._aux)
        if plan.kind == "hessian":
            value, grad, aux, values = hessian_values(self._run, g, x, dev)
            result = format_values(plan, values, dev)
            if not plan.with_value:
                return (result, aux) if plan.model.has_aux else (result,)
            _, unravel = ravel_pytree(tuple(args[i] for i in plan.model.argnums))
            grad_tree = unravel(grad)
            grad_tree = grad_tree[0] if plan.model.single else grad_tree
            return ((value, aux) if plan.model.has_aux else value, grad_tree, result)
        y, aux, values = jacobian_values(self._run, g, x, dev)
        result = format_values(plan, values, dev)
        if not plan.with_value:
            return (result, aux) if plan.model.has_aux else (result,)
        value = self._unravel_output(y, args, kwargs)
        return ((value, aux) if plan.model.has_aux else value, result)

    def _unravel_output(self, y, args, kwargs):
        """The flat value back in ``f``'s output structure (from the pattern's
        output structure, without tracing ``f`` again where it is known)."""
        out = self.plan.sparsity.output_structure
        if out is None or out.treedef is None:  # a user's pattern without structure
            model = self.plan.model
            shapes = jax.eval_shape(model.flat_fun(self.f), *model.traced_specs())
            zeros = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
            return ravel_pytree(zeros)[1](y)
        leaves, start = [], 0
        for leaf in out.leaves:
            leaves.append(y[start : start + leaf.size].reshape(leaf.shape).astype(leaf.dtype))
            start += leaf.size
        return jax.tree_util.tree_unflatten(out.treedef, leaves)

    def _finish(self, out):
        pos = len(out) - 1 if self.with_value else 0  # the derivative's place
        fmt = self.output_format
        if fmt in HOST_FORMATS:
            if isinstance(out[pos], jax.core.Tracer):
                raise TypeError(
                    f"output_format={fmt!r} builds a host (scipy/numpy) object and cannot be "
                    "used under jax.jit or jax.vmap; use 'bcoo', 'bcsr' or 'dense'"
                )
            mat = host_output(out[pos], self.output_pattern, fmt)
        elif fmt == "compressed":
            mat = CompressedDerivative(out[pos], self)
        elif fmt in ("bcoo", "bcsr"):
            mat = self._wrap(out[pos])
        else:
            mat = out[pos]
        out = (*out[:pos], mat, *out[pos + 1 :])
        if self.has_aux:  # non-array leaves of aux rejoin the arrays
            if self.with_value:
                (value, aux), rest = out[0], out[1:]
                out = ((value, self._aux.join(aux)), *rest)
            else:
                out = (out[0], self._aux.join(out[1]))
        if not self.with_value and not self.has_aux:
            return out[0]
        return out

    def _wrap(self, values):
        """BCOO / BCSR around the values and the prepared index arrays. The tree
        structure is built once; later calls only unflatten it around the values."""
        out = self._device()["out"]
        leaves = (
            [out["indices"]] if self.output_format == "bcoo" else [out["indices"], out["indptr"]]
        )
        if self._out_treedef is None:
            template = build_output(
                values, self.output_pattern, self.output_format, out,
                indices_sorted=self.plan.layout.order is None,
            )  # fmt: skip
            self._out_treedef = jax.tree_util.tree_structure(template)
            return template
        return jax.tree_util.tree_unflatten(self._out_treedef, [values, *leaves])

    def __repr__(self) -> str:
        m, n = self.sparsity.shape
        return (
            f"Sparse{self.kind.capitalize()}({m}×{n}, nnz={self.sparsity.nnz}, mode={self.mode!r}, "
            f"passes={self.num_colors}, output_format={self.output_format!r})"
        )


def _plain_avals(sig: Signature) -> tuple | None:
    """``(shape, canonical dtype)`` per positional argument when each is one plain
    array and there are no keyword arguments: the fast path of the signature check."""
    if sig.kw_avals or sig.static:
        return None
    leaf = jax.tree_util.tree_structure(0)
    if not all(td == leaf for td in sig.arg_treedefs):
        return None
    return tuple((shape, np.dtype(dtype)) for ((shape, dtype),) in sig.arg_avals)


def _matches(args: tuple, plain: tuple) -> bool:
    if len(args) != len(plain):
        return False
    for a, (shape, dtype) in zip(args, plain):
        if not isinstance(a, jax.Array | np.ndarray) or a.shape != shape:
            return False
        if a.dtype != dtype and jax.dtypes.canonicalize_dtype(a.dtype) != dtype:
            return False
    return True


@jax.jit
def _gather(values: jax.Array, index: tuple) -> jax.Array:
    """``values[index]`` (one index array per axis), compiled."""
    return values[index]


def _traced(args: tuple) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(args))


def _flatten(d: SparseDerivative):
    return (d._device(),), d


def _unflatten(d: SparseDerivative, children) -> SparseDerivative:
    view = copy.copy(d)  # shares the plan, the compiled evaluation and the caches
    view._dev = children[0]
    return view


jax.tree_util.register_pytree_node(SparseDerivative, _flatten, _unflatten)


class CompressedDerivative:
    """The raw compressed result: nonzero values plus what decompressed them.

    ``values`` are the derivative's nonzeros in the pattern's row-major order
    (after decompression of the compressed products); ``pattern`` and
    ``coloring`` describe them. ``todense()`` / ``to_bcoo()`` assemble the matrix.
    """

    def __init__(self, values, derivative: SparseDerivative):
        self.values = values
        self.pattern = derivative.output_pattern
        self.coloring = derivative.coloring

    def todense(self):
        return build_output(self.values, self.pattern, "dense")

    def to_bcoo(self):
        return build_output(self.values, self.pattern, "bcoo")


jax.tree_util.register_pytree_node(
    CompressedDerivative,
    lambda c: ((c.values,), (c.pattern, c.coloring)),
    lambda aux, children: _rebuild_compressed(children[0], *aux),
)


def _rebuild_compressed(values, pattern, coloring):
    obj = object.__new__(CompressedDerivative)
    obj.values, obj.pattern, obj.coloring = values, pattern, coloring
    return obj
