"""Preparation as a pipeline of plain values.

``prepare`` runs each stage once, in data-flow order, each a function with a
typed input and output:

1. **arguments** (:class:`~sparsediff.arguments.CallModel`): structure,
   canonical dtypes, selection, static and traced keyword arguments;
2. **pattern** (:func:`find_pattern`): detection, one trace of ``f`` (of its
   gradient for Hessians), with the facts later stages need read from the same
   jaxpr; or a user's pattern / coloring, checked for shape;
3. **mode and coloring** (:func:`choose_coloring`): the cheapest AD mode and
   its coloring (:mod:`.modes`);
4. **output pattern** (:func:`select_triangle`): the whole pattern or one triangle;
5. **decompression layout** (:func:`~.layout.build_layout`).

The result, a frozen :class:`Plan`, is everything a
:class:`~sparsediff.evaluation.prepared.SparseDerivative` evaluates from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..arguments import CallModel, Signature
from ..coloring.result import ColoringResult
from ..decompression.formats import check_format, triangle
from ..detection import compat
from ..detection.api import detect, lacks_reverse_mode
from ..patterns import SparsityPattern
from . import modes
from .layout import Layout, build_layout
from .residuals import TRANSCENDENTAL

__all__ = ["Facts", "Plan", "prepare", "find_pattern", "choose_coloring", "select_triangle"]


@dataclass(frozen=True)
class Facts:
    """What the evaluation needs to know about ``f``'s program.

    ``forward_ok``: JAX can run forward mode through it (no ``custom_vjp``).
    ``reverse_ok``: reverse mode too (probed only when a reverse mode is chosen).
    ``costly``: it evaluates transcendental functions, so decompression is
    fenced off from the products (see :func:`~sparsediff.decompression.jax_plan.fenced`).
    ``transcendentals``: how many equations of its program (nested ones included)
    apply one (see :mod:`.residuals`).
    ``custom_rules``: it has custom derivative rules (``jax.custom_jvp`` or
    ``jax.custom_vjp``), which may disagree with the function, so that its
    Hessian need not be symmetric (see :mod:`.modes`). ``None`` where unknown: a
    detected Hessian's program is the gradient's, where JAX has applied the rules.
    """

    forward_ok: bool
    costly: bool
    reverse_ok: bool = True
    transcendentals: int = 0
    custom_rules: bool | None = None


@dataclass(frozen=True)
class Plan:
    """A prepared derivative's plan: the output of every preparation stage."""

    kind: str
    model: CallModel
    signature: Signature
    sparsity: SparsityPattern
    facts: Facts
    mode: str
    coloring: ColoringResult | None
    output_pattern: SparsityPattern
    tri_idx: np.ndarray | None
    layout: Layout
    output_format: str
    chunk_size: int | None
    with_value: bool
    #: the first concrete call compares with JAX's own product (.verify): for a user's
    #: pattern or coloring, and for a symmetric coloring forced on a Hessian pattern that
    #: is not symmetric, which is wrong where custom rules make the Hessian so
    verify_first_call: bool

    @property
    def num_colors(self) -> int:
        """AD passes per evaluation (the number of inputs or outputs for dense modes)."""
        if self.coloring is not None:
            return self.coloring.num_colors
        m, n = self.sparsity.shape
        return m if self.mode == "dense_rev" else n


def _reserved(name: str) -> str:
    """The hint for an invalid option that may be a keyword argument meant for ``f``."""
    return (
        f" ({name}= is sparsediff's own option; to pass f a keyword argument of that name, "
        f"bind it first: functools.partial(f, {name}=...))"
    )


def validate_options(
    kind: str, mode: str | None, output_format: str, chunk_size: Any, triangle: str | None
) -> str:
    """Check the options that need no sample: returns the output format."""
    valid = modes.JACOBIAN_MODES if kind == "jacobian" else modes.HESSIAN_MODES
    if mode is not None and mode not in valid:
        raise ValueError(
            f"mode {mode!r} is not valid for a {kind}; choose one of {', '.join(valid)} "
            "or None (automatic)" + _reserved("mode")
        )
    try:
        fmt = check_format(output_format)
    except ValueError as err:
        raise ValueError(str(err) + _reserved("output_format")) from None
    if chunk_size is not None and (
        not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be a positive int or None; got {chunk_size!r}"
            + _reserved("chunk_size")
        )
    if triangle is not None and kind != "hessian":
        raise ValueError("triangle= applies to Hessians only" + _reserved("triangle"))
    if triangle not in (None, "lower", "upper"):
        raise ValueError(
            f"triangle must be 'lower', 'upper' or None; got {triangle!r}" + _reserved("triangle")
        )
    return fmt


