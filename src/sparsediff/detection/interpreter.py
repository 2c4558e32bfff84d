"""The detection interpreter: walks a jaxpr, propagating :class:`Val`.

For each equation:

1. if every input is a known value (and the equation has no side effects),
   evaluate it concretely: its outputs are known and depend on nothing;
2. if no input depends on a tracked input, the outputs depend on nothing;
3. otherwise apply the rule registered for the primitive
   (:mod:`sparsediff.detection.registry`), or the sound dense fallback with an
   :class:`UnknownPrimitiveWarning` (an error in strict mode).

Outputs whose dtype carries no derivative (integers, booleans, keys) always get
the empty pattern, whatever the rule says: JAX's AD gives them zero tangents.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import compat
from .deps import Deps, reduce_all, take, union
from .intervals import decide_comparison, infer_bounds
from .known_eval import QUICK, as_numpy, evaluate, shared_memo
from .registry import (
    DetectionOptions,
    UnknownPrimitiveWarning,
    UnsupportedPrimitiveError,
    current_options,
    get_rule,
)
from .values import Val, aval_shape_dtype, is_float_dtype

__all__ = ["Interpreter", "dense_fallback", "PatternTooLargeError", "FOLD_MAX_ELEMENTS"]


#: largest output (in elements) of an equation whose folded value is kept with its
#: trace: the many scalars of an unrolled loop are, large index arrays (cheap per
#: element to compute again, costly to hold) are not
FOLD_MAX_ELEMENTS = 4096


def _frozen(value: Any) -> Any:
    """``value``, read-only where it is a numpy array (kept across interpretations)."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return value


class PatternTooLargeError(MemoryError):
    """A conservative rule would build a pattern beyond ``DetectionOptions.max_fallback_nnz``."""


def dense_fallback(
    out_avals: Sequence[Any], invals: Sequence[Val], name: str = "?"
) -> list[Deps | None]:
    """Sound fallback: every output element depends on everything any input depends on."""
    merged = union(*[reduce_all(v.deps) for v in invals])
    outs: list[Deps | None] = []
    limit = current_options().max_fallback_nnz
    for aval in out_avals:
        size = math.prod(aval_shape_dtype(aval)[0])
        if merged is not None and size * merged.nnz > limit:
            raise PatternTooLargeError(
                f"the conservative (dense) pattern of primitive {name!r} would hold "
                f"{size * merged.nnz:,} entries ({size:,} outputs x {merged.nnz:,} inputs), above "
                f"max_fallback_nnz={limit:,}. Register a sparsity rule for it "
                "(sparsediff.register_rule) or raise the limit with detection_options."
            )
        outs.append(take(merged, np.zeros(size, dtype=np.int64)))
    return outs


