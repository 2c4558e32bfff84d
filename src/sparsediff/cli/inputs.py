"""Parsing the inputs of ``sparsediff detect``: the target function and the ``--arg`` specs."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._text import article
from .common import CLIError, UsageError, one_line

__all__ = ["ArgSpec", "parse_arg_spec", "parse_argnums", "load_target"]

_SHAPE = re.compile(r"\d+(?:(?:\s*[x×X,]\s*|\s+)\d+)*\s*,?")
_SHAPE_HELP = "use e.g. 100, 64x64, 3,4:float64, ():float32 or scalar"


@dataclass(frozen=True)
class ArgSpec:
    """One ``--arg``: a shape and a dtype name."""

    shape: tuple[int, ...]
    dtype: str

    def describe(self) -> str:
        return f"{self.dtype}[{','.join(map(str, self.shape))}]"

    @property
    def needs_x64(self) -> bool:
        """Whether the dtype is a 64-bit one, which JAX only keeps with ``jax_enable_x64``."""
        import jax.numpy as jnp

        dtype = jnp.dtype(self.dtype)
        return dtype.itemsize >= (16 if dtype.kind == "c" else 8)

    def struct(self) -> Any:
        import jax

        return jax.ShapeDtypeStruct(self.shape, self.dtype)


def _dtype_name(text: str, spec: str) -> str:
    import jax.numpy as jnp

    name = text.strip().lower()
    try:
        dtype = jnp.dtype(name)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufcV" or (dtype.kind == "V" and name != "bfloat16"):
        raise UsageError(
            f"bad --arg {spec!r}: unknown dtype {text.strip()!r} "
            "(use e.g. float32, float64, bfloat16, int32, bool)"
        )
    return dtype.name


def parse_arg_spec(spec: str) -> ArgSpec:
    """``"100"``, ``"64x64"``, ``"3,4:float64"``, ``"():float32"``, ``"scalar"`` -> ArgSpec.

    The shape is a list of non-negative integers separated by ``x``, ``×``,
    commas or spaces, optionally in parentheses or brackets; ``()``, ``[]`` or
    ``scalar`` is a 0-d array.  The dtype defaults to float32.
    """
    text = spec.strip()
    shape_text, sep, dtype_text = text.rpartition(":")
    if not sep:
        shape_text, dtype_text = text, "float32"
    elif not dtype_text.strip():
        raise UsageError(f"bad --arg {spec!r}: missing dtype after ':' ({_SHAPE_HELP})")
    body = shape_text.strip()
    if not body:
        raise UsageError(f"bad --arg {spec!r}: empty shape ({_SHAPE_HELP})")
    bracketed = body[0] in "([" or body[-1] in ")]"
    if bracketed:
        if (body[0], body[-1]) not in (("(", ")"), ("[", "]")):
            raise UsageError(f"bad --arg {spec!r}: unbalanced brackets ({_SHAPE_HELP})")
        body = body[1:-1].strip()
    if body.lower() == "scalar" or (bracketed and not body):
        shape: tuple[int, ...] = ()
    elif _SHAPE.fullmatch(body):
        shape = tuple(int(t) for t in re.findall(r"\d+", body))
    else:
        raise UsageError(
            f"bad --arg {spec!r}: the shape must be non-negative integers ({_SHAPE_HELP})"
        )
    return ArgSpec(shape, _dtype_name(dtype_text, spec))


def parse_argnums(values: list[str] | None, nargs: int) -> int | tuple[int, ...]:
    """``--argnums 0 2`` or ``--argnums 0,2`` -> ``(0, 2)``; one value -> an int."""
    if not values:
        return 0
    tokens = [t for v in values for t in re.split(r"[,\s]+", v.strip()) if t]
    out = []
    for t in tokens:
        try:
            a = int(t)
        except ValueError:
            raise UsageError(f"--argnums takes integers, got {t!r}") from None
        if not -nargs <= a < nargs:
            raise UsageError(
                f"--argnums {a} is out of range: the function gets {nargs} --arg "
                f"input{'s' if nargs != 1 else ''}"
            )
        out.append(a % nargs)
    if not out:
        raise UsageError("--argnums needs at least one integer")
    if len(set(out)) != len(out):
        raise UsageError(f"--argnums has duplicates: {' '.join(tokens)}")
    return out[0] if len(out) == 1 else tuple(out)


def _is_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def _import_file(path: str) -> Any:
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    name = "_sparsediff_target_" + re.sub(r"\W", "_", stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    if folder not in sys.path:
        sys.path.insert(0, folder)  # sibling imports work as when running the file
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - SystemExit from the file included
        sys.modules.pop(name, None)
        raise CLIError(f"importing {path!r} failed: {one_line(err)}") from err
    return module


def _import_module(name: str) -> Any:
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)  # as ``python -m``: modules of the current directory
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise UsageError(
                f"module {name!r} not found (looked in the current directory and on sys.path)"
            ) from err
        raise CLIError(f"importing module {name!r} failed: {one_line(err)}") from err
    except (TypeError, ValueError) as err:  # relative or malformed names
        raise UsageError(f"bad module name {name!r}: {one_line(err)}") from err
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - SystemExit from the module included
        raise CLIError(f"importing module {name!r} failed: {one_line(err)}") from err


def _candidates(module: Any) -> str:
    names = [
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and callable(v)
        and not inspect.isclass(v)
        and getattr(v, "__module__", None) == module.__name__
    ]
    if not names:
        return ""
    shown = ", ".join(sorted(names)[:8]) + (", …" if len(names) > 8 else "")
    return f" (it defines: {shown})"


def load_target(target: str) -> tuple[Callable, str]:
    """Import ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION``; returns ``(f, label)``.

    ``FUNCTION`` may be a dotted attribute path (``module:obj.method``).
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise UsageError(
            f"the target must be MODULE:FUNCTION or path/to/file.py:FUNCTION, got {target!r}"
        )
    module_name, attr = module_name.strip(), attr.strip()
    module = _import_file(module_name) if _is_path(module_name) else _import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = module_name if obj is module else f"{module_name}:{attr}"
            extra = _candidates(module) if obj is module else ""
            raise UsageError(f"{where!r} has no function {part!r}{extra}") from None
    if not callable(obj):
        kind = type(obj).__name__
        raise UsageError(f"{target!r} is not callable (it is {article(kind)} {kind})")
    return obj, target
