"""Flat views of a user function: selected arguments in, raveled output out.

The Jacobian's columns are the selected arguments raveled in ``argnums`` order
(leaves in pytree order, each in C order) and its rows the raveled output, as
``jax.flatten_util.ravel_pytree`` does; the same convention as detection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..detection.api import _is_array_like, _normalize_argnums, _spec_of, split_aux

__all__ = ["Signature", "split_kwargs", "flat_function"]


def split_kwargs(kwargs: dict) -> tuple[dict, dict]:
    """(traced array keyword arguments, static keyword arguments)."""
    traced, static = {}, {}
    for k, v in kwargs.items():
        leaves = jax.tree_util.tree_leaves(v)
        if leaves and all(_is_array_like(x) for x in leaves):
            traced[k] = v
        else:
            static[k] = v
    return traced, static


def _freeze_static(static: dict) -> tuple:
    items = []
    for k in sorted(static):
        v = static[k]
        try:
            hash(v)
            items.append((k, v))
        except TypeError:
            items.append((k, repr(v)))
    return tuple(items)


@dataclass(frozen=True)
class Signature:
    """Structure, shapes and dtypes of a call: what a prepared derivative is valid for."""

    arg_treedefs: tuple
    arg_avals: tuple
    kw_treedef: Any
    kw_avals: tuple
    static: tuple

    @classmethod
    def of(cls, args: Sequence[Any], kwargs: dict) -> Signature:
        traced, static = split_kwargs(kwargs)
        treedefs, avals = [], []
        for a in args:
            leaves, td = jax.tree_util.tree_flatten(a)
            treedefs.append(td)
            avals.append(tuple(_aval(x) for x in leaves))
        kw_leaves, kw_td = jax.tree_util.tree_flatten(traced)
        return cls(
            tuple(treedefs),
            tuple(avals),
            kw_td,
            tuple(_aval(x) for x in kw_leaves),
            _freeze_static(static),
        )

    def same_arrays(self, other: Signature) -> bool:
        """Equal apart from the static keyword arguments."""
        return (
            self.arg_treedefs == other.arg_treedefs
            and self.arg_avals == other.arg_avals
            and self.kw_treedef == other.kw_treedef
            and self.kw_avals == other.kw_avals
        )

    def describe_mismatch(self, other: Signature) -> str:
        if len(self.arg_avals) != len(other.arg_avals):
            return (
                f"prepared for {len(self.arg_avals)} positional arguments, "
                f"called with {len(other.arg_avals)}"
            )
        for i, (a, b) in enumerate(zip(self.arg_treedefs, other.arg_treedefs)):
            if a != b:
                return f"argument {i} has structure {b}, prepared for {a}"
        for i, (a, b) in enumerate(zip(self.arg_avals, other.arg_avals)):
            if a != b:
                got = ", ".join(f"{d}{list(s)}" for s, d in b)
                want = ", ".join(f"{d}{list(s)}" for s, d in a)
                return f"argument {i} has shape/dtype {got}, prepared for {want}"
        if self.kw_treedef != other.kw_treedef or self.kw_avals != other.kw_avals:
            return "array keyword arguments differ in structure, shape or dtype from preparation"
        if self.static != other.static:
            return f"static keyword arguments {dict(other.static)} differ from {dict(self.static)}"
        return "signature differs"


def _aval(x: Any) -> tuple[tuple[int, ...], str]:
    spec = _spec_of(x)
    return tuple(int(d) for d in spec.shape), np.dtype(spec.dtype).name


def flat_function(
    f: Callable, args: Sequence[Any], kwargs: dict, argnums: tuple[int, ...], has_aux: bool
) -> tuple[Callable, jax.Array]:
    """``(g, x)`` with ``g(x_flat) -> (y_flat, aux)`` and ``x`` the raveled selected args."""
    selected = tuple(args[i] for i in argnums)
    x, unravel = ravel_pytree(selected)

    def g(x_flat):
        call = list(args)
        for i, v in zip(argnums, unravel(x_flat)):
            call[i] = v
        out = f(*call, **kwargs)
        aux = None
        if has_aux:
            out, aux = split_aux(out)
        y, _ = ravel_pytree(out)
        return y, aux

    return g, jnp.asarray(x)


def normalize_argnums(argnums: Any, nargs: int) -> tuple[tuple[int, ...], bool]:
    return _normalize_argnums(argnums, nargs)
