"""Abstract values of the detection interpreter."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from .deps import Deps

__all__ = ["Val", "aval_shape_dtype", "is_float_dtype"]


_AVAL_CACHE: dict[Any, tuple[tuple[int, ...], Any]] = {}


def aval_shape_dtype(aval: Any) -> tuple[tuple[int, ...], Any]:
    """``(shape as a tuple of ints, dtype)`` of an abstract value (remembered per aval)."""
    try:
        return _AVAL_CACHE[aval]
    except (KeyError, TypeError):
        pass
    out = tuple(int(d) for d in getattr(aval, "shape", ())), getattr(aval, "dtype", None)
    try:
        if len(_AVAL_CACHE) < 100_000:
            _AVAL_CACHE[aval] = out
    except TypeError:
        pass
    return out


_FLOAT_CACHE: dict[Any, bool] = {}


def is_float_dtype(dtype: Any) -> bool:
    """Whether values of ``dtype`` carry derivatives (real or complex floating,
    including bfloat16 and the float8 types)."""
    if dtype is None:
        return False
    try:
        return _FLOAT_CACHE[dtype]
    except (KeyError, TypeError):
        pass
    try:
        out = bool(jax.dtypes.issubdtype(dtype, np.inexact))
    except TypeError:  # extended dtypes: PRNG keys, float0, tokens
        out = False
    try:
        _FLOAT_CACHE[dtype] = out
    except TypeError:
        pass
    return out


@dataclass(slots=True)
class Val:
    """What detection knows about one variable.

    Attributes:
        shape, dtype: the variable's abstract type.
        deps: dependency pattern on the tracked inputs (``None``: depends on none).
        known: its concrete value when it does not depend on any traced input
            (literals, constants, iota, index arithmetic), else ``None``.
        bounds: for an unknown integer value, per-element bounds ``(lo, hi)``: two
            int64 arrays broadcastable to ``shape`` (see
            :mod:`~sparsediff.detection.intervals`), or ``None``.
    """

    shape: tuple[int, ...]
    dtype: Any
    deps: Deps | None = None
    known: Any = None
    bounds: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_known(self) -> bool:
        return self.known is not None

    def known_np(self) -> np.ndarray:
        return np.asarray(self.known)
