"""Prepared sparse derivatives: detection and coloring once, evaluation many times.

``jacobian(f, *sample_args, ...)`` and ``hessian(...)`` return a callable
object. Calling it evaluates the derivative at new arguments of the prepared
shapes and dtypes with one AD pass per color, jit-compiled once per signature
(no re-tracing of ``f`` on later calls). The object is a pytree without
leaves, so it can be passed through ``jax.jit``; its call is pure JAX
(``jax.jit``, ``jax.vmap`` apply) for the JAX output formats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..coloring import ColoringResult
from ..decompression.formats import (
    HOST_FORMATS,
    build_output,
    check_format,
    host_output,
    output_arrays,
    triangle,
)
from ..decompression.jax_plan import JaxPlan, fenced, gather
from ..detection import compat, hessian_sparsity, jacobian_sparsity
from ..patterns import SparsityPattern
from . import modes as _modes
from .flat import Signature, flat_function, normalize_argnums, split_kwargs
from .products import hvp_products, jvp_products, map_products, vjp_products
from .sharding import constrain_leading, resolve_mesh

__all__ = ["SparseDerivative", "CompressedDerivative"]

#: primitives whose recomputation in a fused scalar gather loop is costly
_TRANSCENDENTAL = (
    "exp",
    "exp2",
    "log",
    "log1p",
    "expm1",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "logistic",
    "pow",
    "erf",
    "erfc",
    "erf_inv",
    "lgamma",
    "digamma",
    "igamma",
    "igammac",
    "bessel_i0e",
    "bessel_i1e",
    "cbrt",
    "polygamma",
    "zeta",
    "random_gamma_grad",
)


class SparseDerivative:
    """A prepared sparse Jacobian or Hessian of ``f`` (see :func:`jacobian`)."""

    def __init__(
        self,
        f: Callable,
        kind: str,
        args: tuple,
        kwargs: dict,
        *,
        argnums: Any = 0,
        has_aux: bool = False,
        mode: str | None = None,
        output_format: str = "bcoo",
        chunk_size: int | None = None,
        triangle: str | None = None,
        with_value: bool = False,
        sparsity: SparsityPattern | None = None,
        coloring: ColoringResult | None = None,
        devices: Any = None,
    ):
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        self.f = f
        self.kind = kind
        self.argnums, self._single = normalize_argnums(argnums, len(args))
        self.has_aux = has_aux
        self.output_format = check_format(output_format)
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive int or None; got {chunk_size!r}")
        self.chunk_size = chunk_size
        self.with_value = with_value
        if triangle is not None and kind != "hessian":
            raise ValueError("triangle= applies to Hessians only")
        self.signature = Signature.of(args, kwargs)
        argnums_arg = self.argnums[0] if self._single else self.argnums
        if sparsity is None:
            if coloring is not None:
                sparsity = coloring.pattern
            else:
                detect = jacobian_sparsity if kind == "jacobian" else hessian_sparsity
                sparsity = detect(f, *args, argnums=argnums_arg, has_aux=has_aux, **kwargs)
        self.sparsity = self._checked_pattern(sparsity, f, args, kwargs, argnums_arg)
        if coloring is not None:
            if coloring.pattern.shape != self.sparsity.shape:
                raise ValueError(
                    f"the coloring is for a {coloring.pattern.shape} pattern; this {kind} is "
                    f"{self.sparsity.shape}"
                )
            self.mode = _mode_of(coloring, kind)
            self.coloring = coloring
        else:
            forward_ok = kind == "hessian" or self._forward_supported(args, kwargs)
            choice = _modes.choose(self.sparsity, kind, mode, forward_ok=forward_ok)
            self.mode, self.coloring = choice.mode, choice.coloring
        self._tri = triangle
        self._tri_idx = triangle_positions = _triangle(self.sparsity, triangle)
        self.output_pattern = (
            self.sparsity
            if triangle_positions is None
            else SparsityPattern(
                np.asarray(self.sparsity.rows)[triangle_positions],
                np.asarray(self.sparsity.cols)[triangle_positions],
                self.sparsity.shape,
                input_structure=self.sparsity.input_structure,
                output_structure=self.sparsity.output_structure,
                canonical=True,
            )
        )
        self._options = dict(
            argnums=argnums,
            has_aux=has_aux,
            mode=mode,
            output_format=output_format,
            chunk_size=chunk_size,
            triangle=triangle,
            with_value=with_value,
        )
        self._options["devices"] = devices
        self.mesh = resolve_mesh(devices) if self.num_colors > 1 else None
        # split of the leading (color) axis of seeds and products over the mesh
        self._constrain = (
            None if self.mesh is None else functools.partial(constrain_leading, mesh=self.mesh)
        )
        self._variants: dict = {}
        self._fence = self._costly_elementwise(args, kwargs)
        self._setup_evaluation()
        self._jitted = jax.jit(self._evaluate)

    def _reprepare(self, args, kwargs) -> SparseDerivative:
        return SparseDerivative(self.f, self.kind, args, kwargs, **self._options)

    # -- preparation helpers ------------------------------------------------
    def _checked_pattern(self, sparsity, f, args, kwargs, argnums_arg) -> SparsityPattern:
        if not isinstance(sparsity, SparsityPattern):
            raise TypeError(f"sparsity must be a SparsityPattern, got {type(sparsity).__name__}")
        n = sum(
            int(np.prod(np.shape(x)))
            for i in self.argnums
            for x in jax.tree_util.tree_leaves(args[i])
        )
        if sparsity.n != n:
            raise ValueError(
                f"the sparsity pattern has {sparsity.n} columns but the selected arguments have "
                f"{n} elements"
            )
        if self.kind == "hessian" and sparsity.m != n:
            raise ValueError(f"a Hessian pattern must be square ({n}×{n}); got {sparsity.shape}")
        return sparsity

    def _costly_elementwise(self, args, kwargs) -> bool:
        """Whether ``f`` evaluates transcendental functions (exp, sin, tanh, ...).

        Decides the decompression fence (:func:`~sparsediff.decompression.jax_plan.fenced`):
        XLA fuses a gather with the products it reads, recomputing every gathered
        element in a scalar loop. That is the fastest form when the products
        are cheap (XLA folds their linear part on the constant seeds, leaving a
        few multiplications), and far slower when they carry transcendental
        functions, which then run unvectorised; the products are materialised
        first in that case only.
        """

        def probe(a, k):
            g, x = flat_function(self.f, a, k, self.argnums, self.has_aux)
            return g(x)[0]

        try:
            closed = jax.make_jaxpr(probe)(args, kwargs)
        except Exception:  # noqa: BLE001 - failures surface at evaluation
            return True
        return compat.contains_primitive(closed.jaxpr, *_TRANSCENDENTAL)

    def _forward_supported(self, args, kwargs) -> bool:
        """Whether JAX can run forward mode through ``f`` (not through custom_vjp)."""

        def probe(a, k):
            g, x = flat_function(self.f, a, k, self.argnums, self.has_aux)
            return jax.jvp(lambda z: g(z)[0], (x,), (x,))

        try:
            closed = jax.make_jaxpr(probe)(args, kwargs)
        except TypeError as err:
            if "custom_vjp" in str(err) or "forward-mode" in str(err):
                return False
            raise
        except Exception:  # noqa: BLE001 - other failures surface at evaluation
            return True
        # JAX stages the refusal (a custom_lin or unreachable equation) for run time
        return not compat.contains_primitive(closed.jaxpr, "unreachable", "custom_lin")

    def _setup_evaluation(self) -> None:
        c = self.coloring
        self._plan = None if c is None else JaxPlan.from_plan(c.plan)
        self._blocks = () if c is None else tuple(name for name, _ in c.plan.blocks)
        self._fwd_seeds = None if c is None else np.ascontiguousarray(c.forward_seeds(np.float32).T)
        self._rev_seeds = None if c is None else np.ascontiguousarray(c.reverse_seeds(np.float32).T)
        self._device_arrays: dict | None = None
        self._out_treedef = None
        self._setup_eval_order()
        # fast path of the signature check: one plain array per positional argument
        self._plain_avals = None
        if not self.signature.kw_avals and not self.signature.static:
            td_leaf = jax.tree_util.tree_structure(0)
            if all(td == td_leaf for td in self.signature.arg_treedefs):
                self._plain_avals = tuple(
                    (shape, np.dtype(dtype)) for ((shape, dtype),) in self.signature.arg_avals
                )

    def _setup_eval_order(self) -> None:
        """Evaluation order of the values for BCOO and dense outputs.

        When every nonzero is read directly from the compressed products, the
        values are produced in the order of those reads (the products' memory
        order) and the output's indices are permuted once here instead: no
        permutation of the values at evaluation, and none at all when every
        compressed entry is a nonzero. Other formats keep the row-major order.
        """
        self._eval_order = None
        self._eval_identity = False
        self._eval_src = None
        self._eval_runs = None
        plan = self._plan
        if plan is None or not plan.nnz or plan.subst_nz.size:
            return
        if self.output_format not in ("bcoo", "dense"):
            return
        src = np.empty(plan.nnz, dtype=np.int64)
        src[np.asarray(plan.direct_nz, dtype=np.int64)] = plan.direct_src
        if self._tri_idx is not None:
            src = src[self._tri_idx]
        order = np.argsort(src, kind="stable")
        src = src[order]
        self._eval_order = order
        self._eval_identity = src.size == plan.size and bool(
            np.array_equal(src, np.arange(plan.size))
        )
        self._eval_src = src.astype(plan.direct_src.dtype)
        self._eval_runs = None
        if src.size and not self._eval_identity:
            breaks = np.flatnonzero(np.diff(src) != 1) + 1
            if breaks.size < _MAX_RUNS:
                starts = src[np.concatenate([[0], breaks])]
                lengths = np.diff(np.concatenate([[0], breaks, [src.size]]))
                runs = _segments(starts, starts + lengths, self._block_shapes())
                self._eval_runs = runs if len(runs) <= 2 * _MAX_RUNS else None

    def _block_shapes(self) -> list[tuple[int, int]]:
        """(colors, length) of each block of compressed products, in plan order:
        JVPs have the output's length, VJPs the input's."""
        m, n = self.sparsity.shape
        shapes = []
        for name in self._blocks:
            if name == "forward":
                shapes.append((self._fwd_seeds.shape[0], m))
            else:
                shapes.append((self._rev_seeds.shape[0], n))
        return shapes

    def _wrap(self, values):
        """BCOO / BCSR around the values and the prepared index arrays.

        The container's tree structure is built once (its constructor validates
        its inputs, which costs more than a small evaluation); later calls only
        unflatten it around the new values.
        """
        out = self._device()["out"]
        index_leaves = (
            [out["indices"]]
            if self.output_format == "bcoo"
            else [
                out["indices"],
                out["indptr"],
            ]
        )
        if self._out_treedef is None:
            template = build_output(
                values,
                self.output_pattern,
                self.output_format,
                out,
                indices_sorted=self._eval_order is None,
            )
            self._out_treedef = jax.tree_util.tree_structure(template)
            return template
        return jax.tree_util.tree_unflatten(self._out_treedef, [values, *index_leaves])

    def _pattern_values(self, raw: Any) -> np.ndarray:
        """Host copy of raw values, back in the output pattern's row-major order."""
        raw = np.asarray(raw)
        if self._eval_order is None:
            return raw
        out = np.empty_like(raw)
        out[self._eval_order] = raw
        return out

    def _decompress(self, blocks: list, dev):
        """Nonzero values (evaluation or pattern order) from the compressed
        products, one ``(colors, length)`` array per block of the plan."""
        if self._eval_runs is not None:
            # a few contiguous runs: slices of the products and one concatenation,
            # no gather (slicing each product, not their flat concatenation, lets
            # XLA write every slice straight from the fused product)
            return jnp.concatenate([blocks[k][c, a:b] for k, c, a, b in self._eval_runs])
        flat = jnp.concatenate([b.reshape(-1) for b in blocks])
        if self._eval_order is not None:
            if self._eval_identity:
                return flat
            return self._fenced(lambda f, d: gather(f, d["eval_src"]), flat, dev)
        if not self._plan.nnz:
            return flat[:0]

        def decompress(f, d):
            values = self._plan.values(f, d["plan"])
            return gather(values, d["tri"]) if self._tri_idx is not None else values

        return self._fenced(decompress, flat, dev)

    def _fenced(self, fn, flat, dev):
        return fenced(fn, flat, dev) if self._fence else fn(flat, dev)

    def _seeds(self, block: str, dtype) -> jax.Array:
        """The 0/1 seed matrix of a block, ``(colors, size)``, as a constant of the
        evaluation: XLA folds the linear part of the products on constant seeds
        (the stencil of a PDE residual applied to a seed is computed once, at
        compilation), which passing them as arguments would forbid."""
        seeds = self._fwd_seeds if block == "forward" else self._rev_seeds
        return jnp.asarray(seeds, dtype)

    def _device(self) -> dict:
        """Decompression and output index arrays on the device (built on first use).

        They enter the jitted evaluation as arguments, not as embedded constants.
        """
        if self._device_arrays is None:
            # concrete arrays even when the first call happens under a trace
            with jax.ensure_compile_time_eval():
                self._device_arrays = self._build_device_arrays()
        return self._device_arrays

    def _build_device_arrays(self) -> dict:
        dev: dict = {}
        if self._eval_order is not None:
            if not self._eval_identity and self._eval_runs is None:
                dev["eval_src"] = jnp.asarray(self._eval_src)
        elif self._plan is not None:
            dev["plan"] = self._plan.arrays()
        if self._tri_idx is not None and self._eval_order is None:
            dev["tri"] = jnp.asarray(self._tri_idx.astype(np.int32))
        dev["out"] = output_arrays(self.output_pattern, self.output_format, self._eval_order)
        return dev

    def _matches_fast(self, args: tuple) -> bool:
        plain = self._plain_avals
        if plain is None or len(args) != len(plain):
            return False
        for a, (shape, dtype) in zip(args, plain):
            if not isinstance(a, jax.Array | np.ndarray) or a.shape != shape or a.dtype != dtype:
                return False
        return True

    def _raw(self, args: tuple, traced: dict):
        """The jitted evaluation: a tuple whose derivative entry holds the nonzero
        values for the sparse JAX formats (wrapped by :meth:`__call__`)."""
        return self._jitted(args, traced, self._device())

    @property
    def num_colors(self) -> int:
        """AD passes per evaluation (the number of inputs or outputs for dense modes)."""
        if self.coloring is not None:
            return self.coloring.num_colors
        m, n = self.sparsity.shape
        return m if self.mode == "dense_rev" else n

    # -- evaluation ------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and self._matches_fast(args):
            return self._finish(self._raw(args, {}))
        sig = Signature.of(args, kwargs)
        if sig != self.signature and sig.same_arrays(self.signature):
            # only static keyword arguments differ: prepare for them (cached)
            variant = self._variants.get(sig)
            if variant is None:
                variant = self._variants[sig] = self._reprepare(args, kwargs)
            return variant(*args, **kwargs)
        if sig != self.signature:
            raise ValueError(
                f"this sparse {self.kind} was prepared for other arguments: "
                f"{self.signature.describe_mismatch(sig)}. Prepare it again for these "
                "(or use the lazy form sparsediff.jacobian(f) without sample arguments)."
            )
        traced, _ = split_kwargs(kwargs)
        return self._finish(self._raw(args, traced))

    def _finish(self, out):
        # position of the derivative in the returned tuple
        pos = len(out) - 1 if self.with_value else 0
        if self.output_format in HOST_FORMATS:
            values = out[pos]
            if isinstance(values, jax.core.Tracer):
                raise TypeError(
                    f"output_format={self.output_format!r} builds a host (scipy/numpy) object "
                    "and cannot be used under jax.jit or jax.vmap; use 'bcoo', 'bcsr' or 'dense'"
                )
            mat = host_output(values, self.output_pattern, self.output_format)
            out = (*out[:pos], mat, *out[pos + 1 :])
        elif self.output_format == "compressed":
            out = (*out[:pos], CompressedDerivative(out[pos], self), *out[pos + 1 :])
        elif self.output_format in ("bcoo", "bcsr"):
            out = (*out[:pos], self._wrap(out[pos]), *out[pos + 1 :])
        if not self.with_value and not self.has_aux:
            return out[0]
        return out

    def _evaluate(self, args: tuple, traced: dict, dev: dict):
        kwargs = dict(traced)
        kwargs.update(dict(self.signature.static))
        g, x = flat_function(self.f, args, kwargs, self.argnums, self.has_aux)
        if self.kind == "hessian":
            return self._evaluate_hessian(g, x, args, dev)
        y, aux, values = self._jacobian_values(g, x, dev)
        return self._package(self._format(values, dev), y, aux, args, kwargs)

    def _jacobian_values(self, g, x, dev):
        mode = self.mode
        rows = np.asarray(self.sparsity.rows)
        cols = np.asarray(self.sparsity.cols)
        if mode in ("dense_fwd", "dense_rev"):
            eye_n = jnp.eye(x.size, dtype=x.dtype)
            if mode == "dense_fwd":
                y, aux, prods = jvp_products(
                    g, x, eye_n, self.chunk_size, self._constrain
                )  # (n, m)
                return y, aux, prods[cols, rows]
            y, vjp_fn, aux = jax.vjp(g, x, has_aux=True)
            eye_m = jnp.eye(y.size, dtype=y.dtype)
            prods = map_products(
                lambda s: vjp_fn(s)[0], eye_m, self.chunk_size, self._constrain
            )  # (m, n)
            return y, aux, prods[rows, cols]
        parts = {}
        y = aux = None
        if "forward" in self._blocks and "reverse" in self._blocks:
            # bicoloring: one linearisation serves both the JVPs and, transposed,
            # the VJPs (no second forward pass)
            y, jvp_fn, aux = jax.linearize(g, x, has_aux=True)
            b = map_products(
                jvp_fn, self._seeds("forward", x.dtype), self.chunk_size, self._constrain
            )
            vjp_fn = jax.linear_transpose(jvp_fn, x)
            c = map_products(
                lambda s: vjp_fn(s)[0],
                self._seeds("reverse", y.dtype),
                self.chunk_size,
                self._constrain,
            )
            parts["forward"], parts["reverse"] = b, c
        elif "forward" in self._blocks:
            y, aux, b = jvp_products(
                g, x, self._seeds("forward", x.dtype), self.chunk_size, self._constrain
            )
            parts["forward"] = b
        elif "reverse" in self._blocks:
            y2, aux2, c = self._reverse(g, x, dev)
            parts["reverse"] = c
            if y is None:
                y, aux = y2, aux2
        if y is None:  # no blocks (empty pattern): still compute the value
            y, aux = g(x)
        if not self._plan.nnz:
            return y, aux, jnp.zeros(0, x.dtype)
        return y, aux, self._decompress([parts[name] for name in self._blocks], dev)

    def _reverse(self, g, x, dev):
        y_shape = jax.eval_shape(lambda z: g(z)[0], x)
        seeds = self._seeds("reverse", y_shape.dtype)
        return vjp_products(g, x, seeds, self.chunk_size, self._constrain)

    def _evaluate_hessian(self, g, x, args, dev):
        def scalar(z):
            y, aux = g(z)
            if y.size != 1:
                raise ValueError(
                    f"hessian needs a scalar-valued f; its output has {y.size} elements"
                )
            return y.reshape(()), aux

        rows = np.asarray(self.sparsity.rows)
        cols = np.asarray(self.sparsity.cols)
        if self.mode == "dense":
            seeds = jnp.eye(x.size, dtype=x.dtype)
            value, grad, aux, prods = hvp_products(
                scalar, x, seeds, self.chunk_size, self._constrain
            )
            values = prods[cols, rows]
            if self._tri_idx is not None:
                values = values[self._tri_idx]
        else:
            seeds = self._seeds("forward", x.dtype)
            value, grad, aux, prods = hvp_products(
                scalar, x, seeds, self.chunk_size, self._constrain
            )
            values = self._decompress([prods], dev)
        result = self._format(values, dev)
        if not self.with_value:
            return (result, aux) if self.has_aux else (result,)
        _, unravel = ravel_pytree(tuple(args[i] for i in self.argnums))
        grad_tree = unravel(grad)
        grad_tree = grad_tree[0] if self._single else grad_tree
        val = (value, aux) if self.has_aux else value
        return (val, grad_tree, result)

    def _format(self, values, dev):
        """Inside the jit: the dense output is scattered here; the sparse formats
        return their values, wrapped with the prepared indices by ``__call__``."""
        if self.output_format == "dense":
            return build_output(values, self.output_pattern, "dense", dev["out"])
        return values

    def _package(self, result, y, aux, args, kwargs):
        if not self.with_value:
            return (result, aux) if self.has_aux else (result,)
        out_shape = jax.eval_shape(
            lambda *a: self.f(*a, **kwargs)[0] if self.has_aux else self.f(*a, **kwargs), *args
        )
        _, unravel_out = ravel_pytree(
            jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)
        )
        value = unravel_out(y)
        val = (value, aux) if self.has_aux else value
        return (val, result)

    def __repr__(self) -> str:
        m, n = self.sparsity.shape
        return (
            f"Sparse{self.kind.capitalize()}({m}×{n}, nnz={self.sparsity.nnz}, mode={self.mode!r}, "
            f"passes={self.num_colors}, output_format={self.output_format!r})"
        )


