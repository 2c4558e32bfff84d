"""Random programs from a seed, and their validation.

:func:`generate` draws the arguments (arrays or dicts of arrays, ``argnums``, the keyword
arguments), then appends ops one by one: the op is drawn by family (each family equally
likely, then each op of it), its inputs among earlier nodes (recent ones preferred), its
parameters by the op's generator; :func:`check_node` renders the op alone and asks
``jax.eval_shape`` for its output, rejecting ops that fail or produce something other
than a small float32 array. Where a chain could overflow (bounds estimated per node) the
inputs are squashed by a ``tanh`` node first.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import numpy as np

from . import draw
from .catalog import FAMILIES, HAVE_EQUINOX, OPS, namespace
from .program import Arg, Node, Program, leaf_paths

__all__ = ["generate", "check_node", "validate", "LEAF_BOUND", "SQUASH_ABOVE"]

#: largest magnitude of an input value at the oracle's points
LEAF_BOUND = 30.0
#: inputs whose estimated magnitude exceeds this are squashed by tanh first
SQUASH_ABOVE = 1.0e3
_OPS_BY_FAMILY = {f: sorted(n for n, o in OPS.items() if o.family == f) for f in FAMILIES}
if not HAVE_EQUINOX:
    _OPS_BY_FAMILY.pop("equinox")


def _shape(rng) -> tuple[int, ...]:
    rank = int(rng.choice([0, 1, 1, 2, 2, 3]))
    while True:
        s = tuple(int(rng.integers(1, 7)) for _ in range(rank))
        if math.prod(s) <= 36:
            return s


def _args(rng, hessian: bool) -> tuple[tuple[Arg, ...], int | tuple[int, ...]]:
    nargs = int(rng.choice([1, 1, 2, 3]))
    args = []
    for _ in range(nargs):
        if rng.random() < 0.25:
            keys = ("p", "q")[: int(rng.integers(1, 3))]
            args.append(Arg(tuple(_shape(rng) for _ in keys), keys))
        else:
            args.append(Arg((_shape(rng),)))
    if nargs == 1 or rng.random() < 0.4:
        argnums: int | tuple[int, ...] = int(rng.integers(nargs))
    else:
        k = int(rng.integers(1, nargs + 1))
        argnums = tuple(int(i) for i in rng.choice(nargs, size=k, replace=False))
    return tuple(args), argnums


@functools.lru_cache(maxsize=50_000)
def _eval_node(op_name: str, src: str, shapes: tuple) -> tuple | None:
    ns = namespace()
    names = [f"x{i}" for i in range(len(shapes))]
    try:
        fn = eval(f"lambda {', '.join(names)}, scale=1.5: {src}", ns)  # noqa: S307
        out = jax.eval_shape(fn, *[jax.ShapeDtypeStruct(s, np.float32) for s in shapes])
    except Exception:  # noqa: BLE001 - an invalid combination is simply not generated
        return None
    if not hasattr(out, "shape") or out.dtype != np.float32:
        return None
    shape = tuple(int(d) for d in out.shape)
    if math.prod(shape) > draw.MAX_SIZE or math.prod(shape) == 0:
        return None
    return shape


def check_node(op_name: str, params: dict, in_shapes: list[tuple[int, ...]]):
    """The output shape of ``op`` on inputs of ``in_shapes``, or ``None`` if invalid."""
    src = OPS[op_name].render(params, [f"x{i}" for i in range(len(in_shapes))])
    return _eval_node(op_name, src, tuple(tuple(s) for s in in_shapes))


def _choose_inputs(rng, arity: int, n_nodes: int, diff: list[bool]) -> list[int]:
    # prefer recent nodes and nodes that depend on differentiated inputs
    w = np.array([(1.0 + i) * (3.0 if diff[i] else 1.0) for i in range(n_nodes)])
    return [int(i) for i in rng.choice(n_nodes, size=arity, p=w / w.sum())]


def generate(
    seed: int,
    hessian: bool = False,
    max_ops: int = 8,
    families: tuple[str, ...] | None = None,
) -> Program:
    """A random valid program drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    args, argnums = _args(rng, hessian)
    w_shape = _shape(rng) if rng.random() < 0.3 else None
    scale = float(rng.choice([0.0, 0.5, 2.0])) if rng.random() < 0.3 else None
    nodes: list[Node] = []
    bounds: list[float] = []
    diff: list[bool] = []
    sel = (argnums,) if isinstance(argnums, int) else argnums
    k = 0
    for i, a in enumerate(args):
        for expr, shape in zip(a.expr(f"a{i}"), a.shapes):
            nodes.append(Node("leaf", (), {"expr": expr}, shape))
            bounds.append(LEAF_BOUND)
            diff.append(i in sel)
            k += 1
    for expr, shape in leaf_paths((), w_shape):
        nodes.append(Node("leaf", (), {"expr": expr}, shape))
        bounds.append(LEAF_BOUND)
        diff.append(False)
    fams = [f for f in (families or tuple(_OPS_BY_FAMILY)) if f in _OPS_BY_FAMILY]
    n_ops = int(rng.integers(1, max_ops + 1))
    for _ in range(n_ops):
        for _attempt in range(12):
            fam = fams[int(rng.integers(len(fams)))]
            name = _OPS_BY_FAMILY[fam][int(rng.integers(len(_OPS_BY_FAMILY[fam])))]
            o = OPS[name]
            if o.needs_scale and scale is None:
                continue
            ins = _choose_inputs(rng, o.arity, len(nodes), diff)
            ins = [_squashed(nodes, bounds, diff, j) for j in ins]
            shapes = [nodes[j].shape for j in ins]
            params = o.gen(rng, shapes)
            if params is None:
                continue
            shape = check_node(name, params, shapes)
            if shape is None:
                continue
            nodes.append(Node(name, tuple(ins), params, shape))
            b = o.out_bound(params, [bounds[j] for j in ins], [math.prod(s) for s in shapes])
            bounds.append(min(b, 1e30))
            diff.append(any(diff[j] for j in ins))
            break
    outputs = _outputs(rng, nodes, diff, hessian)
    outputs = tuple(_squashed(nodes, bounds, diff, j) for j in outputs)
    out_kind = "single" if len(outputs) == 1 else str(rng.choice(["tuple", "dict"]))
    has_aux = bool(rng.random() < 0.1)
    return Program(args, argnums, w_shape, scale, tuple(nodes), outputs, out_kind, hessian, seed,
                   has_aux)  # fmt: skip


