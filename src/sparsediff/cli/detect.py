"""``sparsediff detect``: the sparsity pattern of a user's function, with statistics."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import numpy as np

from .common import CLIError, UsageError, check_plot_path, format_percent, one_line, save_spy
from .inputs import load_target, parse_arg_spec, parse_argnums
from .progress import Progress

__all__ = ["run_detect", "count_equations", "pattern_statistics"]


def count_equations(jaxpr: Any) -> int:
    """Number of equations of a (closed) jaxpr, those of its sub-jaxprs included."""
    inner = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in getattr(inner, "eqns", ()):
        total += 1
        for value in eqn.params.values():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if hasattr(item, "eqns") or hasattr(getattr(item, "jaxpr", None), "eqns"):
                    total += count_equations(item)
    return total


def _min_max_mean(counts: np.ndarray) -> str:
    if counts.size == 0:
        return "-"
    return f"min {int(counts.min()):,}, max {int(counts.max()):,}, mean {counts.mean():.3g}"


def pattern_statistics(pattern: Any) -> list[tuple[str, str]]:
    """``(label, text)`` rows: shape, nonzeros and density, nonzeros per row and column."""
    m, n = pattern.shape
    return [
        ("shape", f"{m:,} × {n:,} (outputs × inputs)"),
        ("nonzeros", f"{pattern.nnz:,} (density {format_percent(pattern.density)})"),
        ("per row", _min_max_mean(np.asarray(pattern.row_counts))),
        ("per column", _min_max_mean(np.asarray(pattern.col_counts))),
    ]


def _print_rows(rows: list[tuple[str, str]], out) -> None:
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        out(f"{label + ':':<{width + 1}}  {text}")


def run_detect(args: Any, progress: Progress, out=print) -> int:
    """Run ``sparsediff detect`` for parsed arguments; returns the exit status."""
    if not args.arg:
        raise UsageError("detect needs the input shapes: give one --arg SHAPE[:DTYPE] per argument")
    specs = [parse_arg_spec(a) for a in args.arg]
    argnums = parse_argnums(args.argnums, len(specs))
    if args.plot:
        check_plot_path(args.plot)
    if args.save and not os.path.isdir(os.path.dirname(os.path.abspath(args.save))):
        raise UsageError(f"cannot save to {args.save!r}: its directory does not exist")

    with progress.stage(f"importing {args.target}"):
        f, label = load_target(args.target)
    # 64-bit inputs need jax_enable_x64 (else JAX narrows them), only while detecting.
    with _x64(any(s.needs_x64 for s in specs)):
        return _detect(args, progress, f, label, specs, argnums, out)


def _x64(enabled: bool) -> Any:
    """A context in which JAX keeps 64-bit types (a no-op when not ``enabled``)."""
    import jax

    if not enabled or jax.config.read("jax_enable_x64"):
        return contextlib.nullcontext()
    state = getattr(jax, "enable_x64", None)
    if state is not None:
        try:
            return state(True)
        except TypeError:
            pass
    import jax.experimental

    legacy = getattr(jax.experimental, "enable_x64", None)
    if legacy is None:  # pragma: no cover - very old or very new JAX
        jax.config.update("jax_enable_x64", True)
        return contextlib.nullcontext()
    return legacy()


def _detect(args: Any, progress: Progress, f: Any, label: str, specs, argnums, out) -> int:
    import jax

    structs = [s.struct() for s in specs]

    t = time.perf_counter()
    try:
        with progress.stage("tracing"):
            closed = jax.make_jaxpr(f)(*structs)
    except (KeyboardInterrupt, CLIError):
        raise
    except Exception as err:  # noqa: BLE001 - reported as one line
        shapes = ", ".join(s.describe() for s in specs)
        raise CLIError(f"{label} fails to trace with inputs ({shapes}): {one_line(err)}") from err
    t_trace = time.perf_counter() - t
    n_eqns = count_equations(closed)

    import sparsediff as sd

    detect = sd.hessian_sparsity if args.hessian else sd.jacobian_sparsity
    t = time.perf_counter()
    try:
        what = "Hessian" if args.hessian else "Jacobian"
        with progress.stage(f"detecting {what} sparsity ({n_eqns:,} equations)"):
            pattern = detect(f, *structs, argnums=argnums, has_aux=args.has_aux)
    except (KeyboardInterrupt, CLIError):
        raise
    except Exception as err:  # noqa: BLE001 - reported as one line
        raise CLIError(f"detection failed for {label}: {one_line(err)}") from err
    t_detect = time.perf_counter() - t

    what = "Hessian" if args.hessian else "Jacobian"
    wrt = (
        f"argument {argnums}"
        if isinstance(argnums, int)
        else "arguments " + ", ".join(map(str, argnums))
    )
    inputs = ", ".join(s.describe() for s in specs)
    out(f"{what} sparsity of {label} with respect to {wrt}; inputs: {inputs}")
    out(str(pattern))
    out("")
    rows = pattern_statistics(pattern)
    rows.append(
        ("time", f"{t_detect:.3f} s detection (tracing {t_trace:.3f} s, {n_eqns:,} equations)")
    )
    if args.save:
        try:
            target = pattern.save(args.save)
        except OSError as err:
            raise CLIError(f"cannot save the pattern to {args.save!r}: {one_line(err)}") from err
        rows.append(("saved", str(target)))
    if args.plot:
        with progress.stage("plotting"):
            save_spy(args.plot, pattern)
        rows.append(("plot", args.plot))
    _print_rows(rows, out)
    return 0
