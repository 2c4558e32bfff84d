"""The problems of the NLP benchmark (:mod:`benchmarks.nlp`), written once for JAX and CasADi.

Each problem is written against a tiny namespace of math functions, ``ops``, that is either
``jax.numpy`` (:func:`jax_ops`) or CasADi (:func:`casadi_ops`); :func:`instance` builds one at
one size with numpy data.  The sources of the problems are named in :mod:`benchmarks.nlp`.
Only the standard library at module level: a child of the benchmark measures its own imports.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from types import SimpleNamespace
from typing import Any

#: the problems, in the order they run
PROBLEMS: tuple[str, ...] = ("chain", "cartpole", "lukvle1")

# hanging chain (COPS): ends and length
CHAIN_A, CHAIN_B, CHAIN_L = 1.0, 3.0, 4.0
# cart-pole (Kelly 2017): masses, pole length, gravity, final time, target, bounds
CART_M1, CART_M2, CART_LEN, CART_G = 1.0, 0.3, 0.5, 9.81
CART_T, CART_D, CART_UMAX, CART_XMAX = 2.0, 1.0, 20.0, 2.0


# --------------------------------------------------------------------------------------------
# The math namespaces
# --------------------------------------------------------------------------------------------


def jax_ops() -> SimpleNamespace:
    """The functions the problems use, from ``jax.numpy``."""
    import jax.numpy as jnp

    return SimpleNamespace(
        sin=jnp.sin, cos=jnp.cos, exp=jnp.exp, sqrt=jnp.sqrt, sum=jnp.sum, concat=jnp.concatenate
    )


def casadi_ops() -> SimpleNamespace:
    """The same functions from CasADi (column vectors: ``sum1``, ``vertcat``)."""
    import casadi

    return SimpleNamespace(
        sin=casadi.sin,
        cos=casadi.cos,
        exp=casadi.exp,
        sqrt=casadi.sqrt,
        sum=casadi.sum1,
        concat=lambda parts: casadi.vertcat(*parts),
    )


# --------------------------------------------------------------------------------------------
# The problems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """One problem at one size: ``min f(z)`` s.t. ``cl <= c(z) <= cu``, ``lb <= z <= ub``.

    ``objective(ops, z)`` and ``constraints(ops, z)`` are written against a math namespace
    (:func:`jax_ops` or :func:`casadi_ops`) and a flat vector ``z``; ``jax_objective`` /
    ``jax_constraints`` replace them for JAX where the problem has a JAX form of its own.
    """

    problem: str
    size: int
    x0: Any
    lb: Any
    ub: Any
    cl: Any
    cu: Any
    objective: Callable[[Any, Any], Any]
    constraints: Callable[[Any, Any], Any]
    jax_objective: Callable[[Any], Any] | None = None
    jax_constraints: Callable[[Any], Any] | None = None

    @property
    def n(self) -> int:
        return int(self.x0.size)

    @property
    def m(self) -> int:
        return int(self.cl.size)

    def jax_functions(self) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
        """``(f, c)`` as JAX functions of ``z``."""
        ops = jax_ops()
        f = self.jax_objective or (lambda z: self.objective(ops, z))
        c = self.jax_constraints or (lambda z: self.constraints(ops, z))
        return f, c


def size_label(problem: str, size: int) -> str:
    exp = math.log10(size)
    text = f"10^{round(exp)}" if size > 1 and exp == round(exp) else f"{size}"
    return f"{'n' if problem == 'lukvle1' else 'N'}={text}"


def num_variables(problem: str, size: int) -> int:
    return {"chain": size + 1, "cartpole": 5 * (size + 1), "lukvle1": size}[problem]


# -- hanging chain ------------------------------------------------------------------------------


def _chain_arc(ops: Any, y: Any, intervals: int) -> Any:
    h = 1.0 / intervals
    return h * ops.sqrt(1.0 + ((y[1:] - y[:-1]) / h) ** 2)


def chain_objective(ops: Any, y: Any, intervals: int) -> Any:
    """Potential energy: each segment's arc length times its mean height (midpoint rule)."""
    return ops.sum(0.5 * (y[1:] + y[:-1]) * _chain_arc(ops, y, intervals))


def chain_constraint(ops: Any, y: Any, intervals: int) -> Any:
    """The chain's length minus ``L``."""
    return ops.sum(_chain_arc(ops, y, intervals)) - CHAIN_L


def chain_instance(intervals: int) -> Instance:
    import numpy as np

    t = np.linspace(0.0, 1.0, intervals + 1)
    sag = 0.5 * math.sqrt(max(CHAIN_L**2 - 1.0 - (CHAIN_B - CHAIN_A) ** 2, 0.0))
    x0 = CHAIN_A + (CHAIN_B - CHAIN_A) * t - 4.0 * sag * t * (1.0 - t)
    lb = np.full(intervals + 1, -np.inf)
    ub = np.full(intervals + 1, np.inf)
    lb[0] = ub[0] = CHAIN_A
    lb[-1] = ub[-1] = CHAIN_B
    return Instance(
        "chain",
        intervals,
        x0,
        lb,
        ub,
        np.zeros(1),
        np.zeros(1),
        partial(chain_objective, intervals=intervals),
        partial(chain_constraint, intervals=intervals),
    )


