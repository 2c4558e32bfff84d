"""Ipopt through its C interface (ctypes): the same answers as through cyipopt, errors
from callbacks and options surface as Python exceptions, a missing library is explained."""

from __future__ import annotations

import os
import sys

import jax
import numpy as np
import pytest

from sparsediff import ipopt_capi
from sparsediff.ipopt import IpoptProblem
from tests.interop.test_ipopt import small_nlp as small


@pytest.fixture
def library():
    try:
        return ipopt_capi.load_library()
    except ipopt_capi.IpoptLibraryError as err:
        pytest.skip(f"{err} (the ipopt backend; cyipopt needs it too)")


def _chain_script(before: str, after: str) -> str:
    """A script that solves the hanging chain with 101 points: ``before`` runs first,
    ``after`` last (``info`` holds the solve's answer)."""
    return (
        "import sys, jax; jax.config.update('jax_enable_x64', True)\n"
        + before
        + "from sparsediff.ipopt import IpoptProblem\n"
        "from sparsediff.problems import chain_bounds, chain_energy, chain_length, chain_start\n"
        "lb, ub = chain_bounds(100)\n"
        "nlp = IpoptProblem(chain_energy, chain_start(100), lambda y: chain_length(y, 4.0),"
        " lb=lb, ub=ub)\n"
        "y, info = nlp.solve(print_level=0, tol=1e-10)\n" + after
    )


