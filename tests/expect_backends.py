"""Optional backends that must not be skipped: ``SPARSEDIFF_EXPECT_BACKENDS``.

The tests of the optional backends skip, saying why, when their package is not installed.
Where an installation is expected to have them (CI installs them on x86-64 Linux, see
``.ci/run``), a skip would hide a broken install: with ``SPARSEDIFF_EXPECT_BACKENDS`` set to a
comma-separated list of backend names (``ipopt``, ``pardiso``), a test that skips because one
of those backends is missing is reported as failed instead, and the session header and summary
say which backends are expected.

This module is a pytest plugin, loaded by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

ENV = "SPARSEDIFF_EXPECT_BACKENDS"
#: backend name -> the package its tests name in their skip reason
BACKENDS: Mapping[str, str] = {"ipopt": "cyipopt", "pardiso": "pardiso-mkl-jax"}


def expected_backends(value: str | None) -> frozenset[str]:
    """The backend names of the variable's value; unknown names are an error (a typo would
    silently expect nothing)."""
    names = {part.strip().lower() for part in (value or "").split(",") if part.strip()}
    unknown = names - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(
            f"{ENV}: unknown backend(s) {', '.join(sorted(unknown))}; known: " + ", ".join(BACKENDS)
        )
    return frozenset(names)


def missing_backend(reason: str, expected: frozenset[str]) -> str | None:
    """The expected backend whose absence a skip reason reports, or ``None``."""
    for name in sorted(expected):
        if BACKENDS[name] in reason:
            return name
    return None


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _expected() -> frozenset[str]:
    return expected_backends(os.environ.get(ENV))


def _turn_into_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped:
        return
    reason = _skip_reason(report)
    backend = missing_backend(reason, _expected())
    if backend is None:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"{ENV} expects the optional backend {backend!r}, but this test skipped: {reason}"
    )


def pytest_configure(config: pytest.Config) -> None:
    _expected()  # reject a malformed value before any test runs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _turn_into_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    _turn_into_failure(outcome.get_result())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """A banner when backends are expected: which, and the tests that lacked them."""
    expected = _expected()
    if not expected:
        return
    lacking = [
        rep.nodeid
        for key in ("failed", "error")
        for rep in terminalreporter.stats.get(key, [])
        if "expects the optional backend" in str(getattr(rep, "longrepr", ""))
    ]
    tr = terminalreporter
    tr.section(ENV, sep="=", bold=True, red=bool(lacking), green=not lacking)
    tr.line(f"expected optional backends: {', '.join(sorted(expected))}")
    if lacking:
        tr.line(f"MISSING: {len(lacking)} tests skipped for lack of an expected backend:", red=True)
        for nodeid in lacking:
            tr.line(f"  {nodeid}", red=True)
    else:
        tr.line("none of their tests skipped for lack of them")


def pytest_report_header(config: pytest.Config) -> str | None:
    expected = _expected()
    if not expected:
        return None
    return f"{ENV}: skips for lack of {', '.join(sorted(expected))} count as failures"