def _squashed(nodes, bounds, diff, j: int) -> int:
    """``j`` or a new ``tanh`` node of it when its values could be too large."""
    if bounds[j] <= SQUASH_ABOVE:
        return j
    nodes.append(Node("unary", (j,), {"fn": "tanh"}, nodes[j].shape))
    bounds.append(1.0)
    diff.append(diff[j])
    return len(nodes) - 1


def _outputs(rng, nodes, diff, hessian) -> tuple[int, ...]:
    last = len(nodes) - 1
    outs = [last]
    if rng.random() < 0.3 and len(nodes) > 1:
        other = int(rng.integers(len(nodes) - 1))
        outs.append(other)
    return tuple(outs)


def validate(p: Program) -> Program | None:
    """``p`` with every node's shape recomputed, or ``None`` when some op no longer applies
    (after the shrinker changed a shape or a parameter)."""
    shapes: list[tuple[int, ...]] = []
    leaves = iter(leaf_paths(p.args, p.w_shape))
    nodes = []
    for n in p.nodes:
        if n.op == "leaf":
            _, shape = next(leaves)
        else:
            if OPS[n.op].needs_scale and p.scale is None:
                return None
            shape = check_node(n.op, n.params, [shapes[j] for j in n.inputs])
            if shape is None:
                return None
        shapes.append(shape)
        nodes.append(dataclasses.replace(n, shape=shape))
    return dataclasses.replace(p, nodes=tuple(nodes))