def prepare(
    f: Callable,
    kind: str,
    args: tuple,
    kwargs: dict,
    *,
    argnums: Any = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    mode: str | None = None,
    output_format: str = "bcoo",
    chunk_size: int | None = None,
    triangle: str | None = None,
    with_value: bool = False,
    sparsity: SparsityPattern | None = None,
    coloring: ColoringResult | None = None,
) -> Plan:
    """Run the preparation stages (see the module docstring) once each."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    fmt = validate_options(kind, mode, output_format, chunk_size, triangle)
    model = CallModel.of(args, kwargs, argnums, has_aux, holomorphic)
    pattern, facts = find_pattern(f, model, kind, sparsity, coloring)
    if kind == "hessian" and coloring is None and mode is None and facts.custom_rules is None:
        if not modes.is_symmetric(pattern):  # one more trace, only for such patterns
            facts = dataclasses.replace(facts, custom_rules=_custom_rules(f, model))
    chosen, col = choose_coloring(pattern, kind, mode, coloring, facts)
    if kind == "jacobian" and coloring is None and chosen in modes.REVERSE_MODES:
        if not _reverse_supported(f, model):  # one more trace, only for reverse modes
            if mode is not None:
                raise ValueError(
                    f"mode {mode!r} needs reverse-mode AD, which JAX cannot apply to this "
                    "function (a primitive without a transpose rule); use mode='fwd' or None"
                )
            facts = dataclasses.replace(facts, reverse_ok=False)
            chosen, col = choose_coloring(pattern, kind, None, None, facts)
    forced_symmetric = kind == "hessian" and mode in ("star", "acyclic")
    mode = chosen
    output_pattern, tri_idx = select_triangle(pattern, triangle)
    layout = build_layout(col, fmt, tri_idx, pattern.shape)
    return Plan(
        kind,
        model,
        Signature.of(args, kwargs),
        pattern,
        facts,
        mode,
        col,
        output_pattern,
        tri_idx,
        layout,
        fmt,
        chunk_size,
        with_value,
        verify_first_call=sparsity is not None
        or coloring is not None
        or (forced_symmetric and not modes.is_symmetric(pattern)),
    )


def find_pattern(
    f: Callable,
    model: CallModel,
    kind: str,
    sparsity: SparsityPattern | None,
    coloring: ColoringResult | None,
) -> tuple[SparsityPattern, Facts]:
    """The pattern (detected, or the user's) and the facts of ``f``'s program."""
    of_f = True  # whether ``closed`` is f's program (not its gradient's)
    if sparsity is None and coloring is None:
        found = detect(f, model, kind)
        pattern, closed, of_f = found.pattern, found.closed, kind == "jacobian"
    else:
        pattern = sparsity if sparsity is not None else coloring.pattern  # type: ignore[union-attr]
        if not isinstance(pattern, SparsityPattern):
            raise TypeError(f"sparsity must be a SparsityPattern, got {type(pattern).__name__}")
        closed = jax.make_jaxpr(model.flat_fun(f))(*model.traced_specs())
        _check_shape(pattern, model, kind)
        if coloring is not None and coloring.pattern.shape != pattern.shape:
            raise ValueError(
                f"the coloring is for a {coloring.pattern.shape} pattern; this {kind} is "
                f"{pattern.shape}"
            )
    return pattern, _facts(f, model, closed, of_f, kind)


def _check_shape(pattern: SparsityPattern, model: CallModel, kind: str) -> None:
    n = model.n
    if pattern.n != n:
        raise ValueError(
            f"the sparsity pattern has {pattern.n} columns but the selected arguments have "
            f"{n} elements"
        )
    if kind == "hessian" and pattern.m != n:
        raise ValueError(f"a Hessian pattern must be square ({n}×{n}); got {pattern.shape}")


_CUSTOM_VJP = ("custom_vjp_call", "custom_vjp_call_jaxpr")


def _facts(f: Callable, model: CallModel, closed, of_f: bool, kind: str) -> Facts:
    jaxpr = closed.jaxpr
    count = compat.count_primitives(jaxpr, *TRANSCENDENTAL)
    costly = count > 0
    forward_ok = True
    custom_vjp = compat.contains_primitive(jaxpr, *_CUSTOM_VJP)
    if custom_vjp:
        forward_ok = _forward_supported(f, model, kind == "hessian")
    custom = (custom_vjp or compat.contains_primitive(jaxpr, "custom_jvp_call")) if of_f else None
    return Facts(forward_ok=forward_ok, costly=costly, transcendentals=count, custom_rules=custom)


def _custom_rules(f: Callable, model: CallModel) -> bool:
    """Whether ``f``'s program applies custom derivative rules."""
    jaxpr = jax.make_jaxpr(model.flat_fun(f))(*model.traced_specs()).jaxpr
    return compat.contains_primitive(jaxpr, "custom_jvp_call", *_CUSTOM_VJP)


def _forward_supported(f: Callable, model: CallModel, hessian: bool = False) -> bool:
    """Whether JAX can run forward mode through ``f`` (a ``custom_vjp`` inside a
    ``custom_jvp``'s primal is fine; one on the forward path is not); ``hessian``:
    through its gradient (forward over reverse, as ``jax.hessian``), which a
    ``custom_vjp`` stops only where its rules call a ``custom_vjp`` function again."""

    def probe(*dyn):
        sel = [dyn[i] for i, _ in model.selected_positions()]

        def along(*s):
            full = list(dyn)
            for (i, _), v in zip(model.selected_positions(), s):
                full[i] = v
            return model.flat_fun(f)(*full)

        if hessian:
            argnums = tuple(range(len(sel)))
            scalar = lambda *s: jnp.sum(ravel_pytree(along(*s))[0])  # noqa: E731
            grad = jax.grad(scalar, argnums=argnums, holomorphic=model.holomorphic)
            return jax.jvp(grad, tuple(sel), tuple(sel))
        return jax.jvp(along, tuple(sel), tuple(sel))

    try:
        closed = jax.make_jaxpr(probe)(*model.traced_specs())
    except TypeError as err:
        if "custom_vjp" in str(err) or "forward-mode" in str(err):
            return False
        raise
    # JAX stages the refusal (a custom_lin or unreachable equation) for run time
    return not compat.contains_primitive(closed.jaxpr, "unreachable", "custom_lin")


def _reverse_supported(f: Callable, model: CallModel) -> bool:
    """Whether JAX can run reverse mode through ``f`` (every primitive on the path
    has a transpose rule)."""

    def probe(*dyn):
        positions = [i for i, _ in model.selected_positions()]

        def along(*s):
            full = list(dyn)
            for i, v in zip(positions, s):
                full[i] = v
            return model.flat_fun(f)(*full)

        y, pull = jax.vjp(along, *[dyn[i] for i in positions])
        return pull(y)

    try:
        jax.make_jaxpr(probe)(*model.traced_specs())
    except (ValueError, NotImplementedError) as err:
        if lacks_reverse_mode(err):
            return False
        raise
    return True


def choose_coloring(
    pattern: SparsityPattern,
    kind: str,
    mode: str | None,
    coloring: ColoringResult | None,
    facts: Facts,
) -> tuple[str, ColoringResult | None]:
    """The AD mode and its coloring (the user's coloring sets the mode)."""
    if coloring is not None:
        return modes.mode_of(coloring, kind), coloring
    choice = modes.choose_cached(
        pattern, kind, mode, forward_ok=facts.forward_ok, reverse_ok=facts.reverse_ok,
        symmetric_ok=facts.custom_rules is not True,
    )  # fmt: skip
    return choice.mode, choice.coloring


def select_triangle(
    pattern: SparsityPattern, which: str | None
) -> tuple[SparsityPattern, np.ndarray | None]:
    """The output pattern: the whole pattern, or one triangle and its positions."""
    idx = triangle(pattern, which)
    if idx is None:
        return pattern, None
    sub = SparsityPattern(
        np.asarray(pattern.rows)[idx],
        np.asarray(pattern.cols)[idx],
        pattern.shape,
        input_structure=pattern.input_structure,
        output_structure=pattern.output_structure,
        canonical=True,
    )
    return sub, idx
