"""SciPy adapters: JAX residuals and objectives as ``scipy.optimize`` wants them.

``scipy.optimize`` works on float64 numpy vectors and accepts sparse matrices
for Jacobians and Hessians. The classes here prepare a sparse derivative once
(detection and coloring from the starting point's shape), jit every function
once, and hand SciPy host arrays: the Jacobian as ``scipy.sparse`` CSR built
from the nonzero values and the pattern's fixed index arrays, never a dense
matrix.

* :class:`Residual` for ``least_squares`` (``fun``, ``jac``, and
  ``jac_sparsity`` for SciPy's own finite differences) and for root finding.
* :class:`Objective` for ``minimize`` (``fun``, ``jac`` = gradient, ``hess``
  sparse, e.g. ``method="trust-constr"``); value and gradient come from one
  pass and are cached for the last point, as SciPy asks for them separately.
* :class:`Constraint` for ``NonlinearConstraint`` (``fun``, sparse ``jac``, and
  ``hess(x, v)``, the sparse Hessian of ``v · c(x)``).
* :func:`least_squares`: ``scipy.optimize.least_squares`` with the above.

The functions take one array argument ``x`` (any shape; SciPy passes it
flattened, it is reshaped back) and evaluate in the dtype of ``x0`` (float64
needs ``jax.config.update("jax_enable_x64", True)``); results are returned to
SciPy as float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.sparse as sp

from .evaluation import hessian, jacobian
from .patterns import SparsityPattern

__all__ = ["Residual", "Objective", "Constraint", "least_squares"]


def _spec(x0: Any) -> tuple[tuple[int, ...], Any]:
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.result_type(float))
    return tuple(x0.shape), x0.dtype


class _Adapter:
    def __init__(self, x0: Any):
        self.shape, self.dtype = _spec(x0)
        self.n = int(np.prod(self.shape, dtype=np.int64))

    def _x(self, x: Any) -> jax.Array:
        x = np.asarray(x)
        if x.size != self.n:
            raise ValueError(f"x has {x.size} elements; this problem was prepared for {self.n}")
        return jnp.asarray(x.reshape(self.shape), self.dtype)


def _csr(values: Any, pattern: SparsityPattern) -> sp.csr_array:
    """CSR from nonzero values in the pattern's row-major order (no copy of the indices)."""
    return sp.csr_array(
        (np.asarray(values, dtype=np.float64), pattern.indices, pattern.indptr),
        shape=pattern.shape,
    )


class Residual(_Adapter):
    """A vector function ``r(x)`` with its sparse Jacobian, for SciPy.

    ``Residual(fun, x0, **options)`` prepares ``sparsediff.jacobian`` at
    ``x0``'s shape (``options``: ``mode``, ``sparsity``, ``coloring``, ...).
    ``fun(x)`` returns the flat residual, ``jac(x)`` a ``scipy.sparse``
    CSR array, ``jac_sparsity`` the pattern as a CSR array of ones (what
    ``least_squares`` takes to color its own finite differences).
    """

    def __init__(self, fun: Callable, x0: Any, **options: Any):
        super().__init__(x0)
        self.function = fun
        spec = jax.ShapeDtypeStruct(self.shape, self.dtype)
        self.derivative = jacobian(fun, spec, output_format="compressed", **options)
        self.pattern = self.derivative.sparsity
        self._fun = jax.jit(lambda x: jnp.ravel(fun(x)))

    def fun(self, x: Any) -> np.ndarray:
        return np.asarray(self._fun(self._x(x)), dtype=np.float64)

    def jac(self, x: Any, *_: Any) -> sp.csr_array:
        return _csr(self.derivative.nonzeros(self._x(x)), self.pattern)

    @property
    def jac_sparsity(self) -> sp.csr_array:
        p = self.pattern
        return sp.csr_array((np.ones(p.nnz, dtype=np.int8), p.indices, p.indptr), shape=p.shape)

    def __repr__(self) -> str:
        return f"Residual({self.derivative!r})"


