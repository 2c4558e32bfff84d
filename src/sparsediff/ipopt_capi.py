"""Ipopt through its C interface (``IpStdCInterface.h``), called with ctypes.

:class:`~sparsediff.ipopt.IpoptProblem` solves with the Ipopt shared library
directly: nothing to compile (no cyipopt build against Ipopt's headers), and
nothing imported beyond ctypes and numpy (cyipopt imports ``scipy.optimize``,
about a quarter of a second). The library is found by
``SPARSEDIFF_IPOPT_LIBRARY`` (a path), else by ``ctypes.util.find_library``
(``libipopt.so.*``, e.g. Debian's ``coinor-libipopt1v5`` or conda-forge's
``ipopt``), else in the folder of an installed ``casadi`` package, whose wheels
carry an Ipopt library with MUMPS (found without importing casadi).

The callbacks read Ipopt's arrays as numpy views and write the results into
Ipopt's buffers; an exception inside one is kept, Ipopt is told that the
evaluation failed, and the exception is raised again when ``solve`` returns.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "load_library",
    "library_path",
    "library_version",
    "casadi_library",
    "solve",
    "STATUS_MESSAGES",
    "IpoptLibraryError",
]

#: ``ApplicationReturnStatus`` of Ipopt's C interface
STATUS_MESSAGES = {
    0: "Solve_Succeeded",
    1: "Solved_To_Acceptable_Level",
    2: "Infeasible_Problem_Detected",
    3: "Search_Direction_Becomes_Too_Small",
    4: "Diverging_Iterates",
    5: "User_Requested_Stop",
    6: "Feasible_Point_Found",
    -1: "Maximum_Iterations_Exceeded",
    -2: "Restoration_Failed",
    -3: "Error_In_Step_Computation",
    -4: "Maximum_CpuTime_Exceeded",
    -10: "Not_Enough_Degrees_Of_Freedom",
    -11: "Invalid_Problem_Definition",
    -12: "Invalid_Option",
    -13: "Invalid_Number_Detected",
    -100: "Unrecoverable_Exception",
    -101: "NonIpopt_Exception_Thrown",
    -102: "Insufficient_Memory",
    -199: "Internal_Error",
}

_Index = ctypes.c_int
_Number = ctypes.c_double
_Bool = ctypes.c_int
_P_NUM = ctypes.POINTER(_Number)
_P_IDX = ctypes.POINTER(_Index)

_EVAL_F = ctypes.CFUNCTYPE(_Bool, _Index, _P_NUM, _Bool, _P_NUM, ctypes.c_void_p)
_EVAL_GRAD_F = ctypes.CFUNCTYPE(_Bool, _Index, _P_NUM, _Bool, _P_NUM, ctypes.c_void_p)
_EVAL_G = ctypes.CFUNCTYPE(_Bool, _Index, _P_NUM, _Bool, _Index, _P_NUM, ctypes.c_void_p)
_EVAL_JAC_G = ctypes.CFUNCTYPE(
    _Bool, _Index, _P_NUM, _Bool, _Index, _Index, _P_IDX, _P_IDX, _P_NUM, ctypes.c_void_p
)
_EVAL_H = ctypes.CFUNCTYPE(
    _Bool, _Index, _P_NUM, _Bool, _Number, _Index, _P_NUM, _Bool, _Index, _P_IDX, _P_IDX,
    _P_NUM, ctypes.c_void_p,
)  # fmt: skip


class IpoptLibraryError(ImportError):
    """The Ipopt shared library cannot be found or lacks the C interface."""


_LIBRARY: ctypes.CDLL | None = None


#: the Ipopt library in a casadi wheel (``libipopt.so`` on Linux), in order of preference
_CASADI_PATTERNS = ("libipopt.so", "libipopt*.dylib", "libipopt*.dll", "ipopt*.dll")


def casadi_library() -> str | None:
    """The Ipopt library inside an installed ``casadi`` package, if there is one (the
    package is not imported)."""
    import glob
    import importlib.util

    try:
        spec = importlib.util.find_spec("casadi")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for pattern in _CASADI_PATTERNS:
            found = sorted(glob.glob(os.path.join(glob.escape(folder), pattern)))
            if found:
                return found[0]
    return None


def library_path() -> str | None:
    """The path (or name) of the Ipopt library :func:`load_library` loads, ``None`` if none
    is found: ``SPARSEDIFF_IPOPT_LIBRARY``, the system's ``libipopt``, casadi's."""
    return (
        os.environ.get("SPARSEDIFF_IPOPT_LIBRARY")
        or ctypes.util.find_library("ipopt")
        or casadi_library()
    )


def load_library() -> ctypes.CDLL:
    """The Ipopt shared library, loaded once (see the module docstring)."""
    global _LIBRARY
    if _LIBRARY is not None:
        return _LIBRARY
    path = library_path()
    if not path:
        raise IpoptLibraryError(
            "the Ipopt library (libipopt) was not found: install it (pip install casadi, "
            "whose wheels carry one; Debian: apt-get install coinor-libipopt1v5; conda: "
            "conda install -c conda-forge ipopt) or set SPARSEDIFF_IPOPT_LIBRARY to its path"
        )
    try:
        lib = ctypes.CDLL(path)
        create = lib.CreateIpoptProblem
    except (OSError, AttributeError) as err:
        where = path
        if os.environ.get("SPARSEDIFF_IPOPT_LIBRARY") == path:
            where = f"SPARSEDIFF_IPOPT_LIBRARY={path!r}"
        raise IpoptLibraryError(f"{where} is not a usable Ipopt library: {err}") from None
    create.restype = ctypes.c_void_p
    create.argtypes = [
        _Index, _P_NUM, _P_NUM, _Index, _P_NUM, _P_NUM, _Index, _Index, _Index,
        _EVAL_F, _EVAL_G, _EVAL_GRAD_F, _EVAL_JAC_G, _EVAL_H,
    ]  # fmt: skip
    lib.FreeIpoptProblem.argtypes = [ctypes.c_void_p]
    lib.FreeIpoptProblem.restype = None
    lib.AddIpoptStrOption.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.AddIpoptNumOption.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _Number]
    lib.AddIpoptIntOption.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _Index]
    for name in ("AddIpoptStrOption", "AddIpoptNumOption", "AddIpoptIntOption"):
        getattr(lib, name).restype = _Bool
    lib.IpoptSolve.argtypes = [ctypes.c_void_p] + [_P_NUM] * 6 + [ctypes.c_void_p]
    lib.IpoptSolve.restype = ctypes.c_int
    _LIBRARY = lib
    return lib


def library_version() -> tuple[int, int, int] | None:
    """The version of the loaded Ipopt library, ``None`` where it cannot tell (Ipopt has
    ``GetIpoptVersion`` from 3.14 on)."""
    lib = load_library()
    try:
        get = lib.GetIpoptVersion
    except AttributeError:
        return None
    parts = [ctypes.c_int() for _ in range(3)]
    get.argtypes = [ctypes.POINTER(ctypes.c_int)] * 3
    get.restype = None
    get(*(ctypes.byref(p) for p in parts))
    return (parts[0].value, parts[1].value, parts[2].value)


def _doubles(values: Any, size: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(values, np.float64), (size,)))


def _ptr(a: np.ndarray) -> Any:
    return a.ctypes.data_as(_P_NUM)


def solve(problem: Any, x0: np.ndarray, options: dict[str, Any]) -> tuple[np.ndarray, dict]:
    """Run Ipopt on ``problem`` (cyipopt's problem protocol: ``objective``,
    ``gradient``, ``constraints``, ``jacobian``, ``jacobianstructure``, ``hessian``,
    ``hessianstructure``, and the bounds ``n``, ``m``, ``lb``, ``ub``, ``cl``,
    ``cu``) from ``x0``; returns ``(x, info)`` as cyipopt does."""
    lib = load_library()
    n, m = int(problem.n), int(problem.m)
    jac_rows, jac_cols = (np.asarray(a, np.int32) for a in problem.jacobianstructure())
    hess_rows, hess_cols = (np.asarray(a, np.int32) for a in problem.hessianstructure())
    errors: list[BaseException] = []

    def guarded(fn: Callable[..., None]) -> Callable[..., int]:
        def call(*args: Any) -> int:
            if errors:
                return 0
            try:
                fn(*args)
            except BaseException as err:  # noqa: BLE001 - re-raised after the solve
                errors.append(err)
                return 0
            return 1

        return call

    def view(ptr: Any, size: int) -> np.ndarray:
        return np.ctypeslib.as_array(ptr, shape=(size,)) if size else np.zeros(0)

    def eval_f(_n, x, _new, out, _data):
        out[0] = float(problem.objective(view(x, n)))

    def eval_grad_f(_n, x, _new, out, _data):
        view(out, n)[:] = problem.gradient(view(x, n))

    def eval_g(_n, x, _new, _m, out, _data):
        if m:
            view(out, m)[:] = problem.constraints(view(x, n))

    def eval_jac_g(_n, x, _new, _m, nele, rows, cols, values, _data):
        if not values:
            view_i = np.ctypeslib.as_array
            if nele:
                view_i(rows, shape=(nele,))[:] = jac_rows
                view_i(cols, shape=(nele,))[:] = jac_cols
            return
        if nele:
            view(values, nele)[:] = problem.jacobian(view(x, n))

    def eval_h(_n, x, _new, obj_factor, _m, lam, _new_lam, nele, rows, cols, values, _data):
        if not values:
            if nele:
                np.ctypeslib.as_array(rows, shape=(nele,))[:] = hess_rows
                np.ctypeslib.as_array(cols, shape=(nele,))[:] = hess_cols
            return
        if nele:
            multipliers = view(lam, m) if m else np.zeros(0)
            view(values, nele)[:] = problem.hessian(view(x, n), multipliers, obj_factor)

    callbacks = (
        _EVAL_F(guarded(eval_f)),
        _EVAL_G(guarded(eval_g)),
        _EVAL_GRAD_F(guarded(eval_grad_f)),
        _EVAL_JAC_G(guarded(eval_jac_g)),
        _EVAL_H(guarded(eval_h)),
    )
    bounds = [
        _doubles(problem.lb, n), _doubles(problem.ub, n),
        _doubles(problem.cl, m), _doubles(problem.cu, m),
    ]  # fmt: skip
    handle = lib.CreateIpoptProblem(
        n, *(_ptr(b) for b in bounds[:2]), m, *(_ptr(b) for b in bounds[2:]),
        int(jac_rows.size), int(hess_rows.size), 0, *callbacks,
    )  # fmt: skip
    if not handle:
        raise ValueError("Ipopt refused the problem definition (CreateIpoptProblem failed)")
    try:
        for key, value in options.items():
            _set_option(lib, handle, key, value)
        x = _doubles(x0, n).copy()
        g = np.zeros(m)
        obj = np.zeros(1)
        mult_g, mult_xl, mult_xu = np.zeros(m), np.zeros(n), np.zeros(n)
        status = lib.IpoptSolve(
            handle, _ptr(x), _ptr(g), _ptr(obj), _ptr(mult_g), _ptr(mult_xl), _ptr(mult_xu), None
        )
    finally:
        lib.FreeIpoptProblem(handle)
    if errors:
        raise errors[0]
    info = {
        "x": x,
        "g": g,
        "obj_val": float(obj[0]),
        "mult_g": mult_g,
        "mult_x_L": mult_xl,
        "mult_x_U": mult_xu,
        "status": int(status),
        "status_msg": STATUS_MESSAGES.get(int(status), f"status {status}").encode(),
    }
    return x, info


def _set_option(lib: ctypes.CDLL, handle: Any, key: str, value: Any) -> None:
    name = str(key).encode()
    if isinstance(value, bool) or isinstance(value, str | bytes):
        text = ("yes" if value else "no") if isinstance(value, bool) else value
        ok = lib.AddIpoptStrOption(handle, name, text.encode() if isinstance(text, str) else text)
    elif isinstance(value, int | np.integer):
        ok = lib.AddIpoptIntOption(handle, name, int(value))
    elif isinstance(value, float | np.floating):
        ok = lib.AddIpoptNumOption(handle, name, float(value))
    else:
        raise TypeError(f"Ipopt option {key}={value!r}: expected a str, int or float")
    if not ok:
        raise ValueError(f"Ipopt rejected the option {key}={value!r} (unknown name or bad value)")