class Interpreter:
    """Abstract interpreter over ``n`` tracked input elements."""

    def __init__(self, n: int, options: DetectionOptions | None = None):
        self.n = n
        self.options = options or current_options()
        self.unknown_primitives: set[str] = set()
        self.known_memo: dict[Any, Any] = shared_memo()
        #: rules' memo for this detection (e.g. row ranges of one pattern, taken
        #: again by every ``x[i]`` of an unrolled loop); values keep their keys' objects
        self.rule_memo: dict[Any, Any] = {}

    # -- helpers for rules -------------------------------------------------
    def val_of_aval(self, aval: Any, deps: Deps | None = None, known: Any = None) -> Val:
        shape, dtype = aval_shape_dtype(aval)
        if deps is not None and not is_float_dtype(dtype):
            deps = None
        return Val(shape, dtype, deps, known)

    def eval_closed(
        self,
        closed: compat.ClosedJaxpr,
        invals: Sequence[Val],
        folded: dict[int, list[Any]] | None = None,
    ) -> list[Val]:
        """``closed`` on ``invals``. ``folded``: the outputs of equations whose inputs
        are all known, by ``id(equation)``, read and filled here (for a program
        interpreted again on inputs without known values: see
        :func:`~sparsediff.detection.trace_cache.folded_constants`)."""
        consts = self.const_vals(closed.consts, [v.aval for v in closed.jaxpr.constvars])
        return self.eval_jaxpr(closed.jaxpr, consts, invals, folded)

    def const_vals(self, values: Sequence[Any], avals: Sequence[Any]) -> list[Val]:
        """Values of constants (known where small enough, see ``known_value_limit``)."""
        return [self._const_val(c, a) for c, a in zip(values, avals)]

    def eval_jaxpr(
        self,
        jaxpr: compat.Jaxpr,
        const_vals: Sequence[Val],
        invals: Sequence[Val],
        folded: dict[int, list[Any]] | None = None,
    ) -> list[Val]:
        env: dict[Any, Val] = {}
        literal = compat.Literal

        def read(v: Any) -> Val:
            if isinstance(v, literal):
                return self._const_val(compat.literal_value(v), v.aval)
            return env[v]

        env.update(zip(jaxpr.constvars, const_vals))
        env.update(zip(jaxpr.invars, invals))
        eval_eqn = self.eval_eqn
        for eqn in jaxpr.eqns:
            outs = eval_eqn(
                eqn, [read(v) if isinstance(v, literal) else env[v] for v in eqn.invars], folded
            )
            env.update(zip(eqn.outvars, outs))
        return [read(v) for v in jaxpr.outvars]

    def _const_val(self, value: Any, aval: Any) -> Val:
        shape, dtype = aval_shape_dtype(aval)
        size = math.prod(shape)
        known = value if size <= self.options.known_value_limit else None
        if isinstance(known, (bool, int, float, complex, np.generic)):
            try:
                known = np.asarray(known, dtype=dtype)
            except TypeError:
                known = np.asarray(known)
        elif known is not None:
            known = as_numpy(known)
        return Val(shape, dtype, None, known)

    # -- one equation --------------------------------------------------------
    def eval_eqn(
        self,
        eqn: compat.JaxprEqn,
        invals: Sequence[Val],
        folded: dict[int, list[Any]] | None = None,
    ) -> list[Val]:
        """The outputs of ``eqn`` on ``invals``; ``folded`` as in :meth:`eval_closed`."""
        all_known = True
        any_deps = False
        for v in invals:
            if v.known is None:
                all_known = False
            if v.deps is not None:
                any_deps = True
        out_avals = [v.aval for v in eqn.outvars]
        if all_known and not eqn.effects:
            known = None if folded is None else folded.get(id(eqn))
            if known is None:
                known = self._try_concrete(eqn, invals, out_avals)
                if (
                    known is not None
                    and folded is not None
                    and sum(np.size(k) for k in known) <= FOLD_MAX_ELEMENTS
                ):
                    folded[id(eqn)] = [_frozen(k) for k in known]
            if known is not None:
                return [self.val_of_aval(a, None, k) for a, k in zip(out_avals, known)]
        if not any(is_float_dtype(getattr(a, "dtype", None)) for a in out_avals):
            return self._integer_outputs(eqn, invals, out_avals)
        if not any_deps:
            return [self.val_of_aval(a) for a in out_avals]
        rule = get_rule(eqn.primitive)
        if rule is None:
            results: Sequence[Any] = self._fallback(eqn, invals, out_avals)
        else:
            results = rule(self, eqn, list(invals))
        outs = []
        for aval, res in zip(out_avals, results):
            if isinstance(res, Val):
                out = self.val_of_aval(aval, res.deps, res.known)
                out.bounds = res.bounds
                outs.append(out)
            else:
                outs.append(self.val_of_aval(aval, res))
        return outs

    def _integer_outputs(self, eqn, invals, out_avals) -> list[Val]:
        """Outputs without derivatives: decided comparisons become known values,
        integer results get interval bounds; call-like primitives are entered so
        that bounds and known values inside them are not lost."""
        decided = decide_comparison(eqn, invals)
        if decided is not None:
            return [self.val_of_aval(out_avals[0], None, decided)]
        rule = get_rule(eqn.primitive)
        if rule is not None and getattr(rule, "passes_values", False):
            outs = rule(self, eqn, list(invals))
            vals = []
            for aval, res in zip(out_avals, outs):
                v = self.val_of_aval(aval, None, res.known if isinstance(res, Val) else None)
                v.bounds = res.bounds if isinstance(res, Val) else None
                vals.append(v)
            return vals
        vals = [self.val_of_aval(a) for a in out_avals]
        for v, b in zip(vals, infer_bounds(eqn, invals)):
            v.bounds = b
        return vals

    def _fallback(self, eqn: compat.JaxprEqn, invals: Sequence[Val], out_avals: list[Any]):
        name = eqn.primitive.name
        if self.options.strict:
            raise UnsupportedPrimitiveError(
                f"sparsediff has no sparsity rule for primitive {name!r} (strict mode). "
                "Register one with sparsediff.register_rule, or leave strict mode to use "
                "the conservative fallback."
            )
        if name not in self.unknown_primitives:
            self.unknown_primitives.add(name)
            warnings.warn(
                f"sparsediff has no sparsity rule for primitive {name!r}; assuming every output "
                "element depends on every input element of it (sound but conservative).",
                UnknownPrimitiveWarning,
                stacklevel=2,
            )
        return dense_fallback(out_avals, invals, name)

    def _try_concrete(self, eqn: compat.JaxprEqn, invals: Sequence[Val], out_avals: list[Any]):
        args = [v.known for v in invals]
        quick = QUICK.get(eqn.primitive.name)
        if quick is not None:  # scalars and slices: within the limit as their operands are
            res = quick(eqn, args, self.known_memo)
            if res is not None:
                return res
        limit = self.options.known_value_limit
        if len(out_avals) == 1:
            total = math.prod(aval_shape_dtype(out_avals[0])[0])
        else:
            total = sum(math.prod(aval_shape_dtype(a)[0]) for a in out_avals)
        if total > limit:
            return None
        return evaluate(eqn, args, self.known_memo)