#: at most this many contiguous runs of compressed entries are sliced instead of gathered
_MAX_RUNS = 32


def _segments(starts, stops, shapes) -> tuple:
    """Flat runs ``[start, stop)`` of the concatenated, row-major product blocks
    as slices ``(block, row, lo, hi)`` of single products."""
    offsets = np.cumsum([0] + [c * n for c, n in shapes])
    out = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        while a < b:
            k = int(np.searchsorted(offsets, a, side="right")) - 1
            n = shapes[k][1]
            row, lo = divmod(a - int(offsets[k]), n)
            hi = min(n, lo + (b - a))
            out.append((k, row, lo, hi))
            a += hi - lo
    return tuple(out)


def _triangle(pattern: SparsityPattern, which: str | None):
    return triangle(pattern, which)


def _mode_of(c: ColoringResult, kind: str) -> str:
    from ..coloring import BidirectionalProblem, ColumnProblem, RowProblem, SymmetricProblem

    if isinstance(c.problem, ColumnProblem):
        return "column" if kind == "hessian" else "fwd"
    if kind == "hessian" and not isinstance(c.problem, SymmetricProblem):
        raise ValueError(
            f"a Hessian needs a symmetric (star or acyclic) or column coloring; got a "
            f"{type(c.problem).__name__} coloring"
        )
    if isinstance(c.problem, RowProblem):
        return "rev"
    if isinstance(c.problem, BidirectionalProblem):
        return "bidirectional"
    if isinstance(c.problem, SymmetricProblem):
        return "acyclic" if c.problem.decompression == "substitution" else "star"
    raise ValueError(f"unsupported coloring problem {c.problem!r}")


jax.tree_util.register_pytree_node(
    SparseDerivative,
    lambda d: ((), d),
    lambda d, _: d,
)


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
