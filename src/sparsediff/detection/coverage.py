"""Which primitives detection handles, and why the others need no rule.

Every primitive that JAX programs can emit (those listed by
``jax.extend.core.primitives`` and :func:`sparsediff.detection.compat.extra_primitives`)
either has a rule in :data:`sparsediff.detection.registry.RULES` or is listed in
:data:`NOT_HANDLED` with the reason it has none. ``tests/detection/test_registry.py``
checks that the two together cover every primitive and that no listed name has
gained a rule since.

Most reasons say why no rule is *needed* (integer outputs, no inputs, no
outputs, ...). Primitives that can carry floating-point data and simply have no
rule yet are listed with a reason starting with :data:`NO_RULE_YET`: detection
meets them with the sound dense fallback (every output element depends on every
input element of the equation) and an :class:`UnknownPrimitiveWarning`, or an
:class:`UnsupportedPrimitiveError` in strict mode. :func:`fallback_primitives`
lists them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "NOT_HANDLED",
    "NO_RULE_YET",
    "RULE",
    "all_primitives",
    "coverage_report",
    "fallback_primitives",
]

#: what :func:`coverage_report` says for a primitive with a registered rule
RULE = "rule"

#: prefix of the reason of every float-carrying primitive that has no rule yet
NO_RULE_YET = "no rule yet: dense fallback with warning"

_INT_ONLY = "integer/boolean outputs only: zero derivative, handled generically by the interpreter"
_KEYS = (
    "PRNG keys or random bits (extended-dtype or unsigned-integer outputs): zero derivative, "
    "handled generically by the interpreter"
)
_EDTYPE = (
    "conversion between an extended dtype (e.g. PRNG keys) and its physical representation: "
    "extended-dtype values are treated as non-differentiable (true for keys, whose tangents "
    "are float0; an extended dtype with a floating tangent type would be missed), handled "
    "generically by the interpreter"
)
_NO_INPUTS = "no inputs: a known value, computed concretely"
_NO_OUTPUTS = "no outputs (debugging / ordering effect only): nothing to propagate"
_TOKEN = "token output (ordering of effects): no float data"
_COLLECTIVE = (
    "collective over a named mesh axis, only meaningful inside shard_map/pmap: not applicable "
    "to global detection (a top-level jaxpr holds the enclosing shard_map, not the collective)"
)


def _no_rule(detail: str) -> str:
    return f"{NO_RULE_YET} ({detail})"


_COLLECTIVES = (
    "all_gather", "all_gather_done", "all_gather_invariant", "all_gather_reduced",
    "all_gather_reduced_start", "all_gather_start", "all_to_all", "all_to_all_done",
    "all_to_all_start", "pbroadcast", "pbroadcast_done", "pbroadcast_start", "pmax", "pmin",
    "ppermute", "ppermute_done", "ppermute_start", "precv", "preduced", "psend", "psum",
    "psum_done", "psum_invariant", "psum_invariant_start", "psum_start", "ragged_all_to_all",
    "reduce_scatter", "reduce_scatter_done", "reduce_scatter_start", "unreduced_psum",
    "unreduced_psum_start", "unreduced_reduce_scatter", "unreduced_reduce_scatter_start",
    "vary_unreduced_cast_p",
)  # fmt: skip

#: every primitive without a rule, by name, with the reason it needs none
_DISCHARGED = (
    "mutable-reference read/write: programs using jax.new_ref are rewritten into pure "
    "array operations by compat.discharge_state before detection"
)

NOT_HANDLED: dict[str, str] = {
    # integer / boolean results
    "argmax": _INT_ONLY,
    "argmin": _INT_ONLY,
    "axis_index": _INT_ONLY,
    "lu_pivots_to_permutation": _INT_ONLY,
    "mulhi": _INT_ONLY,
    "platform_index": _INT_ONLY,
    "reduce_and": _INT_ONLY,
    "reduce_or": _INT_ONLY,
    "reduce_xor": _INT_ONLY,
    # randomness on keys and bits
    "random_bits": _KEYS,
    "random_fold_in": _KEYS,
    "random_seed": _KEYS,
    "random_split": _KEYS,
    "rng_bit_generator": _KEYS,
    "threefry2x32": _KEYS,
    "from_edtype": _EDTYPE,
    "to_edtype": _EDTYPE,
    # no inputs / no outputs / tokens
    "create_token": _NO_INPUTS,
    "empty": _NO_INPUTS,
    "empty2": _NO_INPUTS,
    "iota": _NO_INPUTS,
    "dce_sink": _NO_OUTPUTS,
    "debug_callback": _NO_OUTPUTS,
    "debug_print": _NO_OUTPUTS,
    "inspect_sharding": _NO_OUTPUTS,
    "after_all": _TOKEN,
    # float-carrying primitives without a rule: the dense fallback applies
    "call": _no_rule("generic call primitive; jit emits 'jit' instead"),
    "call_hi_primitive": _no_rule("hijax higher-level primitive"),
    "cholesky_update": _no_rule("rank-1 Cholesky update"),
    "custom_jvp_call_jaxpr": _no_rule("stub kept for downstream users; not emitted by JAX"),
    "custom_lin": _no_rule("emitted by jax.linearize of a custom_vjp function"),
    "geqp3": _no_rule("pivoted QR factorization"),
    "geqrf": _no_rule("Householder QR factorization"),
    "get": _DISCHARGED,
    "linear_call": _no_rule("custom_derivatives.linear_call"),
    "ormqr": _no_rule("multiplication by Householder reflectors"),
    "ragged_dot_general": _no_rule("ragged contraction"),
    "remat_opt": _no_rule("remat-optimised custom_vjp forward"),
    "rng_uniform": _no_rule("JAX defines no derivative for it"),
    "select_and_scatter": _no_rule("general form; JAX's AD emits select_and_scatter_add"),
    "swap": _DISCHARGED,
    "symmetric_product": _no_rule("alpha * A @ A.T + beta * C"),
    "tie": _no_rule("returns its second operand: its pattern would be exact"),
    "unreachable": _no_rule("stages an error, e.g. jvp of a custom_vjp function"),
}
NOT_HANDLED.update({name: _COLLECTIVE for name in _COLLECTIVES})


def all_primitives() -> dict[str, Any]:
    """Every known primitive by name: ``jax.extend.core.primitives``, the extra
    primitives found by :mod:`~sparsediff.detection.compat`, and any primitive a
    rule was registered for (third-party ones included)."""
    from jax.extend.core import Primitive
    from jax.extend.core import primitives as P

    from . import compat
    from . import rules as _rules  # noqa: F401  (fills the rule table)
    from .registry import RULES, register_pending

    try:  # its rules are registered once it is imported (see rules.sparse)
        import jax.experimental.sparse  # noqa: F401
    except Exception:  # noqa: BLE001 - missing or broken: its rules do not apply
        pass
    register_pending()
    found: dict[str, Any] = {}
    for attr in dir(P):
        prim = getattr(P, attr)
        if isinstance(prim, Primitive):
            found.setdefault(prim.name, prim)
    for name, prim in compat.extra_primitives().items():
        found.setdefault(name, prim)
    for prim in RULES:
        found.setdefault(prim.name, prim)
    return found


def coverage_report() -> dict[str, str]:
    """For every primitive (see :func:`all_primitives`): ``"rule"`` or the reason it has none.

    A primitive without a rule and without a recorded reason is reported with
    :data:`NO_RULE_YET` and ``"unclassified"``.
    """
    from . import rules as _rules  # noqa: F401  (fills the rule table)
    from .registry import RULES

    report: dict[str, str] = {}
    for name, prim in sorted(all_primitives().items()):
        if prim in RULES:
            report[name] = RULE
        else:
            report[name] = NOT_HANDLED.get(name, _no_rule("unclassified"))
    return report


def fallback_primitives() -> list[str]:
    """Names of the primitives that detection meets with the dense fallback and a warning."""
    return sorted(n for n, r in coverage_report().items() if r.startswith(NO_RULE_YET))
