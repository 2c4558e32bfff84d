"""The on-disk caches: where they live, the switch, chosen colorings, JAX's compilation cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff import cache
from sparsediff.evaluation import modes


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Caching on, in a temporary directory; JAX's cache settings restored afterwards."""
    old_dir = jax.config.jax_compilation_cache_dir
    old_min = jax.config.jax_persistent_cache_min_compile_time_secs
    monkeypatch.setenv("SPARSEDIFF_CACHE", str(tmp_path))
    yield tmp_path
    cache.set_cache(True)
    jax.config.update("jax_compilation_cache_dir", old_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", old_min)
    monkeypatch.setattr(cache, "_jax_dir_ours", None)


def test_directory_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPARSEDIFF_CACHE", str(tmp_path / "c"))
    assert cache.cache_directory() == tmp_path / "c"
    for off in ("0", "off", "OFF", "no", "false", ""):
        monkeypatch.setenv("SPARSEDIFF_CACHE", off)
        assert cache.cache_directory() is None
    monkeypatch.delenv("SPARSEDIFF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_directory() == tmp_path / "xdg" / "sparsediff"


def test_set_cache_overrides_and_restores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPARSEDIFF_CACHE", "off")
    try:
        assert sd.set_cache(tmp_path) == tmp_path
        assert cache.cache_directory() == tmp_path
        assert sd.set_cache(False) is None
        assert cache.cache_directory() is None
        assert sd.set_cache(True) is None  # back to the environment: off
        with pytest.raises(TypeError, match="set_cache takes a path"):
            sd.set_cache(3)  # type: ignore[arg-type]
    finally:
        cache.set_cache(True)


def _tridiagonal(n: int) -> sd.SparsityPattern:
    return sd.SparsityPattern.from_dense(
        np.eye(n, dtype=bool) | np.eye(n, k=1, dtype=bool) | np.eye(n, k=-1, dtype=bool)
    )


def test_a_choice_is_computed_once_then_read(cache_dir: Path, monkeypatch) -> None:
    calls = []
    real = modes.choose
    monkeypatch.setattr(modes, "choose", lambda *a, **k: calls.append(1) or real(*a, **k))
    p = _tridiagonal(12)
    first = modes.choose_cached(p, "hessian", None)
    second = modes.choose_cached(p, "hessian", None)
    assert len(calls) == 1
    assert len(list((cache_dir / "colorings").glob("*.npz"))) == 1
    assert second.mode == first.mode
    assert np.array_equal(second.coloring.plan.direct_src, first.coloring.plan.direct_src)
    # another question about the same pattern is another entry
    modes.choose_cached(p, "jacobian", None)
    assert len(calls) == 2
    # a dense choice is cached too
    dense = sd.SparsityPattern.from_dense(np.ones((5, 5), dtype=bool))
    assert modes.choose_cached(dense, "jacobian", None).mode.startswith("dense")
    assert modes.choose_cached(dense, "jacobian", None).coloring is None
    assert len(calls) == 3


def test_damaged_or_foreign_entries_are_recomputed(cache_dir: Path, monkeypatch) -> None:
    p = _tridiagonal(10)
    modes.choose_cached(p, "jacobian", None)
    (entry,) = (cache_dir / "colorings").glob("*.npz")
    entry.write_bytes(b"not an archive")
    calls = []
    real = modes.choose
    monkeypatch.setattr(modes, "choose", lambda *a, **k: calls.append(1) or real(*a, **k))
    c = modes.choose_cached(p, "jacobian", None)
    assert calls == [1] and c.coloring is not None and c.coloring.num_colors == 3
    # an entry holding another pattern's coloring (a collision, a copied file) is not used
    other = real(sd.SparsityPattern.from_dense(np.eye(10, dtype=bool)), "jacobian", None)
    sd.save_coloring(other.coloring, entry)
    c = modes.choose_cached(p, "jacobian", None)
    assert calls == [1, 1] and c.coloring.num_colors == 3


def test_unwritable_directory_is_skipped(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SPARSEDIFF_CACHE", str(blocker / "below"))  # cannot be created
    c = modes.choose_cached(_tridiagonal(6), "jacobian", None)
    assert c.coloring.num_colors == 3


def test_derivatives_with_the_cache_equal_dense(cache_dir: Path) -> None:
    def f(x):
        return jnp.sin(x[1:]) * x[:-1] ** 2

    x = jnp.linspace(0.1, 1.0, 9)
    for _ in range(2):  # cold, then from the cache
        d = sd.jacobian(f, x)
        np.testing.assert_allclose(d(x).todense(), jax.jacfwd(f)(x), rtol=1e-6)
    assert jax.config.jax_compilation_cache_dir == str(cache_dir / "xla")


def test_compilation_cache_leaves_the_programs_choice(cache_dir: Path, tmp_path: Path) -> None:
    mine = str(tmp_path / "mine")
    jax.config.update("jax_compilation_cache_dir", mine)
    cache.enable_compilation_cache()
    assert jax.config.jax_compilation_cache_dir == mine
    cache.set_cache(False)
    assert jax.config.jax_compilation_cache_dir == mine  # not ours to turn off


def test_compilation_cache_on_then_off(cache_dir: Path) -> None:
    jax.config.update("jax_compilation_cache_dir", None)
    cache.enable_compilation_cache()
    assert jax.config.jax_compilation_cache_dir == str(cache_dir / "xla")
    assert jax.config.jax_persistent_cache_min_compile_time_secs <= 1.0
    cache.set_cache(False)
    assert jax.config.jax_compilation_cache_dir is None


def test_second_process_reads_both_caches(tmp_path: Path) -> None:
    """A script run twice: the second run finds its coloring and its executables on disk."""
    script = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np, sparsediff as sd
        from sparsediff.evaluation import modes
        calls = []
        real = modes.choose
        modes.choose = lambda *a, **k: calls.append(1) or real(*a, **k)
        f = lambda x: jnp.sum(jnp.sin(x[1:] * x[:-1]) ** 2)
        x = jnp.linspace(0.1, 1.0, 50)
        h = sd.hessian(f, x)
        assert np.allclose(h(x).todense(), jax.hessian(f)(x), atol=1e-5)
        import sys
        print("numba" in sys.modules, "scipy.sparse.csgraph" in sys.modules, len(calls))
        """
    )
    env = {"SPARSEDIFF_CACHE": str(tmp_path), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )  # fmt: skip
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    assert [r.stdout.split()[-1] for r in runs] == ["1", "0"]  # colored once
    assert any((tmp_path / "xla").iterdir())
    # the second run reads its coloring: the coloring kernels (numba) never load
    assert runs[0].stdout.split()[0] == "True"
    assert runs[1].stdout.split()[:2] == ["False", "False"]