def test_the_chain_solves_and_imports_no_cyipopt(library):
    import subprocess
    import sys

    script = _chain_script(
        "", "print(info['status'], round(info['obj_val'], 2), 'cyipopt' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    last = out.stdout.strip().splitlines()[-1].split()  # after Ipopt's banner
    assert last == ["0", "5.07", "False"], out.stdout + out.stderr


def test_same_solution_as_cyipopt(library):
    cyipopt = pytest.importorskip("cyipopt", reason="cyipopt is not installed")
    f, c = small()
    with jax.enable_x64(True):
        nlp = IpoptProblem(f, np.array([0.5, 0.5, 0.5, 0.1]), c, cl=[1.0, -1.0, 0.0],
                           cu=[4.0, 1.0, 0.0], lb=-2.0, ub=2.0)  # fmt: skip
        x, info = ipopt_capi.solve(nlp, nlp.x0, {"print_level": 0, "tol": 1e-10})
        problem = nlp.problem()
        problem.add_option("print_level", 0)
        problem.add_option("tol", 1e-10)
        x_ref, info_ref = problem.solve(nlp.x0)
    assert isinstance(problem, cyipopt.Problem)
    assert info["status"] == info_ref["status"] == 0
    assert info["status_msg"] == b"Solve_Succeeded"
    np.testing.assert_allclose(x, x_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(info["mult_g"], info_ref["mult_g"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(info["g"], info_ref["g"], rtol=1e-8, atol=1e-10)
    assert info["obj_val"] == pytest.approx(info_ref["obj_val"], rel=1e-10)


def test_a_failing_callback_raises_its_own_error(library):
    f, c = small()

    class Broken(Exception):
        pass

    with jax.enable_x64(True):
        nlp = IpoptProblem(f, np.array([0.5, 0.5, 0.5, 0.1]), c)

        def hessian(*_):
            raise Broken("from the Hessian callback")

        nlp.hessian = hessian
        with pytest.raises(Broken, match="from the Hessian callback"):
            nlp.solve(print_level=0)


def test_options_are_checked(library):
    f, c = small()
    with jax.enable_x64(True):
        nlp = IpoptProblem(f, np.array([0.5, 0.5, 0.5, 0.1]), c)
        with pytest.raises(ValueError, match="rejected the option no_such_option"):
            nlp.solve(print_level=0, no_such_option=3)
        with pytest.raises(TypeError, match="expected a str, int or float"):
            nlp.solve(print_level=0, tol=[1e-8])
        x, info = nlp.solve(print_level=0, max_iter=1)
        assert info["status"] == -1 and info["status_msg"] == b"Maximum_Iterations_Exceeded"


def test_a_missing_library_is_explained(monkeypatch, tmp_path):
    monkeypatch.setattr(ipopt_capi, "_LIBRARY", None)
    monkeypatch.setenv("SPARSEDIFF_IPOPT_LIBRARY", str(tmp_path / "libipopt.so"))
    with pytest.raises(ipopt_capi.IpoptLibraryError, match="is not a usable Ipopt library"):
        ipopt_capi.load_library()
    # a shell that printed casadi_library()'s None into the variable: named as such
    monkeypatch.setenv("SPARSEDIFF_IPOPT_LIBRARY", "None")
    with pytest.raises(ipopt_capi.IpoptLibraryError, match="^SPARSEDIFF_IPOPT_LIBRARY='None' is"):
        ipopt_capi.load_library()
    monkeypatch.delenv("SPARSEDIFF_IPOPT_LIBRARY")
    monkeypatch.setattr(ipopt_capi.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(ipopt_capi, "casadi_library", lambda: None)
    assert ipopt_capi.library_path() is None
    with pytest.raises(ipopt_capi.IpoptLibraryError, match="casadi.*coinor-libipopt1v5"):
        ipopt_capi.load_library()


def test_the_library_of_an_installed_casadi_is_found_last(monkeypatch, tmp_path):
    # a stand-in casadi package: found by its folder, never imported
    package = tmp_path / "casadi"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('casadi must not be imported')\n")
    (package / "libipopt.la").write_text("a libtool file, not the library\n")
    (package / "libipopt.so").write_bytes(b"not a shared library")
    monkeypatch.syspath_prepend(str(tmp_path))
    # find_spec answers from sys.modules for a package imported already (the real casadi,
    # by another test in this worker): the stand-in must be the one found
    for name in [m for m in sys.modules if m == "casadi" or m.startswith("casadi.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(ipopt_capi, "_LIBRARY", None)
    monkeypatch.delenv("SPARSEDIFF_IPOPT_LIBRARY", raising=False)
    monkeypatch.setattr(ipopt_capi.ctypes.util, "find_library", lambda name: "libipopt.so.1")
    assert ipopt_capi.library_path() == "libipopt.so.1"  # the system's comes first
    monkeypatch.setattr(ipopt_capi.ctypes.util, "find_library", lambda name: None)
    assert ipopt_capi.library_path() == str(package / "libipopt.so")
    monkeypatch.setenv("SPARSEDIFF_IPOPT_LIBRARY", "/elsewhere/libipopt.so")
    assert ipopt_capi.library_path() == "/elsewhere/libipopt.so"  # the variable comes first
    monkeypatch.delenv("SPARSEDIFF_IPOPT_LIBRARY")
    with pytest.raises(ipopt_capi.IpoptLibraryError, match="casadi/libipopt.so is not a usable"):
        ipopt_capi.load_library()


def test_the_chain_solves_with_casadis_ipopt():
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("casadi") is None:
        pytest.skip("casadi is not installed")
    script = _chain_script(
        "import ctypes.util\n"
        "ctypes.util.find_library = lambda name: None  # as on a machine without Ipopt\n",
        "from sparsediff import ipopt_capi\n"
        "print(ipopt_capi.library_path(), ipopt_capi.library_version())\n"
        "print(info['status'], round(info['obj_val'], 2), 'casadi' in sys.modules)\n",
    )
    env = {k: v for k, v in os.environ.items() if k != "SPARSEDIFF_IPOPT_LIBRARY"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    path_version, last = out.stdout.strip().splitlines()[-2:]
    path, version = path_version.split(" ", 1)
    assert os.path.basename(os.path.dirname(path)) == "casadi", path
    assert version.startswith("(3, "), version  # casadi's Ipopt is 3.14 or later
    assert last.split() == ["0", "5.07", "False"], out.stdout + out.stderr