def chain_jax(inst: Instance) -> Instance:
    """The chain with the JAX functions of ``sparsediff.problems.hanging_chain``."""
    from sparsediff.problems.hanging_chain import chain_energy, chain_length

    return replace(
        inst, jax_objective=chain_energy, jax_constraints=lambda y: chain_length(y, CHAIN_L)
    )


# -- cart-pole ----------------------------------------------------------------------------------


def _cartpole_blocks(z: Any, intervals: int) -> list[Any]:
    """``[x, theta, xdot, thetadot, u]``, each ``N + 1`` values (blocks of ``z``)."""
    k = intervals + 1
    return [z[i * k : (i + 1) * k] for i in range(5)]


def cartpole_dynamics(ops: Any, theta: Any, xdot: Any, thetadot: Any, u: Any) -> list[Any]:
    """Time derivatives of ``(x, theta, xdot, thetadot)`` (theta = 0: hanging down)."""
    s, c = ops.sin(theta), ops.cos(theta)
    den = CART_M1 + CART_M2 * (1.0 - c**2)
    xddot = (CART_LEN * CART_M2 * s * thetadot**2 + u + CART_M2 * CART_G * c * s) / den
    thetaddot = -(
        CART_LEN * CART_M2 * c * s * thetadot**2 + u * c + (CART_M1 + CART_M2) * CART_G * s
    ) / (CART_LEN * den)
    return [xdot, thetadot, xddot, thetaddot]


def cartpole_objective(ops: Any, z: Any, intervals: int) -> Any:
    """``∫ u² dt`` by the trapezoidal rule."""
    u = _cartpole_blocks(z, intervals)[4]
    h = CART_T / intervals
    return 0.5 * h * ops.sum(u[1:] ** 2 + u[:-1] ** 2)


def cartpole_constraints(ops: Any, z: Any, intervals: int) -> Any:
    """Trapezoidal defects ``s[k+1] - s[k] - h/2 (f[k] + f[k+1])``, state by state."""
    x, theta, xdot, thetadot, u = _cartpole_blocks(z, intervals)
    h = CART_T / intervals
    states = [x, theta, xdot, thetadot]
    rates = cartpole_dynamics(ops, theta, xdot, thetadot, u)
    return ops.concat(
        [s[1:] - s[:-1] - 0.5 * h * (f[1:] + f[:-1]) for s, f in zip(states, rates, strict=True)]
    )


def cartpole_instance(intervals: int) -> Instance:
    import numpy as np

    k = intervals + 1
    t = np.linspace(0.0, 1.0, k)
    start = np.array([0.0, 0.0, 0.0, 0.0])
    end = np.array([CART_D, math.pi, 0.0, 0.0])
    states = start[:, None] + (end - start)[:, None] * t[None, :]
    x0 = np.concatenate([states.reshape(-1), np.zeros(k)])
    lb = np.full((5, k), -np.inf)
    ub = np.full((5, k), np.inf)
    lb[0], ub[0] = -CART_XMAX, CART_XMAX
    lb[4], ub[4] = -CART_UMAX, CART_UMAX
    lb[:4, 0] = ub[:4, 0] = start
    lb[:4, -1] = ub[:4, -1] = end
    m = 4 * intervals
    return Instance(
        "cartpole",
        intervals,
        x0,
        lb.reshape(-1),
        ub.reshape(-1),
        np.zeros(m),
        np.zeros(m),
        partial(cartpole_objective, intervals=intervals),
        partial(cartpole_constraints, intervals=intervals),
    )


# -- LUKVLE1 ------------------------------------------------------------------------------------


def lukvle1_objective(ops: Any, x: Any) -> Any:
    """The chained Rosenbrock function ``Σ 100 (x_i² - x_{i+1})² + (x_i - 1)²``."""
    return ops.sum(100.0 * (x[:-1] ** 2 - x[1:]) ** 2 + (x[:-1] - 1.0) ** 2)


def lukvle1_constraints(ops: Any, x: Any) -> Any:
    """``c_k = 3 x_{k+1}³ + 2 x_{k+2} - 5 + sin(x_{k+1} - x_{k+2}) sin(x_{k+1} + x_{k+2})
    + 4 x_{k+1} - x_k exp(x_k - x_{k+1}) - 3``, ``k = 1 .. n - 2``."""
    a, b, c = x[:-2], x[1:-1], x[2:]
    return (
        3.0 * b**3
        + 2.0 * c
        - 5.0
        + ops.sin(b - c) * ops.sin(b + c)
        + 4.0 * b
        - a * ops.exp(a - b)
        - 3.0
    )


def lukvle1_instance(n: int) -> Instance:
    import numpy as np

    x0 = np.where(np.arange(n) % 2 == 0, -1.2, 1.0)  # x_i = -1.2 for odd i (1-based)
    free = np.full(n, np.inf)
    return Instance(
        "lukvle1",
        n,
        x0,
        -free,
        free,
        np.zeros(n - 2),
        np.zeros(n - 2),
        lukvle1_objective,
        lukvle1_constraints,
    )


def instance(problem: str, size: int) -> Instance:
    """The instance of ``problem`` at ``size`` (numpy data; the functions use ``ops``)."""
    build = {"chain": chain_instance, "cartpole": cartpole_instance, "lukvle1": lukvle1_instance}
    if problem not in build:
        raise ValueError(f"unknown problem {problem!r}; known: {', '.join(PROBLEMS)}")
    return build[problem](size)
