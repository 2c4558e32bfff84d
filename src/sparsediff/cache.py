"""On-disk caches that let the second run of a script skip work already done.

Two things are kept, under one directory:

* ``xla/``: JAX's persistent compilation cache. A compiled evaluation (the
  jitted derivative, the solver adapters' callbacks) is loaded instead of
  compiled again when the same program is jitted for the same shapes.
* ``colorings/``: the mode and coloring chosen for a pattern (the result of
  :func:`sparsediff.evaluation.modes.choose`), keyed by a hash of the pattern
  and the choice's inputs. A hit skips the coloring kernels (and loading them).

The directory is ``$SPARSEDIFF_CACHE`` when that is set (``0``, ``off``, ``no``,
``false`` or an empty value turn both caches off), otherwise
``$XDG_CACHE_HOME/sparsediff`` or ``~/.cache/sparsediff``; :func:`set_cache`
overrides it for the running process. Preparing a derivative turns JAX's
persistent compilation cache on in that directory, unless the program already
set ``jax_compilation_cache_dir`` itself; it also lowers JAX's threshold for
caching an executable (``jax_persistent_cache_min_compile_time_secs``) from 1 s
to :data:`MIN_COMPILE_SECONDS` when it is still at JAX's default. Both settings
are process-wide JAX options, so other jitted functions of the process are
cached as well. Deleting the directory is always safe.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MIN_COMPILE_SECONDS", "cache_directory", "set_cache", "enable_compilation_cache"]

#: executables compiled faster than this are not written to JAX's cache
MIN_COMPILE_SECONDS = 0.02

_OFF = ("0", "off", "no", "false", "")
_UNSET: Any = object()
_override: Any = _UNSET  # set_cache's choice: a Path, None (off) or _UNSET (environment)
_jax_dir_ours: str | None = None  # the jax_compilation_cache_dir this module set


def cache_directory() -> Path | None:
    """The cache directory in effect, or ``None`` when caching is off."""
    if _override is not _UNSET:
        return _override
    env = os.environ.get("SPARSEDIFF_CACHE")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sparsediff"


def set_cache(directory: str | os.PathLike[str] | bool | None = True) -> Path | None:
    """Choose where sparsediff caches compiled evaluations and colorings.

    Args:
        directory: a path; ``False`` (or ``None``) to turn caching off; ``True``
            to return to the default (``$SPARSEDIFF_CACHE`` or the user's cache
            directory).

    Returns the directory now in effect (``None``: off). When caching is turned
    off, JAX's compilation cache is turned off too if sparsediff had turned it on.
    """
    global _override
    if directory is True:
        _override = _UNSET
    elif directory is None or directory is False:
        _override = None
    elif isinstance(directory, (str, os.PathLike)):
        _override = Path(directory).expanduser()
    else:
        raise TypeError(
            f"set_cache takes a path, True (the default place) or False (off); got "
            f"{type(directory).__name__}"
        )
    if cache_directory() is None:
        _disable_ours()
    return cache_directory()


def enable_compilation_cache() -> None:
    """Turn JAX's persistent compilation cache on in ``<cache>/xla`` (see the module doc).

    Leaves a directory the program chose itself alone; cheap when already done.
    """
    global _jax_dir_ours
    import jax

    root = cache_directory()
    current = _option("jax_compilation_cache_dir")
    if root is None:
        _disable_ours()
        return
    if current is not None and current != _jax_dir_ours:
        return  # the program's own choice
    target = str(root / "xla")
    if current == target:
        return
    jax.config.update("jax_compilation_cache_dir", target)
    if _option("jax_persistent_cache_min_compile_time_secs") == 1.0:  # JAX's default
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    _jax_dir_ours = target


def _option(name: str) -> Any:
    """A JAX option's current value."""
    import jax

    return getattr(jax.config, name)


def _disable_ours() -> None:
    global _jax_dir_ours
    if _jax_dir_ours is None:
        return
    import jax

    if _option("jax_compilation_cache_dir") == _jax_dir_ours:
        jax.config.update("jax_compilation_cache_dir", None)
    _jax_dir_ours = None


# -- the chosen colorings ----------------------------------------------------------------------


def choice_key(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], *parts: Any) -> str:
    """A hex digest of a pattern's entries and the other inputs of a choice."""
    from . import __version__

    h = hashlib.sha256()
    h.update(repr((__version__, tuple(int(s) for s in shape), parts)).encode())
    for a in (rows, cols):
        a = np.ascontiguousarray(a, dtype=np.int64)
        h.update(str(a.size).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:40]


def choice_path(key: str) -> Path | None:
    """Where the choice with ``key`` lives (``None`` when caching is off)."""
    root = cache_directory()
    return None if root is None else root / "colorings" / f"{key}.npz"


def write_atomically(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` and move the file into place; errors leave no file.

    A cache that cannot be written (read-only home, full disk) is skipped silently:
    it only costs the next run the time this one spent.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(fd)
    except OSError:
        return
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError:
        pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
