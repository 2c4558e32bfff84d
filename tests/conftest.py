"""Suite-wide pytest hooks."""

# SPARSEDIFF_EXPECT_BACKENDS: skips for lack of an expected optional backend fail the run.
from tests.expect_backends import (  # noqa: F401
    pytest_configure,
    pytest_make_collect_report,
    pytest_report_header,
    pytest_runtest_makereport,
)