class Objective(_Adapter):
    """A scalar function with its gradient and sparse Hessian, for ``minimize``.

    ``fun(x)`` and ``jac(x)`` (the gradient) share one jitted value-and-gradient
    pass, cached for the last ``x``; ``hess(x)`` returns a ``scipy.sparse`` CSR
    array (``hessp(x, p)``: a Hessian-vector product, for methods that want one).
    """

    def __init__(self, fun: Callable, x0: Any, **options: Any):
        super().__init__(x0)
        self.function = fun
        spec = jax.ShapeDtypeStruct(self.shape, self.dtype)
        self.derivative = hessian(fun, spec, output_format="compressed", **options)
        self.pattern = self.derivative.sparsity
        self._value_and_grad = jax.jit(jax.value_and_grad(lambda x: jnp.reshape(fun(x), ())))
        self._hvp = jax.jit(
            lambda x, v: jax.jvp(jax.grad(lambda z: jnp.reshape(fun(z), ())), (x,), (v,))[1]
        )
        self._last: tuple[bytes, float, np.ndarray] | None = None

    def _vg(self, x: Any) -> tuple[float, np.ndarray]:
        xa = np.ascontiguousarray(x, dtype=np.float64)
        key = xa.tobytes()
        if self._last is None or self._last[0] != key:
            v, g = self._value_and_grad(self._x(xa))
            self._last = (key, float(v), np.asarray(g, dtype=np.float64).reshape(-1))
        return self._last[1], self._last[2]

    def fun(self, x: Any) -> float:
        return self._vg(x)[0]

    def jac(self, x: Any) -> np.ndarray:
        return self._vg(x)[1]

    def hess(self, x: Any) -> sp.csr_array:
        return _csr(self.derivative.nonzeros(self._x(x)), self.pattern)

    def hessp(self, x: Any, p: Any) -> np.ndarray:
        out = self._hvp(self._x(x), self._x(p))
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def __repr__(self) -> str:
        return f"Objective({self.derivative!r})"


class Constraint(_Adapter):
    """Vector constraints ``c(x)`` for ``NonlinearConstraint``: ``fun``, sparse
    ``jac``, and ``hess(x, v)``, the sparse Hessian of ``v · c(x)`` (prepared
    once from one detection over ``x``, valid for every ``v``).

    ``as_nonlinear_constraint(lb, ub)`` builds the SciPy object.
    """

    def __init__(self, fun: Callable, x0: Any, **options: Any):
        super().__init__(x0)
        self.function = fun
        spec = jax.ShapeDtypeStruct(self.shape, self.dtype)
        self.residual = Residual(fun, x0, **options)
        self.m = self.residual.pattern.m
        v_spec = jax.ShapeDtypeStruct((self.m,), self.dtype)

        def weighted(x, v):
            return jnp.vdot(v, jnp.ravel(fun(x)))

        self.lagrangian_derivative = hessian(
            weighted, spec, v_spec, argnums=0, output_format="compressed"
        )
        self.hess_pattern = self.lagrangian_derivative.sparsity

    def fun(self, x: Any) -> np.ndarray:
        return self.residual.fun(x)

    def jac(self, x: Any) -> sp.csr_array:
        return self.residual.jac(x)

    def hess(self, x: Any, v: Any) -> sp.csr_array:
        v = jnp.asarray(np.asarray(v).reshape(-1), self.dtype)
        return _csr(self.lagrangian_derivative.nonzeros(self._x(x), v), self.hess_pattern)

    def as_nonlinear_constraint(self, lb: Any, ub: Any) -> scipy.optimize.NonlinearConstraint:
        return scipy.optimize.NonlinearConstraint(self.fun, lb, ub, jac=self.jac, hess=self.hess)


def least_squares(fun: Callable, x0: Any, *, options: dict | None = None, **kwargs: Any):
    """``scipy.optimize.least_squares`` with a prepared sparse Jacobian.

    ``options`` go to :class:`Residual` (``mode``, ``sparsity``, ...); other keyword
    arguments to SciPy. The default solver settings suit large sparse problems:
    ``method="trf"`` with ``tr_solver="lsmr"`` unless given.
    """
    res = Residual(fun, x0, **(options or {}))
    kwargs.setdefault("method", "trf")
    if kwargs["method"] == "trf":
        kwargs.setdefault("tr_solver", "lsmr")
    x0_flat = np.asarray(x0, dtype=np.float64).reshape(-1)
    out = scipy.optimize.least_squares(res.fun, x0_flat, jac=res.jac, **kwargs)
    out.x = out.x.reshape(res.shape)
    return out
