"""Fuzz programs as data: a list of nodes, rendered to Python source and a JAX callable.

A :class:`Program` is a small DAG. Its first nodes are *leaves* (the array leaves of the
positional arguments and of the array keyword argument ``w``); every other node applies
one op of the catalogue (:mod:`benchmarks.fuzz.catalog`) to earlier nodes, with
parameters (axes, constants, modes) drawn once by the generator. Every node value is a
float32 array. The program is rendered to readable Python source
(:meth:`Program.source`), and the callable is obtained by executing that very source, so
that a printed repro is exactly what was tested.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .catalog import HELPERS, OPS, namespace

__all__ = ["Arg", "Node", "Program", "literal", "leaf_paths"]


@dataclasses.dataclass(frozen=True)
class Arg:
    """A positional argument: one array (``keys == ()``) or a dict of arrays."""

    shapes: tuple[tuple[int, ...], ...]
    keys: tuple[str, ...] = ()

    def expr(self, name: str) -> list[str]:
        if not self.keys:
            return [name]
        return [f"{name}[{k!r}]" for k in self.keys]


@dataclasses.dataclass(frozen=True)
class Node:
    """``op`` applied to the nodes ``inputs`` with ``params``; shape is the output's."""

    op: str
    inputs: tuple[int, ...]
    params: dict
    shape: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Program:
    """A generated program and how it is differentiated.

    ``args``: the positional arguments; ``argnums``: which are differentiated (an int or a
    tuple, as in JAX); ``w_shape``: shape of the traced, non-differentiated keyword
    argument ``w`` (``None``: no such argument); ``scale``: the static keyword argument
    (a Python float, ``None``: absent); ``nodes``: leaves first, in the order of
    :func:`leaf_paths`; ``outputs``: the node ids returned, as one array (``out_kind ==
    "single"``), a tuple or a dict; ``hessian``: the output is reduced to a scalar and the
    Hessian is checked; ``has_aux``: ``f`` also returns auxiliary data.
    """

    args: tuple[Arg, ...]
    argnums: int | tuple[int, ...]
    w_shape: tuple[int, ...] | None
    scale: float | None
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    out_kind: str
    hessian: bool
    seed: int = 0
    has_aux: bool = False  # f returns (output, {"aux": first leaf}) and is called so

    # -- structure -----------------------------------------------------------------
    @property
    def n_leaves(self) -> int:
        return sum(1 for n in self.nodes if n.op == "leaf")

    def ops_used(self) -> set[str]:
        return {n.op for n in self.nodes if n.op != "leaf"}

    def families(self) -> set[str]:
        return {OPS[n.op].family for n in self.nodes if n.op != "leaf"}

    def tags(self) -> set[str]:
        """Op names plus ``op:variant`` tags the known-issue filters match on."""
        out = set()
        for n in self.nodes:
            if n.op == "leaf":
                continue
            out.add(n.op)
            out.update(f"{n.op}:{t}" for t in OPS[n.op].tags(n.params))
        return out

    @property
    def selected(self) -> tuple[int, ...]:
        return (self.argnums,) if isinstance(self.argnums, int) else tuple(self.argnums)

    def kwargs_sample(self, w: Any = None) -> dict:
        kw: dict = {}
        if self.w_shape is not None:
            kw["w"] = np.zeros(self.w_shape, np.float32) if w is None else w
        if self.scale is not None:
            kw["scale"] = self.scale
        return kw

    def size(self) -> int:
        """A measure of complexity the shrinker decreases."""
        total = sum(math.prod(n.shape) for n in self.nodes) + 10 * len(self.nodes)
        total += int(self.has_aux) + int(self.w_shape is not None) + int(self.scale is not None)
        return total + sum(_param_weight(v) for n in self.nodes for v in n.params.values())

    # -- rendering -----------------------------------------------------------------
    def helpers_used(self) -> list[str]:
        names: list[str] = []
        for n in self.nodes:
            if n.op != "leaf":
                for h in OPS[n.op].helpers:
                    if h not in names:
                        names.append(h)
        return names

    def body_source(self) -> str:
        sig = [f"a{i}" for i in range(len(self.args))]
        kw = []
        if self.w_shape is not None:
            kw.append("w")
        if self.scale is not None:
            kw.append("scale")
        params = ", ".join(sig + (["*", *kw] if kw else []))
        lines = [f"def f({params}):"]
        for i, n in enumerate(self.nodes):
            if n.op == "leaf":
                lines.append(f"    v{i} = jnp.asarray({n.params['expr']})")
            else:
                names = [f"v{j}" for j in n.inputs]
                lines.append(f"    v{i} = {OPS[n.op].render(n.params, names)}")
        outs = [f"v{j}" for j in self.outputs]
        if self.hessian:
            ret = " + ".join(f"jnp.sum(jnp.sin({o}) * (1.0 + {o}))" for o in outs)
        elif self.out_kind == "single":
            ret = outs[0]
        elif self.out_kind == "tuple":
            ret = f"({', '.join(outs)},)"
        else:
            items = ", ".join(f"'y{k}': {o}" for k, o in enumerate(outs))
            ret = f"{{{items}}}"
        if self.has_aux:
            ret = f"({ret}, {{'aux': v0}})"
        lines.append(f"    return {ret}")
        return "\n".join(lines)

    def source(self) -> str:
        """Module source defining ``f`` (imports and the helpers it uses included)."""
        parts = [HEADER]
        parts += [HELPERS[h].strip() for h in self.helpers_used()]
        parts.append(self.body_source())
        return "\n\n\n".join(parts) + "\n"

    def function(self) -> Callable:
        ns = namespace()
        exec(compile(self.body_source(), f"<fuzz program {self.seed}>", "exec"), ns)  # noqa: S102
        return ns["f"]

    def sample_args(self) -> tuple:
        return tuple(_arg_value(a, lambda s: np.zeros(s, np.float32)) for a in self.args)


HEADER = """\
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax"""


def leaf_paths(args: tuple[Arg, ...], w_shape) -> list[tuple[str, tuple[int, ...]]]:
    """(expression, shape) of every leaf, in the order of the program's leaf nodes."""
    out = []
    for i, a in enumerate(args):
        out += list(zip(a.expr(f"a{i}"), a.shapes))
    if w_shape is not None:
        out.append(("w", tuple(w_shape)))
    return out


def _arg_value(a: Arg, make):
    if not a.keys:
        return make(a.shapes[0])
    return {k: make(s) for k, s in zip(a.keys, a.shapes)}


def literal(x: Any) -> str:
    """Python source of a constant parameter (arrays as ``np.array(..., dtype=...)``)."""
    if isinstance(x, np.ndarray):
        return f"np.array({x.tolist()!r}, dtype=np.{x.dtype.name})"
    return repr(x)


def _param_weight(v: Any) -> int:
    if isinstance(v, np.ndarray):
        return int(v.size + np.count_nonzero(v))
    if isinstance(v, (tuple, list)):
        return sum(_param_weight(x) for x in v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(min(abs(v), 8))
    return 0
