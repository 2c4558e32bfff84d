"""Ipopt adapter (through cyipopt): a JAX nonlinear program with sparse derivatives.

Ipopt solves ``min f(x)`` subject to ``cl <= c(x) <= cu`` and ``lb <= x <= ub``
and asks for the constraint Jacobian and the Hessian of the Lagrangian
``σ ∇²f(x) + Σᵢ λᵢ ∇²cᵢ(x)`` as values on fixed sparsity structures (the
Hessian's lower triangle only). :class:`IpoptProblem` prepares both once:

* the Jacobian of ``c`` by ``sparsediff.jacobian`` at the shape of ``x0``;
* the Lagrangian Hessian by ``sparsediff.hessian`` of
  ``L(x, σ, λ) = σ f(x) + λ · c(x)`` with respect to ``x`` alone: one detection
  gives a pattern valid for every ``σ`` and ``λ`` (the union of the Hessian
  patterns of ``f`` and of every ``cᵢ``), colored once (star or acyclic), its
  lower triangle handed to Ipopt.

Three compiled functions serve the five callbacks, each evaluated once per point
Ipopt asks about: the objective and constraint values together (what a line-search
trial point needs), the gradient and the Jacobian's values together (what Ipopt
asks for at an accepted point, one after the other), and the Hessian of the
Lagrangian. Every JAX call has a fixed cost, which at about 10^3 variables
outweighs the AD passes themselves, so fewer calls per iteration is what counts
there (see ``docs/how-to/ipopt.md``). Every callback takes Ipopt's numpy arrays as
they are and returns host numpy arrays in float64. ``solve`` calls Ipopt's shared
library through its C interface (:mod:`sparsediff.ipopt_capi`: Debian's
``coinor-libipopt1v5`` or conda-forge's ``ipopt`` is all it needs), else cyipopt;
:meth:`IpoptProblem.problem` returns a ``cyipopt.Problem`` for those who drive
cyipopt themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .evaluation import hessian, jacobian
from .evaluation.prepared import SparseDerivative

__all__ = ["IpoptProblem", "require_cyipopt"]


def require_cyipopt():
    """Import cyipopt, or raise an ImportError that says how to install it."""
    try:
        import cyipopt
    except ImportError as err:  # pragma: no cover - depends on the machine
        raise ImportError(
            "the Ipopt adapter needs cyipopt, which is not installed. On Debian/Ubuntu: "
            "apt-get install coinor-libipopt-dev liblapack-dev libblas-dev pkg-config, "
            'then pip install "sparsediff[ipopt]" (or pip install cyipopt); conda users: '
            "conda install -c conda-forge cyipopt"
        ) from err
    return cyipopt


def _bounds(value: Any, size: int, default: float, name: str) -> np.ndarray:
    if value is None:
        return np.full(size, default)
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return np.full(size, arr[0])
    if arr.size != size:
        raise ValueError(f"{name} has {arr.size} entries; expected {size}")
    return arr.copy()


class IpoptProblem:
    """A nonlinear program with jitted sparse derivatives for Ipopt.

    Args:
        objective: ``f(x) -> scalar``.
        x0: starting point (its shape and dtype define the problem; float64
            needs ``jax_enable_x64``).
        constraints: ``c(x) -> array`` or ``None``.
        lb: lower bounds of the variables (a scalar or an array; default none).
        ub: upper bounds of the variables (default none).
        cl: lower bounds of the constraints (default ``0``).
        cu: upper bounds of the constraints (default ``0``: equalities).
        mode: Hessian coloring mode for the Lagrangian (default automatic).

    ``solve(**options)`` runs Ipopt (options are Ipopt's, e.g. ``tol=1e-8``,
    ``print_level=0``) and returns ``(x, info)`` with ``x`` in ``x0``'s shape.
    The callbacks (``objective``, ``gradient``, ``constraints``, ``jacobian``,
    ``jacobianstructure``, ``hessian``, ``hessianstructure``) follow cyipopt's
    problem-object protocol. ``stats`` counts the evaluations and their seconds:
    ``"functions"`` (objective and constraint values), ``"first_derivatives"``
    (gradient and Jacobian) and ``"hessian"``; a callback answered from the
    evaluation at the same point adds nothing.
    """

    def __init__(
        self,
        objective: Callable,
        x0: Any,
        constraints: Callable | None = None,
        *,
        lb: Any = None,
        ub: Any = None,
        cl: Any = None,
        cu: Any = None,
        mode: str | None = None,
    ):
        x0 = jnp.asarray(x0)
        if not jnp.issubdtype(x0.dtype, jnp.floating):
            x0 = x0.astype(jnp.result_type(float))
        self.shape, self.dtype = tuple(x0.shape), x0.dtype
        self.x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
        self.n = self.x0.size
        spec = jax.ShapeDtypeStruct(self.shape, self.dtype)

        def f(x):
            out = jnp.asarray(objective(x))
            if out.size != 1:
                raise ValueError(f"the objective must return a scalar; got shape {out.shape}")
            return out.reshape(())

        def c(x):
            if constraints is None:
                return jnp.zeros(0, self.dtype)
            return jnp.ravel(constraints(x))

        self.m = int(jax.eval_shape(c, spec).size)
        self._np_dtype = np.dtype(self.dtype)
        self.lb = _bounds(lb, self.n, -np.inf, "lb")
        self.ub = _bounds(ub, self.n, np.inf, "ub")
        self.cl = _bounds(cl, self.m, 0.0, "cl")
        self.cu = _bounds(cu, self.m, 0.0, "cu")

        self.jac: SparseDerivative | None = None
        if self.m:
            self.jac = jac = jacobian(c, spec, output_format="compressed")
            self._jac_rows = np.asarray(jac.sparsity.rows)
            self._jac_cols = np.asarray(jac.sparsity.cols)
        else:
            self._jac_rows = self._jac_cols = np.zeros(0, dtype=np.int64)

        def lagrangian(x, sigma, lam):
            value = sigma * f(x)
            return value + jnp.vdot(lam, c(x)) if self.m else value

        self.hess = hessian(
            lagrangian,
            spec,
            jax.ShapeDtypeStruct((), self.dtype),
            jax.ShapeDtypeStruct((self.m,), self.dtype),
            argnums=0,
            mode=mode,
            triangle="lower",
            output_format="compressed",
        )
        pattern = self.hess.output_pattern
        self._hess_rows = np.asarray(pattern.rows)
        self._hess_cols = np.asarray(pattern.cols)

        jac_values = self.jac.nonzeros if self.jac is not None else (lambda x: jnp.zeros(0))

        # the values at a trial point; the first derivatives at an accepted one
        # (inside one executable the Jacobian's passes run beside the gradient's)
        self._functions = _AtPoint(jax.jit(lambda x: (f(x), c(x))))
        self._first = _AtPoint(jax.jit(lambda x: (jax.grad(f)(x), jac_values(x))))
        # the Hessian's values in a jit of their own, which holds the index arrays as
        # constants: at 10^3 variables that took half the time of a direct call of
        # nonzeros (LUKVLE1: 62 against 122 µs back to back)
        self._hess_values = jax.jit(self.hess.nonzeros)
        self.stats = {"functions": [0, 0.0], "first_derivatives": [0, 0.0], "hessian": [0, 0.0]}

    # -- helpers ----------------------------------------------------------------
    def _x(self, x: Any) -> np.ndarray:
        # a numpy array goes to the jitted functions as it is (no device array
        # built here; the executable takes host buffers)
        return np.asarray(x, dtype=self._np_dtype).reshape(self.shape)

    def _at(self, which: _AtPoint, key: str, x: Any) -> tuple[np.ndarray, ...]:
        outs, seconds = which(np.asarray(x, dtype=np.float64).reshape(-1), self._x)
        if seconds is not None:
            s = self.stats[key]
            s[0] += 1
            s[1] += seconds
        return outs

    # -- cyipopt's problem protocol --------------------------------------------
    def objective(self, x: Any) -> float:
        return float(self._at(self._functions, "functions", x)[0])

    def gradient(self, x: Any) -> np.ndarray:
        return self._at(self._first, "first_derivatives", x)[0].reshape(-1).copy()

    def constraints(self, x: Any) -> np.ndarray:
        if not self.m:
            return np.zeros(0)
        return self._at(self._functions, "functions", x)[1].reshape(-1).copy()

    def jacobianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        return self._jac_rows, self._jac_cols

    def jacobian(self, x: Any) -> np.ndarray:
        if self.jac is None:  # no constraints
            return np.zeros(0)
        return self._at(self._first, "first_derivatives", x)[1].copy()

    def hessianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        return self._hess_rows, self._hess_cols

    def hessian(self, x: Any, lagrange: Any, obj_factor: float) -> np.ndarray:
        sigma = np.asarray(obj_factor, self._np_dtype)
        lam = np.asarray(lagrange, self._np_dtype).reshape(-1)
        t = time.perf_counter()
        out = np.asarray(self._hess_values(self._x(x), sigma, lam), dtype=np.float64)
        s = self.stats["hessian"]
        s[0] += 1
        s[1] += time.perf_counter() - t
        return out

    # -- solving ----------------------------------------------------------------
    def problem(self):
        """The ``cyipopt.Problem`` (create it once, set options, call ``solve``)."""
        cyipopt = require_cyipopt()
        return cyipopt.Problem(
            n=self.n,
            m=self.m,
            problem_obj=self,
            lb=self.lb,
            ub=self.ub,
            cl=self.cl,
            cu=self.cu,
        )

    def solve(self, x0: Any = None, **options: Any) -> tuple[np.ndarray, dict]:
        """Run Ipopt from ``x0`` (default: the preparation point); ``options`` are Ipopt's.

        Ipopt is called through its C interface (:mod:`sparsediff.ipopt_capi`) when its
        shared library is found, else through cyipopt. ``info`` is cyipopt's: ``x``,
        ``g``, ``obj_val``, ``mult_g``, ``mult_x_L``, ``mult_x_U``, ``status``,
        ``status_msg``."""
        from . import ipopt_capi

        start = self.x0 if x0 is None else np.asarray(x0, dtype=np.float64).reshape(-1)
        try:
            ipopt_capi.load_library()
        except ipopt_capi.IpoptLibraryError as err:
            try:
                nlp = self.problem()
            except ImportError:
                raise ImportError(f"{err}; or install cyipopt") from None
            for key, value in options.items():
                nlp.add_option(key, value)
            x, info = nlp.solve(start)
        else:
            x, info = ipopt_capi.solve(self, start, options)
        return np.asarray(x).reshape(self.shape), info

    def __repr__(self) -> str:
        return (
            f"IpoptProblem(n={self.n}, m={self.m}, jacobian nnz={self._jac_rows.size}, "
            f"hessian (lower) nnz={self._hess_rows.size}, passes: "
            f"{0 if self.jac is None else self.jac.num_colors} Jacobian, "
            f"{self.hess.num_colors} Hessian)"
        )


class _AtPoint:
    """A jitted function of ``x`` whose host results at the last point are kept:
    Ipopt asks for several of them at one point, in separate callbacks."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.x: np.ndarray | None = None
        self.outs: tuple[np.ndarray, ...] = ()

    def __call__(self, x: np.ndarray, shaped: Callable) -> tuple[tuple[np.ndarray, ...], Any]:
        """``(results at x, seconds spent)``, the seconds None when they were kept."""
        if self.x is not None and np.array_equal(self.x, x):
            return self.outs, None
        t = time.perf_counter()
        outs = self.fn(shaped(x))
        self.outs = tuple(np.asarray(o, np.float64) for o in outs)
        self.x = x.copy()
        return self.outs, time.perf_counter() - t
